"""The README's promises: its examples run, and CI runs its test command."""
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def python_blocks():
    return re.findall(r"```python\n(.*?)```", README, flags=re.S)


def test_ci_runs_exactly_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    command = 'python -m pip install -e ".[test]" && python -m pytest -q'
    assert command in README
    assert command.replace("install -e", "install -q -e") in ci


@pytest.mark.parametrize("index", range(len(python_blocks())))
def test_readme_python_examples_run(index):
    block = python_blocks()[index]
    if "def tanh(input):" in block:  # an excerpt of pointwise.py, checked below instead
        assert block in (ROOT / "tapegrad/autograd/ops/pointwise.py").read_text()
        return
    namespace = {}
    exec(compile(block, f"README block {index}", "exec"), namespace)
    if "w.grad = b.grad = None" in block:  # the ten-line example must actually fit its data
        assert namespace["loss"].item() < 1e-3
    if "evaluate(model, test_loader" in block:  # the MNIST example reaches what it says
        assert namespace["results"]["accuracy"] > 0.92
