"""The Tensor: a backend array, its device, and its place on the tape.

A tensor is either a *leaf* (made by the user: ``grad_fn is None``), whose gradient is
accumulated into ``.grad``, or the result of an operation, whose ``grad_fn`` is the Node
that made it. The operations themselves live in ``autograd/ops``; ``methods.py`` makes
each of them a method too (``x.exp()`` is ``tg.exp(x)``).
"""
import math
import operator
import weakref

from .. import backend, dtypes
from ..backend import shared_memory
from .version import VersionCounter


class Size(tuple):
    """A tensor's shape: a tuple (``x.shape == (3, 4)``) that prints as in PyTorch."""

    def __repr__(self):
        return f"tapegrad.Size({list(self)})"

    def numel(self):
        n = 1
        for d in self:
            n *= d
        return n


_as_0d_array, _SCALAR_TYPES = backend.as_0d_array, backend.SCALAR_TYPES


def wrap(array, device, requires_grad=False):
    """A new tensor around a backend ``array`` (no copy). The one way tensors are made inside tapegrad."""
    t = Tensor.__new__(Tensor)
    # numpy's scalar results (0-d operations) become 0-d arrays; the type test is the cheap one
    t.array = array if type(array) not in _SCALAR_TYPES else _as_0d_array(array)
    t.device = device
    t._requires_grad = requires_grad
    t.grad_fn = None
    t._output_nr = 0
    t._version_counter = VersionCounter()
    t._base = None
    t._grad = None
    t._accumulator = None
    t._hooks = None
    t._post_accumulate_grad_hooks = None
    return t


def legacy_array(op, data_or_size, dtype, device):
    """The array of PyTorch's legacy constructors (``Tensor``, ``LongTensor``…), of ``dtype``:
    ``(data,)`` holds the data, ``(2, 3)`` (or a Size) is a (2, 3) array of zeros, ``()`` empty."""
    if len(data_or_size) == 1 and not isinstance(data_or_size[0], (int, Size)):
        if isinstance(data_or_size[0], (float, complex, bool)):   # a number is not data here
            raise TypeError(f"{op}(): data must be a sequence (got "
                            f"{type(data_or_size[0]).__name__}); for a 0-d tensor use "
                            f"tapegrad.tensor({data_or_size[0]!r})")
        return array_from_data(data_or_size[0], dtype, device)
    size = data_or_size[0] if len(data_or_size) == 1 and isinstance(data_or_size[0], Size) \
        else data_or_size
    if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in size):
        raise TypeError(f"{op}(): expected data (a list, an array or a tensor) or sizes "
                        f"(non-negative ints), got {data_or_size!r}")
    return device.xp.zeros(tuple(size) if size else (0,), dtype=dtype.numpy)


def array_from_data(data, dtype, device, op="tensor"):
    """A new backend array on ``device`` holding a copy of ``data`` (numbers, nested lists,
    arrays or tensors), of ``dtype`` or, when None, of the data's own (Python floats: the
    default float dtype)."""
    if isinstance(data, Tensor):
        array = backend.to_device(data.array, device)
        return array.astype(dtype.numpy if dtype else array.dtype, copy=True)
    if backend.is_array(data) or type(data) in _SCALAR_TYPES:   # numpy scalars keep their dtype
        if dtype is not None and type(data) in (int, float):
            data = dtypes.stored_scalar(op, data, dtype.numpy)
        array = backend.to_device(_as_0d_array(data), device)
        dtype = dtype or dtypes.from_numpy(array.dtype)
    else:
        array = backend.host_array(data)
        if dtype is None:
            dtype = dtypes.from_numpy(array.dtype)
            if dtype.is_floating_point:  # Python floats become the default dtype, not float64
                dtype = dtypes.get_default_dtype()
        elif dtype.numpy.kind in "iu":   # [1.0, -2.0] into uint8 is refused, as in PyTorch
            dtypes.check_stored_array(op, array, dtype.numpy, data)
        array = backend.to_device(array, device)
    return device.xp.asarray(array, dtype=dtype.numpy, copy=True)


