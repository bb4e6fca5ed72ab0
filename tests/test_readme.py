"""The README's promises: its examples run, and CI runs its test command."""
import importlib.util
import io
import pathlib
import re
import tomllib

import pytest

import tapegrad as tg
import tapegrad.nn.functional as F
from tests.support import ops_on_tape

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
    if block.startswith("@operation("):  # an excerpt of an operation's source, word for word
        assert block in (ROOT / "tapegrad/autograd/ops/pointwise.py").read_text()
        return
    namespace = {}
    exec(compile(block, f"README block {index}", "exec"), namespace)
    if "w.grad = b.grad = None" in block:  # the ten-line example must actually fit its data
        assert namespace["loss"].item() < 1e-3
    if "evaluate(model, test_loader" in block:  # the MNIST example reaches what it says
        assert namespace["results"]["accuracy"] > 0.92


# -- the excerpts of the tour are regenerated here, so they cannot drift from the code -------
def text_block_after(prompt):
    """The body of the ```text block in the README that starts with the line ``prompt``."""
    start = README.index(prompt + "\n") + len(prompt) + 1
    return README[start:README.index("```", start)]


def debugging_example():
    spec = importlib.util.spec_from_file_location("debugging", ROOT / "examples" / "debugging.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_printed_tape_in_the_readme_is_what_print_graph_prints():
    loss, model = debugging_example().small_network_loss()
    printed = io.StringIO()
    tg.autograd.print_graph(loss, params=model, file=printed)
    assert text_block_after(">>> tg.autograd.print_graph(loss, params=model)") == printed.getvalue()


def test_the_tape_picture_shows_the_printed_tape():
    loss, model = debugging_example().small_network_loss()
    fig, ax = tg.autograd.draw_graph(loss, params=model)
    drawn = sorted(text.get_text().split("\n")[0] for text in ax.texts)
    printed = text_block_after(">>> tg.autograd.print_graph(loss, params=model)")
    labels = sorted(re.sub(r"^[\s│├└─]*", "", line).split("  ")[0]
                    for line in printed.splitlines())
    assert drawn == labels
    assert 'src="docs/figures/debugging/graph.png"' in README
    assert (ROOT / "docs" / "figures" / "debugging" / "graph.png").stat().st_size > 10_000


def test_the_readme_names_the_operations_a_linear_layer_records():
    weight, bias = tg.randn(3, 4, requires_grad=True), tg.randn(3, requires_grad=True)
    def recorded(x):
        return ops_on_tape(F.linear(x, weight, bias)) - {"accumulate_grad", "matrix_transpose"}
    def recorded_without_bias(x):
        return ops_on_tape(F.linear(x, weight)) - {"accumulate_grad", "matrix_transpose"}
    assert recorded(tg.randn(5, 4)) == {"addmm"}
    assert recorded(tg.randn(2, 5, 4)) == {"addmm"}
    assert recorded_without_bias(tg.randn(2, 5, 4)) == {"matmul"}
    assert "which for a batch of rows, or of sequences, is one recorded\noperation, `addmm`" in README
    assert "without a bias it\nis `matmul`" in README


def test_the_layer_picture_is_the_import_contract():
    contract = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    layers = contract["contracts"][0]["layers"]
    picture = re.search(r"```text\n(demo .*?)```", README, flags=re.S).group(1)
    drawn = ["tapegrad." + " | tapegrad.".join(re.split(r"\s{2,}", line)[0].split(" | "))
             for line in picture.splitlines() if not line.startswith(" ")]
    assert drawn == layers


def test_the_profile_in_the_readme_has_the_rows_a_profile_of_its_workload_has():
    # Times differ from run to run; the operations and their call counts may not.
    def rows(table):   # (operation, calls, backward calls)
        return {re.match(r"(.+?)\s+(\d+)\s+[\d.]+\s+(\d+)", line).groups()
                for line in table.splitlines()[1:]}
    profile = debugging_example().profile_training_steps(10)
    assert rows(text_block_after(">>> print(prof)")) == rows(str(profile))
