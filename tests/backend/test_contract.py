"""The backend contract (tapegrad/backend/contract.py) is all that tapegrad computes with.

* Every gradcheck case of tests/autograd runs on a third backend, ``strict_numpy``: numpy
  underneath, refusing any function, ufunc or array attribute the contract does not list.
  The cases are built again on it the way tests/cuda builds them on cupy (on_device.py),
  and each is gradchecked there (first derivatives: a second derivative runs the same ops'
  forwards and backwards, each covered by its own case): an op that reaches outside the
  contract fails its case.
* autograd, nn, optim and kernels name neither numpy nor cupy (they ask the backend), and
  no code decides by an array module's name; explain, data and training import numpy
  openly where they do host-side work.
* The contract's lists say what they claim: its standard names are the standard's, each
  backend provides every name, and looking a name up costs no more than a module lookup.
"""
import ast
import importlib
import pathlib
import sys
import timeit

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.autograd.tensor import Tensor
from tapegrad.backend import contract

from ..cuda.on_device import cases_on, gradcheck_modules, tensors_in, tensors_on
from ..support import Case
from . import strict_numpy
from .strict_numpy import StrictArray

ROOT = pathlib.Path(__file__).parent.parent.parent
DEVICE_MODULE = sys.modules["tapegrad.backend.device"]   # (the package's `device` is the class)
CPU = tg.device("cpu")


@pytest.fixture
def strict_backend(monkeypatch):
    """Every cpu tensor computes on the strict backend for the length of a test."""
    monkeypatch.setattr(DEVICE_MODULE, "HOST", strict_numpy.NAMESPACE)
    strict_numpy.REFUSED.clear()
    yield strict_numpy.NAMESPACE
    strict_numpy.REFUSED.clear()


# -- the gradcheck registry on the strict backend ------------------------------------------------
def registry():
    params = []
    for module_name in gradcheck_modules():
        short = module_name.rsplit(".", 1)[1][len("test_"):]
        for index, case in enumerate(importlib.import_module(module_name).CASES):
            marks = [pytest.mark.skip(reason="moves a tensor to cuda (tests/cuda runs it)")] \
                if case.op == "to_device" else []
            params.append(pytest.param(module_name, index, id=f"{short}:{case!r}", marks=marks))
    return params


def strict_outputs(fn):
    """``fn``, checked to give tensors whose arrays belong to the strict backend."""
    def checked(*inputs):
        outputs = fn(*inputs)
        for t in tensors_in(outputs):
            assert isinstance(t.array, StrictArray), f"an output holds a {type(t.array)}"
        return outputs
    return checked


@pytest.mark.parametrize("module_name,index", registry())
def test_every_gradcheck_case_runs_within_the_contract(module_name, index, strict_backend):
    case = cases_on(module_name, CPU, "strict numpy")["CASES"][index]
    strict_numpy.REFUSED.clear()   # (building the module may read values the host way)
    for t in case.inputs:
        if isinstance(t, Tensor):
            assert isinstance(t.array, StrictArray)
    with tensors_on(CPU):
        Case(case.op, strict_outputs(case.fn), case.inputs, gradgrad=False,
             name=case.name, atol=case.atol, rtol=case.rtol).check()
    assert strict_numpy.REFUSED == []


def test_the_strict_backend_refuses_what_the_contract_lacks(strict_backend):
    a = strict_backend.arange(6.0).reshape(2, 3)
    assert isinstance(a, StrictArray) and isinstance(a + 1, StrictArray)
    assert float(strict_backend.sum(a)) == 15.0 and a.sum(axis=0).shape == (3,)
    with pytest.raises(strict_numpy.OutsideTheContract, match="'searchsorted'"):
        a.searchsorted(1.0)                    # a method the contract does not list
    with pytest.raises(strict_numpy.OutsideTheContract, match="numpy.cumprod"):
        np.cumprod(a)                          # numpy called directly on a backend array
    with pytest.raises(strict_numpy.OutsideTheContract, match="numpy.fmax"):
        np.fmax(a, a)                          # a ufunc that is no operator
    with pytest.raises(AttributeError, match="'fmax': it is not in tapegrad's backend contract"):
        strict_backend.fmax
    assert len(strict_numpy.REFUSED) == 3


