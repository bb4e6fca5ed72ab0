"""``--check``: the torch names a script uses that tapegrad lacks, with file and line,
found by reading the script, never by running it."""
import os
import subprocess
import sys
import textwrap

import pytest

from tapegrad.as_torch.check import missing_names, resolve

from .test_pytorch_scripts import CASES, SCRIPTS

SCRIPT = textwrap.dedent("""\
    import torch as t
    import torch.nn as nn
    import torch.nn.functional as F
    from torch.optim import Adam, NotAnOptimizer
    from torch.utils.data import DataLoader
    import torch.not_a_module
    import torchvision.not_a_module


    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(2, 2)
            self.q = nn.NotALayer(3)

        def forward(self, x):
            y = F.relu(self.fc(x)).not_a_method()
            return F.not_a_function(y) + t.not_a_function(y).view(-1)


    t.backends.cudnn.benchmark = True
    device = t.device("cuda" if t.cuda.is_available() else "cpu")
    t.nn.init.zeros_(Net().fc.weight)
    print(t.__version__)
""")


@pytest.fixture(autouse=True)
def hook(torch_as_tapegrad):
    """The check looks names up through the hook: installed for each test, then removed."""


def test_it_lists_each_missing_name_with_its_line():
    assert missing_names(SCRIPT) == [
        (4, "torch.optim.NotAnOptimizer"),
        (6, "torch.not_a_module"),
        (7, "torchvision.not_a_module"),
        (14, "torch.nn.NotALayer"),
        (18, "torch.nn.functional.not_a_function"),
        (18, "torch.not_a_function"),
    ]


def test_methods_called_on_objects_the_script_makes_are_not_guessed():
    # ``.not_a_method()`` on a tensor cannot be resolved without running the script
    assert all("not_a_method" not in name for _, name in missing_names(SCRIPT))


def test_it_reports_the_first_missing_part_of_a_chain_once():
    source = "import torch\ny = torch.jit.script(torch.jit.trace)\n"
    assert missing_names(source) == [(2, "torch.jit")]


def test_names_under_a_class_and_pytorchs_module_paths_resolve():
    assert resolve("torch.nn.Module.state_dict") is None
    assert resolve("torch.nn.modules.linear.Linear") is None
    assert resolve("torch.nn.Module.not_a_method") == "torch.nn.Module.not_a_method"
    assert resolve("torch.backends.cudnn.deterministic") is None


def test_a_script_that_does_not_import_torch_has_nothing_to_report():
    assert missing_names("import numpy as np\nnp.not_a_function()\n") == []


def test_the_command_prints_file_and_line_runs_nothing_and_exits_1(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT + "open('ran', 'w')\n")
    result = subprocess.run([sys.executable, "-m", "tapegrad.as_torch", "--check", str(script)],
                            cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert f"{script}:14: torch.nn.NotALayer is PyTorch's name; tapegrad does not have it yet" \
        in lines
    assert "6 torch name(s) tapegrad lacks, used in 6 place(s)" in lines
    assert "not checked: methods called on tensors" in result.stdout
    assert not (tmp_path / "ran").exists()


def test_a_clean_script_exits_0(tmp_path):
    script = tmp_path / "clean.py"
    script.write_text("import torch\nx = torch.nn.Linear(2, 2)(torch.ones(1, 2))\n")
    result = subprocess.run([sys.executable, "-m", "tapegrad.as_torch", "--check", str(script)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "every torch name the script uses exists in tapegrad" in result.stdout


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_on_the_corpus_it_names_only_what_a_script_is_known_to_need(case):
    with open(os.path.join(SCRIPTS, case.script), encoding="utf-8") as file:
        found = missing_names(file.read())
    # what any run of this script is known to need (the word model's variants differ)
    needs = [need for other in CASES if other.script == case.script and other.needs
             for need in other.needs.split(", ")]
    for line, name in found:
        assert any(need == name or need.startswith(name + ".") for need in needs), \
            f"{case.script}:{line}: {name} is missing but the corpus does not say it needs it"
