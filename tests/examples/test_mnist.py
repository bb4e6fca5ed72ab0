"""examples/mnist.py --quick: LeNet-5 and the MLP on a slice of the embedded MNIST subset."""
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIGURES = ("curves.png", "lr_schedule.png", "confusion_matrix.png", "misclassified.png",
           "filters.png")


def run(*args):
    result = subprocess.run([sys.executable, "examples/mnist.py", "--quick", *args], cwd=ROOT,
                            capture_output=True, text=True, timeout=120,
                            env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr
    return result.stdout


def printed_accuracy(out):
    return float(re.search(r"test accuracy: ([\d.]+)%", out).group(1))


def test_mnist_quick_lenet_learns_the_digits_and_saves_every_figure(tmp_path):
    out = run("--model", "lenet", "--out", str(tmp_path))
    for name in FIGURES:
        assert (tmp_path / name).stat().st_size > 0, name
        assert f"saved {name[:-4]}: {tmp_path / name}" in out
    # two short epochs on 2,300 digits: far above the 10% of guessing
    assert printed_accuracy(out) > 70, out


def test_mnist_quick_mlp_learns_the_digits_and_saves_every_figure(tmp_path):
    out = run("--model", "mlp", "--out", str(tmp_path))
    for name in FIGURES:
        assert (tmp_path / name).stat().st_size > 0, name
    assert "model: mlp, 235,146 parameters" in out
    assert printed_accuracy(out) > 70, out
