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
import importlib.util
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field

import numpy as np
import pytest

from tapegrad.data.mnist import _load_embedded

from ..data.fakes import write_idx

SCRIPTS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                       "pytorch_scripts")
TIMEOUT = 120
FLOAT = r"[-+]?\d+\.\d+(?:e[-+]?\d+)?"
HAVE_TORCH = importlib.util.find_spec("torch") is not None


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


WORD_LM = ["--data", "../data/words", "--emsize", "16", "--nhid", "16", "--nlayers", "2",
           "--epochs", "1", "--batch_size", "4", "--bptt", "8", "--log-interval", "1"]
WORD_LM_EXPECT = (rf"\| epoch   1 \|     0/    3 batches \| lr 20.00 .*loss +{FLOAT}.*"
                  rf"\| end of epoch   1 .* valid loss +{FLOAT}.*\| End of training \| test loss +"
                  rf"{FLOAT}")
MNIST_EXPECT = rf"Train Epoch: 1 \[0/260 \(0%\)\]\tLoss: {FLOAT}.*Test set: Average loss: {FLOAT}"
CARTPOLE = ["--episodes", "2", "--log-interval", "1", "--max-steps", "30"]

CASES = [
    Case("mnist_cnn.py", ["--epochs", "1", "--batch-size", "16", "--test-batch-size", "32",
                          "--dry-run", "--save-model"],
         MNIST_EXPECT + r", Accuracy: \d+/40", files=["mnist_cnn.pt"]),
    Case("mnist_rnn.py", ["--epochs", "1", "--batch-size", "16", "--test-batch-size", "32",
                          "--dry-run"], MNIST_EXPECT),
    Case("polynomial_regression.py", ["--max-steps", "30"],
         rf"Loss: {FLOAT} after 30 batches\n==> Learned function:\ty = [-+]\d"),
    Case("legendre_autograd_function.py", ["--steps", "30", "--log-interval", "10"],
         r"step 0 loss 461\.90.*step 29 loss 273\.91\d*\nResult: y = "),
    Case("time_sequence_prediction.py", ["--steps", "1", "--waves", "6", "--length", "16",
                                         "--hidden", "8", "--future", "5",
                                         "--init-weights", "../init-time-sequence.npz"],
         rf"STEP:  0\nloss: {FLOAT}.*test loss: {FLOAT}\npredicted the next 5 points",
         ),
    Case("vae.py", ["--epochs", "1", "--batch-size", "32", "--max-batches", "2"],
         rf"Train Epoch: 1 \[0/260 \(0%\)\]\tLoss: {FLOAT}.*====> Test set loss: {FLOAT}",
         files=["reconstruction_1.png", "sample_1.png"]),
    Case("dcgan.py", ["--dry-run", "--batchSize", "4", "--imageSize", "64", "--nz", "8",
                      "--ngf", "4", "--ndf", "4", "--fake-size", "8", "--manualSeed", "1"],
         rf"\[0/1\]\[0/2\] Loss_D: {FLOAT} Loss_G: {FLOAT}",
         files=["fake_samples_epoch_000.png", "netG_epoch_0.pth", "netD_epoch_0.pth"]),
    Case("siamese_network.py", ["--epochs", "1", "--batch-size", "4", "--test-batch-size", "4",
                                "--dry-run"], MNIST_EXPECT.replace("Epoch: 1 ", "Epoch: 1 ")),
    Case("forward_forward.py", ["--epochs", "2", "--log-interval", "1", "--train-size", "64",
                                "--test-size", "32", "--dims", "784", "32", "32"],
         rf"training layer:  1\nLoss:  {FLOAT}.*test error: {FLOAT}"),
    Case("mnist_hogwild.py", ["--epochs", "1", "--batch-size", "16", "--num-processes", "2",
                              "--dry-run"],
         rf"Train Epoch: 1 \[0/260 \(0%\)\]\tLoss: {FLOAT}.*Test set: Average loss: {FLOAT}"),
    Case("reinforce.py", CARTPOLE, rf"Episode 2\tLast reward: {FLOAT}\tAverage reward: {FLOAT}"),
    Case("actor_critic.py", CARTPOLE,
         rf"Episode 2\tLast reward: {FLOAT}\tAverage reward: {FLOAT}"),
    Case("fashion_mnist_quickstart.py", ["--epochs", "1", "--batch-size", "32"],
         rf"Shape of X \[N, C, H, W\]: \w+\.Size\(\[32, 1, 28, 28\]\).*loss: {FLOAT}  "
         rf"\[   32/  260\].*Accuracy: {FLOAT}%.*Predicted: \"", files=["model.pth"]),
    Case("nn_tutorial.py", ["--epochs", "1", "--bs", "64"],
         rf"from scratch, first loss: {FLOAT}.*with F.cross_entropy: {FLOAT}.*"
         rf"0 validation loss: {FLOAT}.*0 validation loss: {FLOAT}"),
    Case("checkpoint_resume.py", ["--steps", "2"], r"the resumed run continues exactly",
         files=["checkpoint.pt"]),
    Case("imbalanced_tensorboard.py", ["--steps", "12", "--batch-size", "32", "--keep-odd", "5"],
         rf"examples per digit: .*1: 5,.*share of odd digits drawn in one epoch: 0\.\d\d\n"
         rf"step 12: loss {FLOAT}\nwrote runs/imbalanced/grid.png: \(1, \d+, \d+\) \w+\.uint8\n"
         rf"event files: \['events\.out\.tfevents\.",
         files=["runs/imbalanced/grid.png"]),
] + [
    # LSTM without dropout and from weights written once: the run compared with PyTorch's
    Case("word_language_model.py", WORD_LM + ["--model", model] + (
        ["--dropout", "0", "--init-weights", "../init-word-lm-LSTM.npz"] if model == "LSTM"
        else ["--dropout", "0.2"]), WORD_LM_EXPECT,
         id=f"word_language_model[{model}]", files=["model.pt"])
    for model in ("RNN_TANH", "LSTM", "GRU", "Transformer")
]

