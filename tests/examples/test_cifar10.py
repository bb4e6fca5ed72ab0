"""examples/cifar10.py --quick: LeNet-5 and the small ResNet, one epoch on random stand-in
images (no CIFAR-10 files needed), saying so."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIGURES = ("curves.png", "confusion_matrix.png", "predictions.png", "augmentation.png",
           "filters.png")


@pytest.mark.parametrize("model", ["lenet", "resnet"])
def test_cifar10_quick_runs_the_model_on_announced_stand_in_data(model, tmp_path):
    result = subprocess.run([sys.executable, "examples/cifar10.py", "--quick", "--model", model,
                             "--out", str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                            timeout=120, env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "STAND-IN" in out and "means nothing about CIFAR-10" in out
    for name in FIGURES:
        assert (tmp_path / name).stat().st_size > 0, name
    loss = float(re.search(r"epoch 1: loss ([\d.]+)", out).group(1))
    assert 0 < loss < 5, out       # finite, and near log 10 ≈ 2.3 rather than diverged
    assert re.search(r"estimated time of one epoch on the real 50,000 \+ 10,000 images: \d+ s",
                     out), out
