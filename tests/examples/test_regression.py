"""examples/regression.py --quick: gradient descent by hand on autograd's gradients."""
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_example(out):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    result = subprocess.run([sys.executable, "examples/regression.py", "--quick",
                             "--out", str(out)],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_quick_run_checks_the_gradients_and_lands_on_the_least_squares_solution(tmp_path):
    stdout = run_example(tmp_path)
    for name in ["linear.png", "polynomial.png", "logistic.png"]:
        path = tmp_path / name
        assert path.is_file() and path.stat().st_size > 0, name
        assert f"saved {path}" in stdout
    # The script asserts each hand-written gradient against autograd and prints the check.
    assert stdout.count("autograd = formula") >= 7
    found = re.search(r"gradient descent: w = ([-\d.]+), b = ([-\d.]+).*"
                      r"least squares: w = ([-\d.]+), b = ([-\d.]+)", stdout)
    w, b, w_ls, b_ls = map(float, found.groups())
    assert abs(w - w_ls) < 1e-3 and abs(b - b_ls) < 1e-3
    accuracy = float(re.search(r"training accuracy ([\d.]+)%", stdout).group(1))
    assert accuracy > 80
