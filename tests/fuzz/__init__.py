"""Differential fuzzing: random chains of tapegrad's public operations, run in tapegrad
and in PyTorch (when importable) and compared; tapegrad's own invariants are checked in
any case. ``python -m tests.fuzz --seconds 600`` runs it; see ``run.py`` for what is
compared and ``allowlist.py`` for the disagreements that stay, each with its reason.
"""
