"""examples/debugging.py runs, finds the planted problems, and saves the tape drawing."""
import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_debugging_example_quick(tmp_path):
    result = subprocess.run(
        [sys.executable, "examples/debugging.py", "--quick", "--out", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "anomaly: 'exp' produced NaN or infinity from finite inputs" in out
    assert "probabilities = logits.exp() / logits.exp().sum(1, keepdim=True)" in out
    assert "saved by 'sigmoid' at version 0" in out and "changed by 'mul_'" in out
    assert "finite gradient: True" in out
    assert (tmp_path / "graph.png").stat().st_size > 1000
