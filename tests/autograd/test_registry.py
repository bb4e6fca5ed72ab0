"""Every differentiable operation of tapegrad has a gradcheck case.

An operation is anything declared with ``@operation`` in ``tapegrad.autograd.ops``
(except those marked ``differentiable=False`` or ``composite=True``); a case is a
``Case`` in the ``CASES`` list of a test module beside this one. Aliases (``clip`` for
``clamp``) are covered by a case of any of their names. ``Case.check`` separately fails
when a case does not record the operation it names.
"""
import importlib
import pathlib

from tapegrad.autograd.ops import differentiable_operations


def all_cases():
    cases = []
    for path in sorted(pathlib.Path(__file__).parent.glob("test_*.py")):
        module = importlib.import_module(f"{__package__}.{path.stem}")
        cases.extend(getattr(module, "CASES", []))
    return cases


def test_every_differentiable_operation_has_a_gradcheck_case():
    covered = {case.op for case in all_cases()}
    missing = [names for names in differentiable_operations().values()
               if not any(name in covered for name in names)]
    assert not missing, f"operations without a gradcheck case in tests/autograd: {missing}"


def test_the_registry_sees_the_cases_of_this_folder():
    # Guards the test above against silently finding nothing.
    assert len(all_cases()) > 50