class Tensor:
    """An n-dimensional array that records the operations applied to it."""

    __slots__ = ("array", "device", "_requires_grad", "grad_fn", "_output_nr", "_version_counter",
                 "_base", "_grad", "_accumulator", "_hooks", "_post_accumulate_grad_hooks",
                 "__weakref__")

    __array_ufunc__ = None   # numpy_array * tensor must call Tensor.__rmul__, not numpy's loop
    __array_priority__ = 1000

    def __init__(self, *data_or_size, device=None):
        """PyTorch's legacy constructor, always of the default float dtype:
        ``Tensor([1, 2])`` holds the data, ``Tensor(2, 3)`` (or a Size) is a (2, 3) tensor of
        zeros, ``Tensor()`` is empty. ``tapegrad.tensor(data)`` keeps integer data integer."""
        target = backend.as_device(device)
        made = wrap(legacy_array("Tensor", data_or_size, dtypes.get_default_dtype(), target),
                    target)
        for slot in Tensor.__slots__[:-1]:
            setattr(self, slot, getattr(made, slot))

    # -- what a tensor is -----------------------------------------------------------------
    @property
    def shape(self):
        return Size(self.array.shape)

    @property
    def dtype(self):
        return dtypes.from_numpy(self.array.dtype)

    @property
    def ndim(self):
        return self.array.ndim

    def dim(self):
        return self.array.ndim

    def size(self, dim=None):
        if dim is None:
            return Size(self.array.shape)
        return self.array.shape[self._dimension_of_shape(dim, "size")]

    def numel(self):
        return int(self.array.size)

    def stride(self, dim=None):
        """Steps in elements between neighbours along each dim (0 along an expanded dim), as
        PyTorch's; read from the backend array, whose layout tapegrad keeps PyTorch's where
        ``view`` can observe it."""
        if self.array.size:
            steps = tuple(step // self.array.itemsize for step in self.array.strides)
        else:   # no element to step to: the row-major steps PyTorch gives an empty tensor,
            # in which a dim of size 0 counts as one of size 1
            shape = self.array.shape
            steps = tuple(math.prod(max(n, 1) for n in shape[i + 1:]) for i in range(len(shape)))
        if dim is None:
            return steps
        return steps[self._dimension_of_shape(dim, "stride")]

    def is_contiguous(self):
        """Whether the elements lie in row-major order with no gaps (size-1 dims and empty
        tensors count as contiguous, as in PyTorch): ``view`` can then take any shape."""
        return bool(self.array.flags.c_contiguous)

    def __len__(self):
        if self.array.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.array.shape[0]

    def _dimension_of_shape(self, dim, op):
        """``_axis`` for reading the shape: a 0-d tensor has no dimension 0 to read."""
        try:
            dim = operator.index(dim)   # ints, numpy's too
        except TypeError:
            raise TypeError(f"{op}: dim must be an int, got {type(dim).__name__} ({dim!r})") from None
        if self.array.ndim == 0:
            raise IndexError(f"{op}: dimension {dim} was given but a 0-d tensor has no "
                             f"dimensions")
        return self._axis(dim, op)

    def _axis(self, dim, op):
        """A dimension index in range, or an IndexError naming the op, the dim and the shape."""
        ndim = self.array.ndim
        if not -max(ndim, 1) <= dim < max(ndim, 1):
            raise IndexError(f"{op}: dimension {dim} is out of range for a tensor of shape "
                             f"{tuple(self.array.shape)} (expected a dim in "
                             f"[{-max(ndim, 1)}, {max(ndim, 1) - 1}])")
        return dim % max(ndim, 1)

    @property
    def is_cuda(self):
        return self.device.type == "cuda"

    @property
    def is_cpu(self):
        return self.device.type == "cpu"

    @property
    def is_xpu(self):
        """False: tapegrad has no Intel GPU device (PyTorch's name, for scripts that ask)."""
        return False

    @property
    def is_mps(self):
        """False: tapegrad has no Apple GPU device (PyTorch's name, for scripts that ask)."""
        return False

    def is_floating_point(self):
        return self.dtype.is_floating_point

    def element_size(self):
        return self.array.itemsize

    @property
    def _version(self):
        return self._version_counter.value

    # -- the tape -----------------------------------------------------------------------------
    @property
    def requires_grad(self):
        return self._requires_grad or self.grad_fn is not None

    @requires_grad.setter
    def requires_grad(self, flag):
        self.requires_grad_(flag)

    def requires_grad_(self, requires_grad=True):
        """Make this leaf start (or stop) recording operations for its gradient."""
        if self.grad_fn is not None:
            if requires_grad:
                return self
            raise RuntimeError(
                f"requires_grad can only be changed on leaf tensors; this one was made by "
                f"'{self.grad_fn.op}'. Use .detach() to get a tensor that does not require grad")
        if requires_grad and not self.dtype.is_floating_point:
            raise RuntimeError(f"only tensors of floating point dtype can require gradients, "
                               f"and this one is {self.dtype}")
        self._requires_grad = bool(requires_grad)
        return self

    @property
    def is_leaf(self):
        return self.grad_fn is None

    @property
    def grad(self):
        if self.grad_fn is not None and self._grad is None and not self.retains_grad:
            from .engine import warn_non_leaf_grad
            warn_non_leaf_grad()
        return self._grad

    @grad.setter
    def grad(self, value):
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"assigned grad must be a Tensor or None, got {type(value).__name__}")
            if tuple(value.shape) != tuple(self.shape):
                raise RuntimeError(f"assigned grad has shape {tuple(value.shape)}, but the tensor "
                                   f"has shape {tuple(self.shape)}")
            if value.device != self.device:
                raise RuntimeError(f"assigned grad is on {value.device}, but the tensor is on "
                                   f"{self.device}")
            if value.dtype is not self.dtype:
                raise RuntimeError(f"assigned grad has dtype {value.dtype}, but the tensor has "
                                   f"dtype {self.dtype}")
        self._grad = value

    @property
    def retains_grad(self):
        node = self.grad_fn
        return bool(node is not None and node.retained and self._output_nr in node.retained)

    def retain_grad(self):
        """Keep the gradient of this non-leaf tensor in ``.grad`` during backward."""
        if self.grad_fn is None:
            if not self._requires_grad:
                raise RuntimeError("retain_grad() on a tensor that does not require grad")
            return  # leaves keep their gradient anyway
        node = self.grad_fn
        if node.retained is None:
            node.retained = {}
        node.retained[self._output_nr] = weakref.ref(self)

    def register_hook(self, hook):
        """Call ``hook(grad)`` when this tensor's gradient is computed; a returned tensor replaces it."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that does not require grad")
        if self.grad_fn is not None:
            return self.grad_fn.register_prehook_for_output(self._output_nr, hook)
        from .tape import RemovableHandle  # tape builds on this module, so imported here
        if self._hooks is None:
            self._hooks = {}
        handle = RemovableHandle(self._hooks)
        self._hooks[handle.id] = hook
        return handle

    def register_post_accumulate_grad_hook(self, hook):
        """Call ``hook(tensor)`` after backward has added into this leaf's ``.grad``
        (distributed training starts sending a gradient the moment it is complete)."""
        if self.grad_fn is not None:
            raise RuntimeError(f"post accumulate grad hooks cannot be registered on non-leaf "
                               f"tensors (this one was made by '{self.grad_fn.op}')")
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that does not require grad")
        from .tape import RemovableHandle
        if self._post_accumulate_grad_hooks is None:
            self._post_accumulate_grad_hooks = {}
        handle = RemovableHandle(self._post_accumulate_grad_hooks)
        self._post_accumulate_grad_hooks[handle.id] = hook
        return handle

    def backward(self, gradient=None, retain_graph=None, create_graph=False):
        """Add d(self)/d(leaf) · gradient into ``leaf.grad`` for every leaf that requires grad."""
        from .engine import backward
        backward((self,), None if gradient is None else (gradient,),
                 retain_graph=retain_graph, create_graph=create_graph)

    def detach(self):
        """The same values (shared memory, shared version counter), cut off from the tape."""
        t = wrap(self.array, self.device)
        t._version_counter = self._version_counter
        return t

    def detach_(self):
        if self._base is not None and self._base.requires_grad:
            raise RuntimeError("detach_() on a view of a tensor that requires grad; use detach()")
        self.grad_fn = None
        self._requires_grad = False
        return self

    @property
    def data(self):
        """A tensor sharing this one's values but not its history (as in PyTorch)."""
        return self.detach()

    @data.setter
    def data(self, value):
        if not isinstance(value, Tensor):
            raise TypeError(f"data must be set to a Tensor, got {type(value).__name__}")
        self.array = value.array
        self.device = value.device

    # -- leaving tapegrad ------------------------------------------------------------------
    def numpy(self):
        """The values as a numpy array (sharing memory on the cpu)."""
        if self.requires_grad:
            raise RuntimeError("numpy() on a tensor that requires grad: its values would escape "
                               "the tape; call tensor.detach().numpy() instead")
        if self.device.type != "cpu":
            raise TypeError(f"numpy() on a tensor on {self.device}: copy it to the host first "
                            f"with tensor.cpu().numpy()")
        return backend.to_numpy(self.array)   # (the array itself, for numpy arrays)

    def share_memory_(self):
        """Move the values of this cpu tensor into shared memory, in place, so that the
        processes it is sent to (``tapegrad.multiprocessing``) change these very values;
        returns self. A no-op for cuda tensors, as in PyTorch.

        A view (``x.reshape(…)``, ``x[1:]``) moves the tensor it views along with it, and
        stays a view of it. Other views of that tensor keep the old, private memory (PyTorch
        moves them too: it shares whole storages, which tapegrad does not have)."""
        if self.device.type != "cpu" or shared_memory.is_shared(self.array):
            return self
        base = self._base
        old = base.array if base is not None else None
        if old is not None and old.flags.c_contiguous and shared_memory.overlaps(old, self.array):
            base.share_memory_()
            self.array = shared_memory.same_place_in(base.array, old, self.array)
        else:
            self.array = shared_memory.move_to_shared_memory(self.array)
        return self

    def is_shared(self):
        return shared_memory.is_shared(self.array)

    def __array__(self, dtype=None, copy=None):
        array = backend.to_numpy(self.array)
        return array if dtype is None else array.astype(dtype)

    def item(self):
        """The one value of a one-element tensor, as a Python number."""
        if self.array.size != 1:
            raise RuntimeError(f"item() needs a tensor with one element, but this one has shape "
                               f"{tuple(self.shape)} ({self.array.size} elements)")
        return backend.to_numpy(self.array).reshape(()).item()

    def tolist(self):
        return backend.to_numpy(self.array).tolist()

    def __bool__(self):
        if self.array.size != 1:
            raise RuntimeError(f"the truth value of a tensor with {self.array.size} elements "
                               f"(shape {tuple(self.shape)}) is ambiguous; use .any() or .all()")
        return bool(self.item())

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self.dtype.is_floating_point or self.array.size != 1:
            raise TypeError("only integer tensors of a single element can be used as an index")
        return int(self.item())

    def __iter__(self):
        if self.array.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.array.shape[0]))

    __hash__ = object.__hash__

    def __deepcopy__(self, memo):
        """A copy of a leaf's values (and grad); results of operations cannot be copied."""
        if self.grad_fn is not None:
            raise RuntimeError("only leaf tensors (made by you, not by an operation) support "
                               "deepcopy; copy tensor.detach() or tensor.clone() instead")
        if id(self) in memo:
            return memo[id(self)]
        copy = type(self).__new__(type(self))
        memo[id(self)] = copy
        for slot in ("_output_nr", "_base", "_accumulator", "_hooks", "_post_accumulate_grad_hooks",
                     "grad_fn"):
            setattr(copy, slot, None)
        copy._output_nr = 0
        copy.array = self.array.copy()
        copy.device = self.device
        copy._requires_grad = self._requires_grad
        copy._version_counter = VersionCounter()
        copy._grad = None if self._grad is None else self._grad.__deepcopy__(memo)
        return copy

    def __getstate__(self):
        """What ``pickle`` keeps of a tensor: its values, device, requires_grad and grad. The
        tape behind it (grad_fn, hooks) stays behind: the copy is a leaf, as in PyTorch."""
        return {"array": self.array, "device": self.device,
                "requires_grad": self.requires_grad, "grad": self._grad}

    def __setstate__(self, state):
        made = wrap(state["array"], state["device"], state["requires_grad"])
        for slot in Tensor.__slots__[:-1]:
            setattr(self, slot, getattr(made, slot))
        self._grad = state["grad"]

    def __format__(self, format_spec):
        """``f"{loss:.4f}"`` formats a 0-d tensor's number; any other tensor prints as str()
        (and a format spec for it is an error, as in PyTorch)."""
        if self.ndim == 0:
            return self.item().__format__(format_spec)
        return object.__format__(self, format_spec)

    def type(self, dtype=None, non_blocking=False):
        """``x.type()`` is PyTorch's name of x's type ('torch.FloatTensor', 'torch.cuda.
        LongTensor'…, spelt as in PyTorch so that scripts comparing it keep working);
        ``x.type(dtype)`` is ``x.to(dtype)``, for a dtype, such a name or ``tapegrad.LongTensor``."""
        if dtype is None:
            where = "torch." if self.device.type == "cpu" else "torch.cuda."
            return where + dtypes.LEGACY_TYPE_NAMES[self.dtype]
        if isinstance(dtype, str) and dtype.endswith("Tensor"):
            dtype = dtypes.from_legacy_type_name(dtype)
        return self.to(getattr(dtype, "dtype", dtype), non_blocking=non_blocking)

    def __repr__(self):
        body = backend.format_array(self.array, precision=4, separator=", ", prefix="tensor(")
        extras = []
        if self.device.type != "cpu":
            extras.append(f"device='{self.device}'")
        if self.dtype not in (dtypes.get_default_dtype(), dtypes.int64, dtypes.bool_):
            extras.append(f"dtype={self.dtype}")
        if self.grad_fn is not None:
            extras.append(f"grad_fn={self.grad_fn!r}")
        elif self._requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + body + "".join(f", {e}" for e in extras) + ")"


def is_tensor(value):
    return isinstance(value, Tensor)

