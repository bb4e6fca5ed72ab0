"""``python -m tapegrad.as_torch --check SCRIPT``: the migration report.

Reads a script without running it and lists each torch or torchvision name it uses that
tapegrad lacks, with file and line. It follows what the imports bind (``import torch as t``,
``from torch import nn``, ``import torch.nn.functional as F``, ``from torch.optim import
Adam``) through attribute chains (``t.nn.Linear``, ``F.relu``, ``nn.init.zeros_``) and
looks each name up exactly as the import hook would when the script runs.

What it cannot see: methods called on objects the script makes (``x.view(…)``,
``model.half()``), because which object is a tensor is known only when the script runs.
"""
import ast
import importlib
import sys
import types

from . import install
from .hook import lacks
from .modules import is_torch_path

NOT_CHECKED = ("not checked: methods called on tensors, modules and other objects the script "
               "makes (x.view(…), model.half()): which object is a tensor is known only when "
               "the script runs")


def resolve(dotted):
    """The first prefix of the torch path ``dotted`` that tapegrad lacks, or None.

    Names are looked up through the import hook, which this installs in the process."""
    install()
    parts = dotted.split(".")
    try:
        value = importlib.import_module(parts[0])
    except ImportError:
        return parts[0]
    for i, part in enumerate(parts[1:], start=1):
        if isinstance(value, types.ModuleType):
            try:
                value = getattr(value, part)
                continue
            except AttributeError:
                pass
            try:   # a submodule that its parent does not list, such as torch.nn.modules.linear
                value = importlib.import_module(".".join(parts[:i + 1]))
                continue
            except ImportError:
                return ".".join(parts[:i + 1])
        elif not hasattr(value, part):
            return ".".join(parts[:i + 1])
        else:
            value = getattr(value, part)
    return None


class _Uses(ast.NodeVisitor):
    """Collects (line, torch path) for every torch name the source uses."""

    def __init__(self):
        self.bound = {}    # local name -> the torch path it stands for
        self.uses = []     # (line, dotted torch path)

    def visit_Import(self, node):
        for alias in node.names:
            if not is_torch_path(alias.name):
                continue
            self.uses.append((node.lineno, alias.name))
            if alias.asname:
                self.bound[alias.asname] = alias.name
            else:  # ``import torch.nn`` binds ``torch``
                root = alias.name.split(".")[0]
                self.bound[root] = root

    def visit_ImportFrom(self, node):
        if node.level or not node.module or not is_torch_path(node.module):
            return
        self.uses.append((node.lineno, node.module))
        for alias in node.names:
            if alias.name == "*":
                continue
            path = f"{node.module}.{alias.name}"
            self.uses.append((node.lineno, path))
            self.bound[alias.asname or alias.name] = path

    def visit_Attribute(self, node):
        chain = []
        inner = node
        while isinstance(inner, ast.Attribute):
            chain.append(inner.attr)
            inner = inner.value
        if isinstance(inner, ast.Name) and inner.id in self.bound:
            path = ".".join([self.bound[inner.id]] + chain[::-1])
            self.uses.append((node.lineno, path))
            return  # the whole chain is one use; its prefixes are not visited again
        self.generic_visit(node)


def missing_names(source, filename="<script>"):
    """[(line, missing torch path)] for one script's source, in line order, each path once
    per line."""
    tree = ast.parse(source, filename)
    uses = _Uses()
    uses.visit(tree)
    found = []
    for line, path in uses.uses:
        missing = resolve(path)
        if missing is not None and (line, missing) not in found:
            found.append((line, missing))
    return sorted(found)


def main(paths):
    if not paths:
        print("python -m tapegrad.as_torch --check: name at least one script", file=sys.stderr)
        return 2
    total = set()
    places = 0
    for path in paths:
        try:
            with open(path, encoding="utf-8") as file:
                source = file.read()
            found = missing_names(source, path)
        except (OSError, SyntaxError) as error:
            print(f"{path}: cannot read it: {error}", file=sys.stderr)
            return 2
        for line, name in found:
            print(f"{path}:{line}: {lacks(name)}")
            total.add(name)
        places += len(found)
    if total:
        print(f"{len(total)} torch name(s) tapegrad lacks, used in {places} place(s)")
    else:
        print("every torch name the script uses exists in tapegrad")
    print(NOT_CHECKED)
    return 1 if total else 0
