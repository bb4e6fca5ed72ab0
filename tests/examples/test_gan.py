"""examples/gan.py --quick: a GAN on the 8-Gaussian ring, and one quick epoch on MNIST."""
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(*args):
    result = subprocess.run([sys.executable, "examples/gan.py", "--quick", *args], cwd=ROOT,
                            capture_output=True, text=True, timeout=120,
                            env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_gan_quick_on_the_mixture_saves_snapshots_and_spreads_the_samples_out(tmp_path):
    out = run("--out", str(tmp_path))
    for name in ("mixture.png", "mixture_losses.png"):
        assert (tmp_path / name).stat().st_size > 0, name
    # At step 0 the generator's points sit in a small blob around the origin; after
    # training they must have moved out towards the ring of radius 2.
    radii = [float(r) for r in re.findall(r"mean distance from the origin ([\d.]+)", out)]
    assert radii[0] < 0.5 and radii[-1] > 1.0, out


def test_gan_quick_on_mnist_saves_a_samples_grid_per_epoch(tmp_path):
    out = run("--dataset", "mnist", "--out", str(tmp_path))
    for name in ("mnist_epoch01.png", "mnist_losses.png"):
        assert (tmp_path / name).stat().st_size > 0, name
    losses = re.search(r"loss D ([\d.]+), loss G ([\d.]+)", out)
    assert all(0 < float(v) < 10 for v in losses.groups()), out
