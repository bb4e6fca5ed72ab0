"""The corpus: scripts written for PyTorch (tests/pytorch_scripts/, each importing torch,
never tapegrad) run unmodified by ``python -m tapegrad.as_torch``, with arguments that keep
each to seconds.

Every script runs in its own process, two at a time, started the first time a test asks
for its result. They read data the way PyTorch's examples do, from ``../data``: a folder
where MNIST's and Fashion-MNIST's original files hold a few hundred digits of the MNIST
subset embedded in tapegrad. Nothing reaches the network.

A script that needs names tapegrad does not have yet is marked xfail(strict=True) with
those names: when they arrive, the mark fails and is removed.
"""
import concurrent.futures
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field

import pytest

from tapegrad.data.mnist import _load_embedded

from ..data.fakes import write_idx

SCRIPTS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                       "pytorch_scripts")
TIMEOUT = 120
FLOAT = r"[-+]?\d+\.\d+(?:e[-+]?\d+)?"


@dataclass
class Case:
    script: str
    args: list
    expect: str                  # a regular expression the output must contain
    needs: str = ""              # the names tapegrad lacks, while it lacks them
    id: str = ""
    files: list = field(default_factory=list)   # files the run must leave in its folder

    def __post_init__(self):
        self.id = self.id or self.script[:-len(".py")]


CASES = [
    Case("mnist_cnn.py", ["--epochs", "1", "--batch-size", "16", "--test-batch-size", "64",
                          "--dry-run", "--save-model"],
         rf"Train Epoch: 1 \[0/256 \(0%\)\]\tLoss: {FLOAT}.*Test set: Average loss: {FLOAT}, "
         rf"Accuracy: \d+/64", files=["mnist_cnn.pt"]),
    Case("mnist_rnn.py", ["--epochs", "1", "--batch-size", "16", "--test-batch-size", "32",
                          "--dry-run"],
         rf"Train Epoch: 1 \[0/256 \(0%\)\]\tLoss: {FLOAT}.*Test set: Average loss: {FLOAT}"),
]


@pytest.fixture(scope="session")
def workplace(tmp_path_factory):
    """A folder of run folders, one per script, beside ``data/`` (their ``../data``) with
    tiny MNIST and Fashion-MNIST."""
    root = tmp_path_factory.mktemp("pytorch_scripts")
    train_images, train_labels = _load_embedded(train=True)
    test_images, test_labels = _load_embedded(train=False)
    picks = {"train": slice(0, 256 * 39, 39), "t10k": slice(0, 64 * 31, 31)}  # all ten digits
    for name in ("MNIST", "FashionMNIST"):
        raw = root / "data" / name / "raw"
        raw.mkdir(parents=True)
        for split, images, labels in (("train", train_images, train_labels),
                                      ("t10k", test_images, test_labels)):
            write_idx(raw / f"{split}-images-idx3-ubyte", images[picks[split]], compress=False)
            write_idx(raw / f"{split}-labels-idx1-ubyte", labels[picks[split]], compress=False)
    return root


class Runs:
    """Each case's process, started on first request, at most two at a time."""

    def __init__(self, root):
        self.root = root
        self.pool = concurrent.futures.ThreadPoolExecutor(max_workers=2)
        self.futures = {}

    def start(self, case, python_args=("-m", "tapegrad.as_torch"), tag="tapegrad"):
        key = (case.id, tag)
        if key not in self.futures:
            folder = self.root / f"{case.id}-{tag}"
            folder.mkdir(parents=True)
            command = [sys.executable, *python_args, os.path.join(SCRIPTS, case.script),
                       *case.args]
            self.futures[key] = self.pool.submit(_run, command, folder)
        return self.futures[key]


def _run(command, folder):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", MPLBACKEND="Agg")
    try:
        result = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True,
                                timeout=TIMEOUT, check=False)
    except subprocess.TimeoutExpired as error:
        return folder, None, f"timed out after {TIMEOUT} s\n{error.stdout}\n{error.stderr}"
    return folder, result.returncode, result.stdout + result.stderr


@pytest.fixture(scope="session")
def runs(workplace, request):
    runs = Runs(workplace)
    for item in request.session.items:   # start every selected script now, to run in pairs
        callspec = getattr(item, "callspec", None)
        if callspec is not None and isinstance(callspec.params.get("case"), Case):
            if item.originalname == "test_the_pytorch_script_runs_unmodified_on_tapegrad":
                runs.start(callspec.params["case"])
    yield runs
    runs.pool.shutdown(cancel_futures=True)


def _param(case):
    marks = [pytest.mark.xfail(strict=True, reason=f"needs {case.needs}")] if case.needs else []
    return pytest.param(case, id=case.id, marks=marks)


@pytest.mark.parametrize("case", [_param(case) for case in CASES])
def test_the_pytorch_script_runs_unmodified_on_tapegrad(runs, case):
    folder, returncode, output = runs.start(case).result()
    assert returncode == 0, output[-3000:]
    assert re.search(case.expect, output, re.DOTALL), output[-3000:]
    for name in case.files:
        assert (folder / name).is_file(), f"{case.script} did not write {name}"