WORDS = ("the cat sat on a mat and a dog ran to the park with a red ball in the sun while "
         "the birds sang").split()


@pytest.fixture(scope="session")
def workplace(tmp_path_factory):
    """A folder of run folders, one per script, beside ``data/`` (their ``../data``) with
    tiny MNIST and Fashion-MNIST."""
    root = tmp_path_factory.mktemp("pytorch_scripts")
    train_images, train_labels = _load_embedded(train=True)
    test_images, test_labels = _load_embedded(train=False)
    per_digit = {"train": 26, "t10k": 4}   # 260 and 40 images, each digit as often
    for name in ("MNIST", "FashionMNIST"):
        raw = root / "data" / name / "raw"
        raw.mkdir(parents=True)
        for split, images, labels in (("train", train_images, train_labels),
                                      ("t10k", test_images, test_labels)):
            picks = np.sort(np.concatenate([np.flatnonzero(labels == digit)[:per_digit[split]]
                                            for digit in range(10)]))
            write_idx(raw / f"{split}-images-idx3-ubyte", images[picks], compress=False)
            write_idx(raw / f"{split}-labels-idx1-ubyte", labels[picks], compress=False)
    words = root / "data" / "words"
    words.mkdir()
    for split, lines in (("train", 16), ("valid", 4), ("test", 4)):
        # a fixed text: sentence i is the words i, i+1, …, i+5 of WORDS (cyclically)
        text = "".join(" ".join(WORDS[(i + j) % len(WORDS)] for j in range(6)) + "\n"
                       for i in range(lines))
        (words / f"{split}.txt").write_text(text)
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
            # a second run of a script waits for the first, whose initial weights it may load
            first = next((f for (i, _), f in self.futures.items() if i == case.id), None)
            self.futures[key] = self.pool.submit(_run_after, first, command, folder)
        return self.futures[key]


def _run_after(first, command, folder):
    if first is not None:
        first.result()
    return _run(command, folder)


def _run(command, folder):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MPLBACKEND="Agg")
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
        if callspec is None:
            continue
        if isinstance(callspec.params.get("case"), Case):
            runs.start(callspec.params["case"])
        if isinstance(callspec.params.get("comparison"), Comparison) and HAVE_TORCH:
            runs.start(callspec.params["comparison"].case, python_args=(), tag="torch")
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


# ---------------------------------------------------------------- against PyTorch itself
@dataclass
class Comparison:
    case: Case
    losses: str            # a regular expression whose one group is a loss
    needs: str = ""


CASE = {case.id: case for case in CASES}
# Each compares a corpus run with the same script run by PyTorch. Where the script takes
# --init-weights, the first run writes the weights with the script's own code and the
# second loads them, so both start equal.
COMPARISONS = [
    Comparison(CASE["legendre_autograd_function"], rf"loss ({FLOAT})"),
    Comparison(CASE["time_sequence_prediction"], rf"loss: ({FLOAT})"),
    Comparison(CASE["word_language_model[LSTM]"], rf"loss +({FLOAT})"),
]


@pytest.mark.parametrize("comparison", [
    pytest.param(c, id=c.case.id, marks=[pytest.mark.xfail(strict=True, reason=f"needs {c.needs}")]
                 if c.needs else []) for c in COMPARISONS])
def test_the_script_gives_pytorchs_losses(runs, comparison):
    pytest.importorskip("torch")
    case = comparison.case
    _, code, output = runs.start(case).result()
    assert code == 0, output[-3000:]
    _, torch_code, torch_output = runs.start(case, python_args=(), tag="torch").result()
    assert torch_code == 0, torch_output[-3000:]
    expected = [float(v) for v in re.findall(comparison.losses, torch_output)]
    got = [float(v) for v in re.findall(comparison.losses, output)]
    assert len(expected) >= 3 and len(got) == len(expected), (expected, got)
    assert got == pytest.approx(expected, rel=1e-4, abs=1e-6)