# -- who names numpy and cupy ---------------------------------------------------------------------
ARRAY_LIBRARIES = {"numpy", "cupy", "cupyx"}


def library_uses(path):
    """Where a module names numpy or cupy: imports of them, and comparisons with their names
    (``xp.__name__ == "cupy"``)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [f"import {a.name}" for a in node.names
                      if a.name.split(".")[0] in ARRAY_LIBRARIES]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            if node.module.split(".")[0] in ARRAY_LIBRARIES:
                found.append(f"from {node.module} import")
        elif isinstance(node, ast.Compare):
            for value in [node.left, *node.comparators]:
                if isinstance(value, ast.Constant) and value.value in ARRAY_LIBRARIES:
                    found.append(f"compares with {value.value!r} (line {node.lineno})")
        elif isinstance(node, ast.Attribute) and node.attr == "__name__" and \
                isinstance(node.value, ast.Name) and node.value.id == "xp":
            found.append(f"xp.__name__ (line {node.lineno})")
    return found


@pytest.mark.parametrize("package", ["autograd", "nn", "optim", "kernels"])
def test_the_computing_packages_name_neither_numpy_nor_cupy(package):
    offenders = {str(path.relative_to(ROOT)): library_uses(path)
                 for path in sorted((ROOT / "tapegrad" / package).rglob("*.py"))}
    assert {k: v for k, v in offenders.items() if v} == {}


def names_used_as_modules(path):
    """The names a module reads attributes of (``numpy.zeros`` -> "numpy"), and the modules
    it imports, by the name they are bound to."""
    tree = ast.parse(path.read_text())
    used = {node.value.id for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)}
    imported = {alias.asname or alias.name for node in ast.walk(tree)
                if isinstance(node, ast.Import) for alias in node.names}
    return used, imported


@pytest.mark.parametrize("package", ["explain", "data", "training"])
def test_host_side_packages_import_numpy_openly(package):
    for path in sorted((ROOT / "tapegrad" / package).rglob("*.py")):
        source = path.read_text()
        assert "CPU.xp" not in source and "A.host" not in source, path   # no hidden numpy
        used, imported = names_used_as_modules(path)
        for alias in ("numpy", "np"):
            assert alias not in used or alias in imported, f"{path}: {alias} is not imported"


# -- the lists themselves ------------------------------------------------------------------------
def test_the_standard_names_are_the_array_api_standards():
    strict = pytest.importorskip("array_api_strict")
    standard = set(strict.__all__)
    assert [n for n in contract.STANDARD if n not in standard] == []
    assert [n for n in contract.STANDARD_LINALG if not hasattr(strict.linalg, n)] == []
    # the extensions are what the standard (2023.12) lacks
    later = {"take_along_axis", "reciprocal", "broadcast_shapes"}   # 2024.12 and 2025.12
    assert [n for n in contract.EXTENSIONS if n in standard and n not in later] == []
    assert all(reason.strip() for reason in contract.EXTENSIONS.values())


def test_both_backends_provide_every_name_of_the_contract():
    sys.path.insert(0, str(ROOT))
    from tests.cuda.fake_cupy import cupy as fake_cupy  # cupy 13's names, without a GPU
    for namespace in (contract.numpy_namespace(np), contract.cupy_namespace(fake_cupy)):
        for name in contract.declared_functions():
            assert getattr(namespace, name) is not None, (namespace, name)
        for name in contract.STANDARD_LINALG:
            assert callable(getattr(namespace.linalg, name))


def test_looking_up_an_operation_costs_what_a_module_attribute_costs():
    # interleaved, best of many: a busy machine slows both alike
    lookups = {"namespace": ("xp.add", {"xp": CPU.xp}), "module": ("np.add", {"np": np})}
    best = dict.fromkeys(lookups, float("inf"))
    for _ in range(30):
        for name, (statement, names) in lookups.items():
            best[name] = min(best[name], timeit.timeit(statement, globals=names, number=20000))
    assert best["namespace"] < 1.5 * best["module"], best
