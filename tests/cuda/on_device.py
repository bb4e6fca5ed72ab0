"""Every gradcheck case of tests/autograd, built again with its tensors on another device.

The ``CASES`` of a test module are made when it is imported, with cpu tensors, and their
functions may hold cpu constants or make tensors as they run (``tg.zeros(...)``). Moving
the inputs would leave those behind. So ``cases_on(module, device)`` runs the module's
source a second time, in a fresh namespace, while ``tensors_on(device)`` makes tapegrad's
top-level tensor factories (``tg.tensor``, ``tg.zeros``, ``tg.from_numpy``…, the ones tests
call) put tensors on ``device`` when no device is given; ``check_on`` runs a case under the
same switch, so tensors made inside its function land there too.

Only the names on the ``tapegrad`` module are switched, never ``tapegrad.creation`` itself:
tapegrad's own code keeps making tensors where it says, so an operation that forgot to pass
``device=`` still makes a cpu tensor and is caught. This is test machinery, not an API.
"""
import contextlib
import functools
import importlib.util
import pathlib

import numpy as np

import tapegrad as tg
from tapegrad import backend
from tapegrad.autograd.tensor import Tensor, wrap

from .. import support

AUTOGRAD = pathlib.Path(__file__).parent.parent / "autograd"
FACTORIES = ("tensor", "as_tensor", "zeros", "ones", "empty", "full", "eye", "arange",
             "linspace", "rand", "randn", "randint", "randperm")


def gradcheck_modules():
    """The names of the test modules of tests/autograd that have a ``CASES`` list."""
    names = []
    for path in sorted(AUTOGRAD.glob("test_*.py")):
        if "\nCASES" in path.read_text():
            names.append(f"tests.autograd.{path.stem}")
    return names


def copy_to(array, device):
    """A numpy array on ``device``; a non-contiguous one stays non-contiguous there (the values
    are written into every other element of a device buffer, which is then viewed)."""
    xp = device.xp
    if device.type == "cpu":
        return xp.asarray(array)   # (the array itself on numpy; a view on another host backend)
    if array.flags.c_contiguous or array.size < 2:
        return backend.to_device(array, device)
    spaced = xp.zeros(array.shape + (2,), dtype=array.dtype)
    spaced[..., 0] = backend.to_device(np.ascontiguousarray(array), device)
    moved = spaced[..., 0]
    assert not moved.flags.c_contiguous
    return moved


@contextlib.contextmanager
def tensors_on(device, host_numpy=False):
    """``tg.tensor``, ``tg.zeros``… make tensors on ``device`` unless told another device;
    ``tg.from_numpy`` copies its array there (keeping its layout). With ``host_numpy``,
    ``Tensor.numpy()`` of a device tensor gives a host copy too (for a module's own setup
    code, which reads values it made with ``.numpy()``; never while a case runs)."""
    originals = {name: getattr(tg, name) for name in FACTORIES + ("from_numpy",)}
    original_numpy = Tensor.numpy

    def on_device(function):
        @functools.wraps(function)
        def make(*args, device=None, **kwargs):
            return function(*args, device=device if device is not None else target, **kwargs)
        return make

    def from_numpy(array):
        made = originals["from_numpy"](array)
        return wrap(copy_to(made.array, target), target)

    def numpy_on_the_host(self):
        if self.device.type == "cpu" or self.requires_grad:
            return original_numpy(self)
        return backend.to_numpy(self.array)

    target = backend.as_device(device)
    try:
        for name in FACTORIES:
            setattr(tg, name, on_device(originals[name]))
        tg.from_numpy = from_numpy
        if host_numpy:
            Tensor.numpy = numpy_on_the_host
        yield target
    finally:
        for name, function in originals.items():
            setattr(tg, name, function)
        Tensor.numpy = original_numpy


@contextlib.contextmanager
def _support_values_from(seed):
    """support.leaf & co. draw from a fresh generator: the module's values do not depend on
    which modules were built before it."""
    saved = support._rng
    support._rng = np.random.default_rng(seed)
    try:
        yield
    finally:
        support._rng = saved


_built = {}


def cases_on(module_name, device, backend_key):
    """The module ``module_name`` run again with its tensors on ``device`` (cached per
    ``backend_key``, which names the array library that ``device`` stands for)."""
    key = (module_name, str(device), backend_key)
    if key not in _built:
        spec = importlib.util.find_spec(module_name)
        code = compile(pathlib.Path(spec.origin).read_text(), spec.origin, "exec")
        namespace = {"__name__": f"{module_name}@{device}", "__package__": spec.parent,
                     "__file__": spec.origin, "__builtins__": __builtins__}
        with tensors_on(device, host_numpy=True), _support_values_from(1234):
            exec(code, namespace)
        _built[key] = namespace
    return _built[key]


def tensors_in(value):
    """Every tensor in ``value`` (a tensor, or nested tuples and lists of them)."""
    if isinstance(value, tg.Tensor):
        return [value]
    if isinstance(value, (tuple, list)):
        return [t for v in value for t in tensors_in(v)]
    return []


def where_it_says(tensor):
    """True when the tensor's array really lives on the tensor's device."""
    return backend.device_of_array(tensor.array) == tensor.device
