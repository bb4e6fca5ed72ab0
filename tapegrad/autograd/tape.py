"""The tape: one Node per recorded operation, and `record`, which every operation calls.

An operation computes its result as a backend array, then calls
``record(name, result, inputs, backward, save=...)``. When some input requires
grad (and grad mode is on) that creates a Node holding

* where gradients go next: one edge per input, to the input's own Node (or, for a
  leaf, to the AccumulateGrad node that adds into ``leaf.grad``);
* the values its backward needs (``save=``), each stamped with its tensor's version,
  so an in-place change made after saving is caught instead of giving wrong gradients;
* the backward function itself, ``backward(ctx, grad) -> one gradient per input``,
  written with tensor operations so that with ``create_graph=True`` the backward pass
  is recorded too and can be differentiated again.

The Node is also the ``ctx`` its backward receives: ``ctx.saved_tensors`` and
``ctx.needs_input_grad`` work as in a user's own ``autograd.Function``.

Observers. Tools that want to see every operation as it runs (the profiler, the ONNX
tracer) put a function on ``observers``; while the list is non-empty, ``record`` and
``record_many`` call each one with ``(op, inputs, outputs, node, attrs)``, whether or
not a Node was made (``node`` is then None): ``outputs`` is a tuple of the result
tensors, ``attrs`` a dict of the operation's arguments that are not tensors (dims,
shapes, strides …) that some operations pass with ``attrs=``. With no observer
installed this costs one test of an empty list.
"""
import weakref

from . import anomaly, grad_mode
from .tensor import Tensor, wrap
from .version import VersionCounter  # noqa: F401  (re-exported for callers of tape)

OUTPUT = object()  # in ``save=``, stands for the operation's own result

observers = []  # functions called with (op, inputs, outputs, node, attrs) for every operation


def add_observer(observer):
    """Start calling ``observer(op, inputs, outputs, node, attrs)`` for every recorded operation."""
    observers.append(observer)


def remove_observer(observer):
    """Stop calling ``observer`` (it must have been added)."""
    observers.remove(observer)


def notify(op, inputs, outputs, node, attrs):
    """Tell every observer about one operation (only called while there is one)."""
    for observer in tuple(observers):   # (a copy: an observer may remove itself)
        observer(op, inputs, outputs, node, attrs)


class RemovableHandle:
    """Returned by ``register_hook``; ``handle.remove()`` takes the hook away again."""

    _next_id = 0

    def __init__(self, hooks):
        self._hooks = hooks
        RemovableHandle._next_id += 1
        self.id = RemovableHandle._next_id

    def remove(self):
        self._hooks.pop(self.id, None)


class Node:
    """One recorded operation: what its backward needs and where the gradients go next."""

    __slots__ = ("op", "backward_fn", "next_edges", "needs_input_grad", "input_meta", "_saved",
                 "_saved_arrays_freed", "pre_hooks", "retained", "n_outputs", "non_differentiable",
                 "materialize_grads", "anomaly_trace", "output_meta", "pytorch_name",
                 "__weakref__")

    def __init__(self, op, backward_fn, inputs, n_outputs=1):
        self.op = op
        self.backward_fn = backward_fn
        edges, meta = [], []
        for t in inputs:
            edges.append(edge_to(t))
            meta.append(None if t is None else (t.array.shape, t.array.dtype, t.device))
        self.next_edges = tuple(edges)
        self.needs_input_grad = tuple(e is not None for e in edges)
        self.input_meta = tuple(meta)
        self._saved = ()
        self._saved_arrays_freed = False
        self.pre_hooks = None      # {output index: {handle id: hook}} from Tensor.register_hook on outputs
        self.retained = None       # {output index: weakref to a tensor that called retain_grad()}
        self.n_outputs = n_outputs
        self.non_differentiable = ()
        self.materialize_grads = True
        self.anomaly_trace = None
        self.output_meta = None   # (shape, dtype, device) per output, for multi-output nodes
        self.pytorch_name = None  # name() when the operation alone does not decide it (indexing)

    # -- what backward sees as ctx --------------------------------------------------------
    def save(self, tensors, outputs=()):
        """Keep ``tensors`` for backward, each stamped with its current version."""
        entries = []
        for t in tensors:
            if t is OUTPUT:
                t = outputs[0]
                entries.append((None, t.array, t._version_counter, t._version_counter.value, 0))
            elif t is None:
                entries.append(None)
            elif t.grad_fn is self:   # an output of this very node (custom Functions)
                entries.append((None, t.array, t._version_counter, t._version_counter.value,
                                t._output_nr))
            else:
                entries.append((t, None, t._version_counter, t._version_counter.value, None))
        self._saved = tuple(entries)

    @property
    def saved_tensors(self):
        """The saved tensors, after checking that none changed in place since it was saved."""
        if self._saved_arrays_freed:
            raise RuntimeError(freed_graph_message(self))
        unpacked = []
        for entry in self._saved:
            if entry is None:
                unpacked.append(None)
                continue
            tensor, array, counter, version, output_nr = entry
            if counter.value != version:
                raise RuntimeError(inplace_error_message(self, tensor, array, counter, version))
            if tensor is None:
                # Our own output: rebuilt around the saved array with this node as its
                # grad_fn, so a create_graph backward differentiates through it correctly.
                tensor = wrap(array, self._device_of_output())
                tensor.grad_fn = self
                tensor._output_nr = output_nr
                tensor._version_counter = counter
            unpacked.append(tensor)
        return tuple(unpacked)

    def _device_of_output(self):
        for meta in self.input_meta:
            if meta is not None:
                return meta[2]
        from ..backend import CPU
        return CPU

    def _output_zeros(self, index):
        """Zeros in the shape of output ``index`` (for a multi-output node whose other
        outputs received gradients but this one did not)."""
        shape, dtype, device = self.output_meta[index]
        return device.xp.zeros(shape, dtype=dtype)

    def release_saved(self):
        """Drop the saved values (backward without retain_graph); a second backward then fails."""
        if self._saved:
            self._saved = ()
            self._saved_arrays_freed = True

    # -- introspection, as PyTorch names it ----------------------------------------------
    def name(self):
        """PyTorch's name for this node: ``MulBackward0`` (PyTorch numbers the overloads of
        one function; most nodes are overload 0)."""
        if self.pytorch_name is not None:
            return self.pytorch_name
        known = _PYTORCH_NAMES.get(self.op) or _named_by_operands(self)
        if known is not None:
            return known
        return "".join(part[:1].upper() + part[1:] for part in self.op.split("_")) + "Backward0"

    @property
    def next_functions(self):
        return tuple((None, 0) if e is None else e for e in self.next_edges)

    def register_prehook_for_output(self, output_nr, hook):
        if self.pre_hooks is None:
            self.pre_hooks = {}
        hooks = self.pre_hooks.setdefault(output_nr, {})
        handle = RemovableHandle(hooks)
        hooks[handle.id] = hook
        return handle

    def __repr__(self):
        return f"<{self.name()}>"


