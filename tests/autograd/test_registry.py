"""Every differentiable operation of tapegrad has a gradcheck case.

An operation is any name in the ``__all__`` of a module of ``tapegrad.autograd.ops``;
a case is a ``Case`` in the ``CASES`` list of a test module beside this one. Aliases
(``clip`` for ``clamp``) are covered by a case of any of their names. ``Case.check``
separately fails when a case does not record the operation it names.
"""
import importlib
import pathlib

from tapegrad.autograd.ops import MODULES


def all_cases():
    cases = []
    for path in sorted(pathlib.Path(__file__).parent.glob("test_*.py")):
        module = importlib.import_module(f"{__package__}.{path.stem}")
        cases.extend(getattr(module, "CASES", []))
    return cases


def operations_by_function():
    """{function: [its names]} over every ops module, so aliases share one entry."""
    groups = {}
    for module in MODULES:
        for name in module.__all__:
            groups.setdefault(getattr(module, name), []).append(f"{module.__name__}.{name}")
    return groups


def test_every_differentiable_operation_has_a_gradcheck_case():
    covered = {case.op for case in all_cases()}
    missing = [names for names in operations_by_function().values()
               if not any(name.rsplit(".", 1)[1] in covered for name in names)]
    assert not missing, f"operations without a gradcheck case in tests/autograd: {missing}"


def test_the_registry_sees_the_cases_of_this_folder():
    # Guards the test above against silently finding nothing.
    assert len(all_cases()) > 50
