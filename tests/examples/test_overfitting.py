"""examples/overfitting.py --quick: train and validation losses for L2 strengths and dropout."""
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_example(out):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    result = subprocess.run([sys.executable, "examples/overfitting.py", "--quick",
                             "--out", str(out)],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_quick_run_saves_boundaries_and_curves_and_a_stronger_penalty_fits_less(tmp_path):
    stdout = run_example(tmp_path)
    for name in ["boundaries.png", "curves.png"]:
        path = tmp_path / name
        assert path.is_file() and path.stat().st_size > 0, name
        assert f"saved {path}" in stdout
    # One row per setting: dropout, λ, train loss, val loss, best val loss (step), val accuracy.
    number = r"\s+([\d.e-]+)"
    rows = re.findall(rf"^{number}{number}{number}{number}\s+[\d.]+ \(\s*\d+\)\s+([\d.]+)%",
                      stdout, flags=re.MULTILINE)
    assert len(rows) == 8
    train_loss = {(float(p), float(wd)): float(train) for p, wd, train, _, _ in rows}
    # Without dropout, a stronger L2 penalty fits the training points less closely.
    assert train_loss[0.0, 0.0] < train_loss[0.0, 1e-2] < train_loss[0.0, 1e-1]
    assert all(float(acc) > 75 for *_, acc in rows)