# The nodes PyTorch names after another function than the one tapegrad records
_PYTORCH_NAMES = {"cast": "ToCopyBackward0", "to_device": "ToCopyBackward0",
                  "copy": "CopyBackwards", "numpy_T": "PermuteBackward0",
                  "matrix_transpose": "TransposeBackward0", "reshape": "ViewBackward0",
                  "flatten": "ViewBackward0", "chunk": "SplitBackward0",
                  "clamp": "ClampBackward1", "getitem": "IndexBackward0",
                  "setitem": "CopySlices"}


def _named_by_operands(node):
    """PyTorch's name where it depends on the operands: pow and rsub have one overload for
    two tensors and one for a tensor and a number; matmul is mm, dot or mv by their dims."""
    if node.op == "pow":
        return "PowBackward1" if len(node.next_edges) == 2 else "PowBackward0"
    if node.op == "rsub":
        return "RsubBackward0" if len(node.next_edges) == 2 else "RsubBackward1"
    if node.op == "matmul":
        dims = tuple(len(meta[0]) for meta in node.input_meta)
        return {(2, 2): "MmBackward0", (1, 1): "DotBackward0", (2, 1): "MvBackward0"}.get(dims)
    return None


class AccumulateGrad(Node):
    """The end of every path back to a leaf: adds the arriving gradient into ``leaf.grad``."""

    __slots__ = ("variable",)

    def __init__(self, variable):
        super().__init__("accumulate_grad", None, ())
        self.variable = variable
        self.input_meta = ((variable.array.shape, variable.array.dtype, variable.device),)

    def name(self):
        return "AccumulateGrad"


def edge_to(tensor):
    """Where a gradient for ``tensor`` must be sent: its Node and output index, or None."""
    if tensor is None:
        return None
    if tensor.grad_fn is not None:
        return (tensor.grad_fn, tensor._output_nr)
    if tensor._requires_grad:
        return (accumulator_of(tensor), 0)
    return None


def accumulator_of(leaf):
    """The one AccumulateGrad node of a leaf (made on first use, then shared by every use).

    The leaf refers to it weakly: the graph keeps it alive, and it keeps the leaf alive.
    """
    node = leaf._accumulator() if leaf._accumulator is not None else None
    if node is None:
        node = AccumulateGrad(leaf)
        leaf._accumulator = weakref.ref(node)
    return node


class ZeroGradient(Tensor):
    """A gradient known to be zero by construction (PyTorch's "zero tensor"): the engine
    passes it on without calling the backwards it reaches, so nothing upstream multiplies
    it by an infinite or NaN slope (0·∞ = NaN), and a leaf receives plain zeros.
    ``sgn``'s backward sends it; a gradient that also receives a real one just takes that."""

    __slots__ = ()


def zero_gradient(shape, dtype, device):
    """A ZeroGradient of this shape, numpy dtype and device."""
    made = wrap(device.xp.zeros(shape, dtype=dtype), device)
    zero = ZeroGradient.__new__(ZeroGradient)
    for slot in Tensor.__slots__[:-1]:
        setattr(zero, slot, getattr(made, slot))
    return zero


