"""Random arguments for any operation, chosen by parameter name.

A program is a chain of steps: step 0 gets a fresh tensor as its first tensor argument,
every later step gets the previous step's result there. The other arguments come from
``ARGUMENTS``, a table from parameter name to a generator; a generator sees only the
chain's current shape and dtype and the random source, never the operation's name, so
no operation gets special treatment. A parameter with a default is mostly left out; a
required parameter with no generator makes the operation unfuzzable (listed by
``python -m tests.fuzz --list``).

Tensors are described, not built (``Leaf``), so both libraries build the same one: the
values (with zeros, huge magnitudes, inf and NaN mixed in), the dtype, whether it
requires grad, and a memory layout (a transposed, sliced or expanded view of a leaf).
"""
import inspect
import math
from typing import NamedTuple

import numpy as np

FLOATS = ("float32", "float32", "float32", "float64", "float16")
INTEGERS = ("int64", "int64", "int32", "uint8")
SPECIALS = (0.0, -0.0, 1.0, -1.0, 0.5, 2.0, 1e30, -1e30, 1e-30, math.inf, -math.inf, math.nan)


class Leaf(NamedTuple):
    values: np.ndarray   # the leaf's own values (before the layout's view)
    requires_grad: bool
    layout: tuple        # ("contiguous",) ("transpose", a, b) ("slice", dim) ("expand", dim)
    view_shape: tuple    # the shape the operations see


class Chain(NamedTuple):
    """The previous step's result (the running value of the chain)."""


class LeafRef(NamedTuple):
    index: int


class DType(NamedTuple):
    name: str


CHAIN = Chain()
# The parameter that receives the chain, in order of preference.
CHAIN_PARAMETERS = ("input", "tensor", "tensors", "operands", "input1", "x1", "A", "query")


class Context:
    """What argument generators see: the random source, the chain's shape and dtype."""

    def __init__(self, rng, shape, dtype, special_values):
        self.rng = rng
        self.shape = tuple(shape)
        self.dtype = dtype
        self.leaves = []
        self.special_values = special_values
        self.drawn = {}

    @property
    def ndim(self):
        return len(self.shape)

    def chance(self, p):
        return self.rng.random() < p

    def choice(self, options):
        return options[int(self.rng.integers(len(options)))]

    def integer(self, low, high):
        """An int in [low, high]."""
        return int(self.rng.integers(low, high + 1))

    def add_leaf(self, shape, dtype=None, requires_grad=None, layout=True, values=None):
        """Describe a new leaf of ``shape`` (its values drawn unless given); its reference."""
        dtype = dtype or self.dtype
        shape = tuple(shape)
        layout = random_layout(self, shape) if layout else ("contiguous",)
        if values is None:
            values = random_values(self, leaf_base_shape(shape, layout), dtype)
        else:   # a base whose view under ``layout`` shows exactly ``values``
            if layout[0] == "transpose":
                values = np.ascontiguousarray(np.swapaxes(values, layout[1], layout[2]))
            elif layout[0] == "slice":
                values = np.repeat(values, 2, axis=layout[1])
            elif layout[0] == "expand":
                layout = ("contiguous",)
        floating = dtype.startswith("float")
        if requires_grad is None:
            requires_grad = floating and self.chance(0.8)
        self.leaves.append(Leaf(values, bool(requires_grad and floating), layout, shape))
        return LeafRef(len(self.leaves) - 1)

    # -- dims ---------------------------------------------------------------------------
    def dim(self, key="dim"):
        """A dim of the chain, the same one each time it is asked for in one step."""
        if key not in self.drawn:
            n = max(self.ndim, 1)
            self.drawn[key] = self.integer(-n, n - 1) if not self.chance(0.03) else n
        return self.drawn[key]

    def size_of(self, dim):
        if self.ndim == 0:
            return 1
        try:
            return self.shape[dim]
        except IndexError:
            return 1


# -- values, shapes, layouts ------------------------------------------------------------
def random_shape(ctx, max_ndim=4):
    ndim = ctx.choice((0, 1, 1, 2, 2, 2, 3, 3, 4)[: max_ndim * 2 + 1])
    sizes = (0, 1, 1, 2, 2, 3, 3, 4, 5)
    shape = [ctx.choice(sizes) for _ in range(ndim)]
    if 0 in shape and ctx.chance(0.7):  # empty tensors now and then, not every third one
        shape = [s or 2 for s in shape]
    return tuple(shape)


