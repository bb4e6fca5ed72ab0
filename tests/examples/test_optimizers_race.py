"""examples/optimizers_race.py --quick: six optimizers on Rosenbrock, Beale and MNIST."""
import os
import re
import subprocess
import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[2]


def test_optimizers_race_quick_runs_the_race_and_saves_its_figures(tmp_path):
    result = subprocess.run([sys.executable, "examples/optimizers_race.py", "--quick", "--out",
                             str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                            timeout=120, env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr
    for name in ("trajectories.png", "race.gif", "mnist_loss.png"):
        assert (tmp_path / name).stat().st_size > 0, name
    with Image.open(tmp_path / "race.gif") as gif:
        assert gif.n_frames > 1
    # Rosenbrock starts at f(-1.5, 2) = 12.5; momentum gets well down the valley in 200 steps.
    rows = dict(re.findall(r"^  (\w+) +([\d.e+-]+) +[\d.e+-]+$", result.stdout, re.M))
    assert set(rows) == {"SGD", "Momentum", "Nesterov", "RMSprop", "Adagrad", "Adam"}
    assert float(rows["Nesterov"]) < 1.0, result.stdout
    # Every optimizer beats chance (ln 10 ≈ 2.30) on MNIST within the quick run's 30 steps.
    mnist = re.findall(r"^  (\w+) +([\d.]+)$", result.stdout, re.M)
    assert len(mnist) == 6 and all(float(loss) < 1.5 for _, loss in mnist), result.stdout