def record(op, result, inputs, backward, save=(), attrs=None):
    """Wrap the array ``result`` in a tensor and, if any input requires grad, put a Node on the tape.

    ``inputs`` are the tensors the gradient flows back to (``None`` for an argument that
    is not one); ``backward(ctx, grad)`` returns one gradient per input. ``attrs`` (a dict)
    describes the operation's other arguments to observers; the tape itself ignores it.
    """
    if anomaly._enabled:
        anomaly.check_forward(op, result, inputs)
    out = wrap(result, inputs[0].device)
    if grad_mode._enabled:
        for t in inputs:
            if t is not None and (t._requires_grad or t.grad_fn is not None):
                node = Node(op, backward, inputs)
                if anomaly._enabled:
                    node.anomaly_trace = anomaly.user_frame()
                if save:
                    node.save(save, (out,))
                out.grad_fn = node
                break
    if observers:
        notify(op, inputs, (out,), out.grad_fn, attrs)
    return out


def record_many(op, results, inputs, backward, save=(), attrs=None):
    """``record`` for an operation with several results (``split``, ``unbind``…): one Node
    with one output per result. ``backward(ctx, *grads)`` gets a gradient for every result
    (zeros for those that received none) and returns one gradient per input."""
    device = inputs[0].device
    if anomaly._enabled:
        for result in results:
            anomaly.check_forward(op, result, inputs)
    outs = [wrap(result, device) for result in results]
    if grad_mode._enabled and any(
            t is not None and (t._requires_grad or t.grad_fn is not None) for t in inputs):
        node = Node(op, backward, inputs, n_outputs=len(outs))
        node.output_meta = tuple((r.shape, r.dtype, device) for r in results)
        if anomaly._enabled:
            node.anomaly_trace = anomaly.user_frame()
        for index, out in enumerate(outs):
            out.grad_fn = node
            out._output_nr = index
        if save:
            node.save(save, outs)
    if observers:
        notify(op, inputs, tuple(outs), outs[0].grad_fn if outs else None, attrs)
    return outs


# -- error messages that name the operation and the values --------------------------------
def describe_array(array):
    return f"shape {tuple(array.shape)}, dtype {array.dtype}"


def inplace_error_message(node, tensor, array, counter, version):
    what = (f"a tensor of {describe_array(tensor.array)} (an input of '{node.op}')"
            if tensor is not None else f"the output of '{node.op}' ({describe_array(array)})")
    changed_by = f" by '{counter.last_inplace_op}'" if counter.last_inplace_op else ""
    lines = [f"one of the tensors needed for gradient computation has been modified by an "
             f"in-place operation: {what} was saved by '{node.op}' at version {version}, and "
             f"has been changed{changed_by} to version {counter.value}."]
    if node.anomaly_trace is not None:
        lines.append(f"'{node.op}' was called at {node.anomaly_trace}")
    if counter.last_inplace_where is not None:
        lines.append(f"'{counter.last_inplace_op}' was called at {counter.last_inplace_where}")
    if node.anomaly_trace is None and counter.last_inplace_where is None:
        lines.append("(Turn on tapegrad.autograd.set_detect_anomaly(True) to see the lines.)")
    lines.append("Make the in-place change on a copy (x = x.clone()) or use the out-of-place "
                 "form (x = x + y instead of x += y).")
    return "\n".join(lines)


def freed_graph_message(node):
    created = f" ('{node.op}' was called at {node.anomaly_trace})" if node.anomaly_trace else ""
    return (f"trying to backward through the graph a second time: the values that '{node.op}' "
            f"saved for its backward were freed after the first backward{created}. Pass "
            f"retain_graph=True to the first backward() (or autograd.grad) if you need to go "
            f"through the graph again.")


def is_view_of(xp, result, source):
    """Whether the array ``result`` looks into ``source``'s memory. An empty view shares no
    bytes (may_share_memory says no), so it is known by the array it was taken from: it is
    still a view, as PyTorch's transposes and slices of empty tensors are."""
    if result.size:
        return bool(xp.may_share_memory(result, source))
    return memory_owner(result) is memory_owner(source)


def memory_owner(array):
    """The array that owns the memory ``array`` looks into (itself if it is not a view)."""
    while getattr(array, "base", None) is not None:
        array = array.base
    return array


def mark_view(out, base):
    """``out`` shares ``base``'s memory: it shares its version counter too, so an in-place
    change through either one is seen by everything that saved the other."""
    out._version_counter = base._version_counter
    out._base = base if base._base is None else base._base
    return out


def own_result(out):
    """``out``, a reshape of a temporary that an operation made and dropped (conv1d is conv2d
    on an unsqueezed input, squeezed back), as the operation's own result: not a view, so
    it may be changed in place, as PyTorch's result of the one operation may. It keeps the
    shared version counter, so a saved copy of the temporary still notices such a change."""
    out._base = None
    return out