def random_values(ctx, shape, dtype):
    rng = ctx.rng
    if dtype == "bool":
        return np.asarray(rng.random(shape) < 0.5)
    if not dtype.startswith("float"):
        low = 0 if dtype == "uint8" else -5
        return np.asarray(rng.integers(low, 6, size=shape).astype(dtype))
    scale = ctx.choice((1.0, 1.0, 1.0, 0.1, 10.0, 1e4))
    values = rng.standard_normal(shape) * scale
    if ctx.special_values and values.size and ctx.chance(0.5):
        n = ctx.integer(1, max(1, values.size // 2))
        flat = values.reshape(-1)
        for i in rng.integers(0, flat.size, size=n):
            flat[i] = ctx.choice(SPECIALS)
    with np.errstate(over="ignore"):   # 1e30 in float16 is inf, as intended
        return np.asarray(values.astype(dtype))


def random_layout(ctx, shape):
    """How the leaf is seen: as it is, or as a non-contiguous view of another leaf."""
    kind = ctx.choice(("contiguous", "contiguous", "transpose", "slice", "expand"))
    if kind == "transpose" and len(shape) >= 2:
        a, b = sorted(ctx.rng.choice(len(shape), size=2, replace=False).tolist())
        return ("transpose", a, b)
    if kind == "slice" and len(shape) >= 1:
        return ("slice", ctx.integer(0, len(shape) - 1))
    wide = [d for d, s in enumerate(shape) if s > 1]
    if kind == "expand" and wide:
        return ("expand", ctx.choice(wide))
    return ("contiguous",)


def leaf_base_shape(view_shape, layout):
    """The shape of the leaf that the layout's view turns into ``view_shape``."""
    shape = list(view_shape)
    if layout[0] == "transpose":
        a, b = layout[1], layout[2]
        shape[a], shape[b] = shape[b], shape[a]
    elif layout[0] == "slice":
        shape[layout[1]] = shape[layout[1]] * 2
    elif layout[0] == "expand":
        shape[layout[1]] = 1
    return tuple(shape)


def related_shape(ctx):
    """A shape for a second tensor: the chain's, a broadcastable one, 0-d, or random."""
    shape = list(ctx.shape)
    kind = ctx.choice(("same", "same", "broadcast", "broadcast", "matrix", "zero_dim", "random"))
    if kind == "broadcast" and shape:
        shape = [1 if ctx.chance(0.4) else s for s in shape][ctx.integer(0, len(shape)):]
    elif kind == "matrix" and shape:
        shape = shape[:-2] + [shape[-1], ctx.choice((1, 2, 3))] if len(shape) >= 2 else [
            shape[-1], ctx.choice((1, 2))]
    elif kind == "zero_dim":
        shape = []
    elif kind == "random":
        shape = list(random_shape(ctx))
    return tuple(shape)


def other_dtype(ctx):
    if ctx.chance(0.75):
        return ctx.dtype
    return ctx.choice(FLOATS + INTEGERS + ("bool",))


# -- the table: parameter name -> generator ---------------------------------------------
def _tensor(ctx):
    return ctx.add_leaf(related_shape(ctx), other_dtype(ctx))


def _tensor_or_number(ctx):
    if ctx.chance(0.35):
        return _number(ctx)
    return _tensor(ctx)


def _number(ctx):
    return ctx.choice((0, 1, 2, -1, 3, 0.5, -1.5, 2.0, 0.0, 1e30, True, False, math.inf,
                       math.nan) if ctx.special_values else (1, 2, -1, 3, 0.5, -1.5, 2.0, True))


def _bool_tensor(ctx):
    shape = ctx.shape if ctx.chance(0.7) else related_shape(ctx)
    return ctx.add_leaf(shape, "bool", layout=True)


def _index_tensor(ctx):
    """Indices into the chain's ``dim`` (1-d, or shaped like the chain for gather)."""
    size = ctx.size_of(ctx.dim())
    shape = ctx.choice(((ctx.integer(0, 4),), tuple(min(s, 2) for s in ctx.shape),
                        ctx.shape, ()))
    low = -size if ctx.chance(0.2) else 0
    values = ctx.rng.integers(low, max(size, 1) + (1 if ctx.chance(0.05) else 0),
                              size=shape).astype("int64")
    return ctx.add_leaf(shape, "int64", values=values, layout=ctx.chance(0.3))


def _dim(ctx):
    return ctx.dim()


def _dim_or_dims(ctx):
    if ctx.chance(0.15):
        return None
    if ctx.ndim >= 2 and ctx.chance(0.2):
        dims = ctx.rng.choice(ctx.ndim, size=ctx.integer(1, ctx.ndim), replace=False)
        return tuple(int(d) for d in dims)
    return ctx.dim()


def _other_dim(key):
    return lambda ctx: ctx.dim(key)


def _permutation(ctx):
    return tuple(int(d) for d in ctx.rng.permutation(ctx.ndim))


def _new_shape(ctx):
    """A shape with the chain's element count (sometimes with a -1), or a broadcast target."""
    if ctx.chance(0.3):
        return _broadcast_target(ctx)
    n = int(np.prod(ctx.shape))
    factors, rest = [], n
    for _ in range(ctx.integer(0, 3)):
        divisors = [d for d in (1, 2, 3, 4, 5) if rest % d == 0] if rest else [0, 1, 2]
        d = ctx.choice(divisors)
        factors.append(d)
        rest = rest // d if d else rest
    factors.append(rest)
    if factors and ctx.chance(0.3):
        factors[ctx.integer(0, len(factors) - 1)] = -1
    return tuple(int(f) for f in ctx.rng.permutation(factors))


def _broadcast_target(ctx):
    target = [ctx.choice((2, 3)) if s == 1 and ctx.chance(0.6) else
              (-1 if ctx.chance(0.2) else s) for s in ctx.shape]
    return tuple([ctx.choice((1, 2))] * ctx.integer(0, 1) + target)


def _sizes(ctx):
    kind = ctx.choice(("broadcast", "repeat", "unflatten"))
    if kind == "broadcast":
        return _broadcast_target(ctx)
    if kind == "repeat":
        return tuple(ctx.choice((1, 1, 2, 3, 0)) for _ in range(ctx.ndim + ctx.integer(0, 1)))
    size = ctx.size_of(ctx.dim())
    for a in (2, 3, 1):
        if size % a == 0 and a <= max(size, 1):
            return (a, -1) if ctx.chance(0.5) else (a, size // a if a else 0)
    return (size,)


def _flip_dims(ctx):
    if ctx.ndim == 0:
        return ()
    dims = ctx.rng.choice(ctx.ndim, size=ctx.integer(1, ctx.ndim), replace=False)
    return tuple(int(d) for d in dims)


def _getitem_index(ctx):
    """A mix of ints, slices, None, Ellipsis, int lists and bool masks."""
    parts = []
    dims = list(ctx.shape)
    for size in dims[: ctx.integer(0, len(dims))]:
        kind = ctx.choice(("int", "slice", "slice", "none", "list", "ellipsis_once"))
        if kind == "int" and size:
            parts.append(ctx.integer(-size, size - 1))
        elif kind == "list" and size:
            parts.append([ctx.integer(-size, size - 1) for _ in range(ctx.integer(1, 3))])
        elif kind == "none":
            parts.append(None)
            parts.append(slice(None))
        elif kind == "ellipsis_once" and Ellipsis not in parts:
            parts.append(Ellipsis)
            break
        else:
            start = ctx.choice((None, 0, 1, -1))
            parts.append(slice(start, ctx.choice((None, size, -1)), ctx.choice((None, 1, 2))))
    if ctx.chance(0.1) and ctx.ndim:
        return ctx.add_leaf(ctx.shape, "bool", layout=False)
    return tuple(parts) if len(parts) != 1 else parts[0]


def _equation(ctx):
    letters = "ijkl"[: ctx.ndim]
    kind = ctx.choice(("permute", "reduce", "pair"))
    order = "".join(ctx.rng.permutation(list(letters)))
    if kind == "permute":
        return f"{letters}->{order}"
    if kind == "reduce":
        return f"{letters}->{order[: ctx.integer(0, len(order))]}"
    return f"{letters},{letters[-1:]}->{letters[:-1]}"


def _operands(ctx):
    equation = ctx.drawn.get("equation", "")
    if "," in equation:
        return [CHAIN, ctx.add_leaf((ctx.shape[-1],) if ctx.shape else (), ctx.dtype)]
    return [CHAIN]


def _tensors(ctx):
    tensors = [CHAIN]
    for _ in range(ctx.integer(0, 2)):
        shape = list(ctx.shape)
        if shape and ctx.chance(0.5):
            d = ctx.dim()
            if -len(shape) <= d < len(shape):
                shape[d] = ctx.integer(0, 3)
        tensors.append(ctx.add_leaf(tuple(shape), other_dtype(ctx)))
    return tensors


def _split_size(ctx):
    size = ctx.size_of(ctx.dim())
    if ctx.chance(0.5):
        return ctx.integer(1, max(size, 1))
    first = ctx.integer(0, size)
    return [first, size - first]


def _weight(ctx):
    """A weight shaped for a conv, a linear map, or per channel / per feature."""
    shape = ctx.shape
    kind = ctx.choice(("conv", "linear", "channel", "last"))
    if kind == "conv" and len(shape) >= 3:
        groups = ctx.drawn.setdefault("groups", ctx.choice((1, 1, 2)))
        c_in = max(shape[1] // groups, 1)
        k = tuple(ctx.integer(1, 2) for _ in shape[2:])
        w = (ctx.choice((2, 4)), c_in) + k
    elif kind == "linear" and shape:
        w = (ctx.integer(1, 3), shape[-1])
    elif kind == "channel" and len(shape) >= 2:
        w = (shape[1],)
    else:
        w = shape[-1:] if shape else ()
    return ctx.add_leaf(w, ctx.dtype)


def _bias(ctx):
    if ctx.chance(0.3):
        return None
    return ctx.add_leaf((ctx.choice((ctx.size_of(1), ctx.size_of(-1), 2, 4)),), ctx.dtype)


def _target(ctx):
    if ctx.chance(0.3) and ctx.ndim >= 1:   # class indices
        n_classes = ctx.size_of(1) if ctx.ndim >= 2 else ctx.size_of(0)
        shape = (ctx.shape[0],) + ctx.shape[2:] if ctx.ndim >= 2 else ()
        values = ctx.rng.integers(0, max(n_classes, 1), size=shape).astype("int64")
        return ctx.add_leaf(shape, "int64", values=values, layout=False)
    values = ctx.rng.random(ctx.shape).astype(ctx.dtype if ctx.dtype.startswith("float")
                                              else "float32")
    if ctx.special_values and values.size and ctx.chance(0.3):
        values.reshape(-1)[0] = ctx.choice((0.0, 1.0))
    return ctx.add_leaf(ctx.shape, str(values.dtype), values=values)


def _per_channel_stat(ctx):
    if ctx.chance(0.3):
        return None
    values = np.abs(ctx.rng.standard_normal(ctx.size_of(1))).astype(
        ctx.dtype if ctx.dtype.startswith("float") else "float32")
    return ctx.add_leaf(values.shape, str(values.dtype), values=values, requires_grad=False,
                        layout=False)


def _bound(ctx):
    if ctx.chance(0.3):
        return None
    if ctx.chance(0.3):
        return _tensor(ctx)
    return ctx.choice((0, -1, 1, 0.5, -0.5, 2.0, True))


def _dtype(ctx):
    return None if ctx.chance(0.6) else DType(ctx.choice(FLOATS + INTEGERS + ("bool",)))


def _normalized_shape(ctx):
    return tuple(ctx.shape[-ctx.integer(1, max(ctx.ndim, 1)):]) if ctx.ndim else (1,)


def _pad(ctx):
    return tuple(ctx.integer(0, 2) if not ctx.chance(0.1) else -1
                 for _ in range(2 * ctx.integer(1, max(min(ctx.ndim, 3), 1))))


def _output_size(ctx):
    n = max(ctx.ndim - 2, 1)
    size = tuple(ctx.integer(1, 3) for _ in range(n))
    return size[0] if n == 1 or ctx.chance(0.3) else size


def _small(low, high):
    return lambda ctx: ctx.integer(low, high)


def _one_of(*options):
    return lambda ctx: ctx.choice(options)


def _flag(ctx):
    return ctx.chance(0.5)


ARGUMENTS = {
    # tensors
    "other": _tensor_or_number, "vec": _tensor, "vec2": _tensor, "mat1": _tensor,
    "mat2": _tensor, "src": _tensor_or_number, "end": _tensor_or_number, "tensor1": _tensor,
    "tensor2": _tensor, "fill_value": _number, "data": lambda ctx: [1.0, -2.0, 0.5],
    "p": _small(1, 3), "input2": _tensor, "x2": _tensor, "B": _tensor,
    "key": _tensor, "exponent": _tensor_or_number, "value": _tensor_or_number,
    "condition": _bool_tensor, "mask": _bool_tensor, "index": _index_tensor,
    "indices": _index_tensor, "weight": _weight, "bias": _bias, "target": _target,
    "running_mean": _per_channel_stat, "running_var": _per_channel_stat,
    "tensors": _tensors, "operands": _operands, "equation": _equation,
    # dims
    "dim": _dim_or_dims, "dim0": _other_dim("dim0"), "dim1": _other_dim("dim1"),
    "source": _other_dim("source"), "destination": _other_dim("destination"),
    "start_dim": _other_dim("start_dim"), "end_dim": _other_dim("end_dim"),
    "dims": _flip_dims, "*dims": _permutation, "args": lambda ctx: (), "shape": _new_shape, "sizes": _sizes,
    "keepdim": _flag,
    # numbers
    "k": _small(0, 3), "chunks": _small(1, 4), "start": _small(-2, 2), "length": _small(0, 3),
    "diagonal": _small(-2, 2), "decimals": _small(0, 2), "n": _small(0, 2),
    "alpha": _one_of(1, 2, -1, 0.5, 0), "beta": _one_of(1, 0, 0.5, 2),
    "min": _bound, "max": _bound, "min_val": _one_of(-1.0, 0.0, -2), "max_val": _one_of(1.0, 6.0, 0.5),
    "rounding_mode": _one_of(None, "trunc", "floor"), "unbiased": _flag,
    "correction": _one_of(0, 1, 2), "descending": _flag, "stable": _flag, "largest": _flag,
    "sorted": _flag, "split_size_or_sections": _split_size, "dtype": _dtype,
    "kernel_size": _small(1, 3), "stride": _small(1, 2), "padding": _small(0, 1),
    "dilation": _small(1, 2), "groups": lambda ctx: ctx.drawn.setdefault("groups", 1),
    "ceil_mode": _flag, "count_include_pad": _flag, "output_size": _output_size, "pad": _pad,
    "size": _output_size, "negative_slope": _one_of(0.01, 0.2, -0.5),
    "approximate": _one_of("none", "tanh"), "threshold": _one_of(20.0, 1.0),
    "eps": _one_of(1e-5, 0.0, 1e-3), "momentum": _one_of(0.1, 0.0),
    "reduction": _one_of("mean", "sum", "none"), "training": _flag,
    "normalized_shape": _normalized_shape, "num_groups": _one_of(1, 2, 3),
    "label_smoothing": _one_of(0.0, 0.1), "ignore_index": _one_of(-100, 0, 1),
    "delta": _one_of(1.0, 0.5), "margin": _one_of(0.0, 0.5), "log_target": _flag,
    "lambd": _one_of(0.5, 0.0, 2.0),
    "upper": _flag, "as_tuple": _flag, "return_indices": _flag, "equal_nan": _flag,
    "inplace": _flag, "mode": _one_of("nearest", "constant"), "num_classes": _one_of(-1, 6),
}
# Parameters that are fine left at their default and that the table does not generate.
DEFAULT_ONLY = {"size_average", "reduce", "non_blocking", "copy", "device", "rtol", "atol",
                "_stacklevel", "recompute_scale_factor", "antialias", "align_corners"}


class Step(NamedTuple):
    entry: object            # catalogue.Entry
    args: tuple              # plans: CHAIN, LeafRef, DType, lists, literals
    kwargs: dict


def draw_step(ctx, entry):
    """Arguments for ``entry`` given the chain, or None when a required one has no generator."""
    parameters = list(entry.signature.parameters.values())
    chain_parameter = next((p.name for name in CHAIN_PARAMETERS for p in parameters
                            if p.name == name), None)
    if chain_parameter is None:
        return None
    args, kwargs, positional_open = [], {}, True
    for p in parameters:
        required = p.default is inspect.Parameter.empty and p.kind is not p.VAR_POSITIONAL
        if p.kind is p.VAR_KEYWORD:
            continue
        if p.name == chain_parameter and p.name not in ("tensors", "operands"):
            value = CHAIN
        elif p.kind is p.VAR_POSITIONAL and "*" + p.name in ARGUMENTS:
            value = ARGUMENTS["*" + p.name](ctx)
        elif p.name in ARGUMENTS and (required or p.kind is p.VAR_POSITIONAL or ctx.chance(0.4)):
            value = ARGUMENTS[p.name](ctx)
            if p.name == "equation":
                ctx.drawn["equation"] = value
        elif required:
            return None
        else:
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
                positional_open = False
            continue
        if p.kind is p.VAR_POSITIONAL and p.name in ("operands", "args"):
            args.extend(value)
        elif p.kind is p.VAR_POSITIONAL:   # PyTorch's function form: one tuple (x.view((2, 3)))
            args.append(tuple(value) if isinstance(value, (tuple, list)) else (value,))
        elif p.kind is p.KEYWORD_ONLY or not positional_open or not required:
            kwargs[p.name] = value
        else:
            args.append(value)
    return Step(entry, tuple(args), kwargs)


def fuzzable(entry):
    """False for operations with a required parameter the table cannot generate."""
    for p in entry.signature.parameters.values():
        if (p.default is inspect.Parameter.empty and p.kind in (p.POSITIONAL_ONLY,
                p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name not in ARGUMENTS
                and p.name not in CHAIN_PARAMETERS):
            return False
    return True
