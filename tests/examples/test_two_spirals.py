"""examples/two_spirals.py --quick: an MLP separates two spirals; the training is saved as a GIF."""
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_example(out):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    result = subprocess.run([sys.executable, "examples/two_spirals.py", "--quick",
                             "--out", str(out)],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_quick_run_saves_an_animated_gif_and_separates_the_spirals(tmp_path):
    stdout = run_example(tmp_path)
    for name in ["two_spirals.gif", "boundary.png", "loss.png"]:
        path = tmp_path / name
        assert path.is_file() and path.stat().st_size > 0, name
        assert f"saved {path}" in stdout
    assert (tmp_path / "two_spirals.gif").read_bytes()[:4] == b"GIF8"
    train, test = re.search(r"train accuracy ([\d.]+)%, test accuracy ([\d.]+)%", stdout).groups()
    assert float(train) > 80 and float(test) > 75
