"""Every gradcheck case of tests/autograd, on cuda tensors (float64, first and second derivatives).

Each test module of tests/autograd with a ``CASES`` list is built again with its tensors on
cuda (on_device.py says how), and each of its cases is checked there: gradcheck and
gradgradcheck against finite differences, the op on the tape, and every output on the
device it claims (its array is a device array of that device). Cases that cannot run on
cuda are listed in ``NOT_ON_CUDA`` with the reason. On a machine without a GPU this runs
on the fake cupy (conftest.py), which fails any case whose op hands a device array to numpy
or mixes a host array into device arithmetic.
"""
import importlib

import pytest

import tapegrad as tg
from tapegrad.autograd.tensor import Tensor

from ..support import Case
from .on_device import cases_on, gradcheck_modules, tensors_in, tensors_on, where_it_says

pytestmark = pytest.mark.cuda

# "module:case id" -> why the case is not run on cuda (none at present; built on cuda, the
# to_device case is x (cuda) -> .cpu(), whose outputs live on another device than its input:
# gradcheck keeps its Jacobians on the host for that)
NOT_ON_CUDA = {}


def cpu_cases():
    params = []
    for module_name in gradcheck_modules():
        short = module_name.rsplit(".", 1)[1][len("test_"):]
        for index, case in enumerate(importlib.import_module(module_name).CASES):
            name = f"{short}:{case!r}"
            marks = [pytest.mark.skip(reason=NOT_ON_CUDA[name])] if name in NOT_ON_CUDA else []
            params.append(pytest.param(module_name, index, id=name, marks=marks))
    return params


def staying_on(device, fn, moves):
    """``fn``, checked to return tensors that are where they say, all on ``device`` (unless
    the case ``moves`` tensors between devices)."""
    def checked(*inputs):
        outputs = fn(*inputs)
        for t in tensors_in(outputs):
            assert where_it_says(t), f"a {t.device} tensor holds an array of another device"
            assert moves or t.device == device, f"an output on {t.device}, not on {device}"
        return outputs
    return checked


CASES = cpu_cases()


@pytest.mark.parametrize("module_name,index", CASES)
def test_gradcheck_on_cuda(module_name, index, cuda_backend):
    device = tg.device("cuda:0")
    case = cases_on(module_name, device, cuda_backend)["CASES"][index]
    cpu_case = importlib.import_module(module_name).CASES[index]
    assert repr(case) == repr(cpu_case), "the module built on cuda has other cases"
    for t in case.inputs:
        if isinstance(t, Tensor):
            assert t.device == device and where_it_says(t)
    with tensors_on(device):
        checked = staying_on(device, case.fn, moves=case.op == "to_device")
        Case(case.op, checked, case.inputs, gradgrad=case.gradgrad, name=case.name,
             atol=case.atol, rtol=case.rtol).check()


def test_every_module_with_cases_is_covered():
    covered = {p.values[0] for p in CASES}
    assert covered == set(gradcheck_modules()) and len(covered) >= 12
    assert len(CASES) > 500


def test_moving_to_the_gpu_and_back_has_gradient_one():
    # tests/autograd/test_conversion.py's to_device case, as built there (a cpu leaf), which
    # tests/autograd skips without a GPU.
    module = importlib.import_module("tests.autograd.test_conversion")
    (case,) = [c for c in module.CASES if c.op == "to_device"]
    case.check()
