"""`python -m tapegrad.demo --quick`: the main job runs end to end in a few seconds, says
what it did, and writes every file it lists."""
import os
import re
import subprocess
import sys

import pytest

import tapegrad as tg
from tapegrad.demo import lenet5

FILES = ["curves.png", "confusion_matrix.png", "misclassified.png", "filters.png",
         "explanations.png", "lenet5.tg"]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """One quick run (a slice of the embedded MNIST subset, 1 epoch): (out folder, result)."""
    cwd = tmp_path_factory.mktemp("demo")
    out = cwd / "out"
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    result = subprocess.run([sys.executable, "-m", "tapegrad.demo", "--quick", "--out", str(out)],
                            cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return out, result


def test_quick_demo_prints_the_plan_then_a_test_accuracy(quick_run):
    _, result = quick_run
    stdout = result.stdout
    assert stdout.index("LeNet-5") < stdout.index("test accuracy")
    accuracy = re.search(r"test accuracy: (\d+\.\d+)% \((\d+) of (\d+) test digits", stdout)
    assert accuracy is not None, stdout
    percent, right, total = float(accuracy.group(1)), int(accuracy.group(2)), \
        int(accuracy.group(3))
    assert 0.0 <= percent <= 100.0
    assert percent == pytest.approx(100 * right / total, abs=0.01)
    assert "epoch 1/1" in result.stderr  # the progress bar, on stderr


def test_quick_demo_writes_every_file_it_lists(quick_run):
    out, result = quick_run
    for name in FILES:
        path = out / name
        assert path.is_file() and path.stat().st_size > 0, name
        assert str(path) in result.stdout, f"{name} is not listed in the output"
    assert sorted(os.listdir(out)) == sorted(FILES)


def test_the_saved_weights_load_back_into_lenet5(quick_run):
    out, _ = quick_run
    model = lenet5()
    model.load_state_dict(tg.load(out / "lenet5.tg"))
    assert model(tg.rand(2, 1, 28, 28)).shape == (2, 10)
