"""examples/fashion_mnist.py --quick: the BatchNorm/dropout CNN on the stand-in data (the
embedded MNIST digits: Fashion-MNIST does not ship with tapegrad), saying so."""
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_fashion_mnist_quick_trains_on_the_announced_stand_in_and_saves_every_figure(tmp_path):
    result = subprocess.run([sys.executable, "examples/fashion_mnist.py", "--quick", "--out",
                             str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                            timeout=120, env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "STAND-IN" in out and "NOT a Fashion-MNIST result" in out
    for name in ("curves.png", "confusion_matrix.png", "misclassified.png", "filters.png",
                 "batchnorm.png"):
        assert (tmp_path / name).stat().st_size > 0, name
    losses = [float(v) for v in re.findall(r"epoch \d+: loss ([\d.]+)", out)]
    assert len(losses) == 2 and losses[1] < losses[0], out
    assert float(re.search(r"test accuracy: ([\d.]+)%", out).group(1)) > 70, out
