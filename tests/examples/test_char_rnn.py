"""examples/char_rnn.py --quick: a char-LSTM trains a few epochs on the embedded sonnets."""
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_char_rnn_quick_learns_and_saves_its_loss_curve_and_samples(tmp_path):
    result = subprocess.run([sys.executable, "examples/char_rnn.py", "--quick", "--out",
                             str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                            timeout=120, env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr
    for name in ("loss.png", "samples.txt"):
        assert (tmp_path / name).stat().st_size > 0, name
    # A uniform guess over the sonnets' 52 characters scores ln 52 ≈ 3.95 nats.
    final = float(re.search(r"final train loss ([\d.]+)", result.stdout).group(1))
    assert final < 3.0, result.stdout
    samples = (tmp_path / "samples.txt").read_text(encoding="utf-8")
    assert samples.count("######## epoch") == 5
    assert "=== temperature 0.8 ===" in samples
