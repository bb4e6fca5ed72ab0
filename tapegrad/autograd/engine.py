"""Reverse-mode differentiation: walk the tape backwards from the outputs.

1. Collect every Node reachable from the outputs with an explicit stack (no recursion,
   so a graph 100,000 operations deep is fine) and order them so that each Node comes
   after every Node that sends it a gradient (reverse post-order of a depth-first walk).
2. Visit the Nodes in that order. Each has, in its buffer, the sum of the gradients its
   consumers sent it; it applies the tensor hooks, calls its backward, and adds each
   returned gradient into the buffer of the Node at the other end of the edge.
3. AccumulateGrad Nodes add into ``leaf.grad`` (``backward``), or hand the gradient back
   to the caller (``grad``).

Unless ``retain_graph`` is set, each Node's saved values are freed once it has run.
"""
import warnings

from ..backend import CPU
from . import anomaly, grad_mode, profiler
from .quiet import quiet
from .tape import (AccumulateGrad, ZeroGradient, edge_to, freed_graph_message, memory_owner,
                   zero_gradient)
from .tensor import Tensor, wrap


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False):
    """Accumulate d(tensors)/d(leaf) · grad_tensors into the ``.grad`` of every leaf that requires it."""
    tensors, grad_tensors = _as_sequences(tensors, grad_tensors)
    roots = _root_gradients(tensors, grad_tensors, create_graph)
    if retain_graph is None:
        retain_graph = create_graph
    run(roots, retain_graph, create_graph)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=False):
    """d(outputs)/d(inputs) · grad_outputs, returned as a tuple; nothing is added to ``.grad``."""
    outputs, grad_outputs = _as_sequences(outputs, grad_outputs)
    single_input = not isinstance(inputs, (list, tuple))
    inputs = (inputs,) if single_input else tuple(inputs)
    targets = {}
    for i, t in enumerate(inputs):
        edge = edge_to(t)
        if edge is None:
            raise RuntimeError(f"autograd.grad: input {i} (shape {tuple(t.shape)}) does not "
                               f"require grad, so it has no gradient to return")
        targets.setdefault(edge, []).append(i)
    roots = _root_gradients(outputs, grad_outputs, create_graph)
    if retain_graph is None:
        retain_graph = create_graph
    captured = run(roots, retain_graph, create_graph, targets)
    results = []
    for i, t in enumerate(inputs):
        g = captured.get(i)
        if g is None and not allow_unused:
            raise RuntimeError(
                f"autograd.grad: input {i} (shape {tuple(t.shape)}) was not used to compute the "
                f"outputs; pass allow_unused=True to get None for it")
        results.append(g)
    return tuple(results)


def _as_sequences(tensors, grads):
    if isinstance(tensors, Tensor):
        tensors = (tensors,)
    if grads is None:
        grads = (None,) * len(tensors)
    elif isinstance(grads, Tensor):
        grads = (grads,)
    if len(grads) != len(tensors):
        raise RuntimeError(f"got {len(tensors)} tensors but {len(grads)} gradients for them")
    return tuple(tensors), tuple(grads)


def _root_gradients(tensors, grads, create_graph):
    """(edge, gradient) pairs to start from, with the gradients checked against the outputs."""
    roots = []
    for i, (t, g) in enumerate(zip(tensors, grads)):
        edge = edge_to(t)
        if edge is None:
            raise RuntimeError(
                f"element {i} of tensors does not require grad and does not have a grad_fn: "
                f"nothing on the tape leads back to a tensor with requires_grad=True")
        if g is None:
            if t.numel() != 1:
                raise RuntimeError(
                    f"grad can be implicitly created only for scalar outputs, but the output has "
                    f"shape {tuple(t.shape)}; pass gradient= (a tensor of that shape), or reduce "
                    f"the output first, e.g. loss.sum().backward()")
            g = wrap(t.device.xp.ones(t.array.shape, dtype=t.array.dtype), t.device)
        elif not isinstance(g, Tensor):
            raise TypeError(f"gradient must be a Tensor, got {type(g).__name__}")
        elif tuple(g.shape) != tuple(t.shape):
            raise RuntimeError(f"gradient has shape {tuple(g.shape)} but the output it belongs "
                               f"to has shape {tuple(t.shape)}")
        elif g.device != t.device:
            raise RuntimeError(f"gradient is on {g.device} but its output is on {t.device}")
        elif not create_graph:
            g = g.detach()
        roots.append((edge, g))
    return roots


def _topological_order(root_nodes):
    """Every reachable Node, each after all Nodes that send it gradients (iterative DFS)."""
    post_order, seen = [], set()
    for root in root_nodes:
        if root in seen:
            continue
        seen.add(root)
        stack = [(root, iter(root.next_edges))]
        while stack:
            node, children = stack[-1]
            for edge in children:
                if edge is not None and edge[0] not in seen:
                    seen.add(edge[0])
                    stack.append((edge[0], iter(edge[0].next_edges)))
                    break
            else:
                stack.pop()
                post_order.append(node)
    post_order.reverse()
    return post_order


def _nodes_leading_to(order, targets):
    """The Nodes from which some target edge can be reached (autograd.grad runs only these)."""
    target_nodes = {node for node, _ in targets}
    useful = set()
    for node in reversed(order):  # children before parents
        if node in target_nodes or any(e is not None and e[0] in useful for e in node.next_edges):
            useful.add(node)
    return useful


def run(roots, retain_graph, create_graph, targets=None):
    """Propagate the root gradients through the tape. With ``targets`` ({edge: [input index]}),
    return {input index: gradient} instead of accumulating into leaves."""
    order = _topological_order([edge[0] for edge, _ in roots])
    useful = None if targets is None else _nodes_leading_to(order, targets)
    buffers = {}
    sums = set()  # ids of gradient sums the engine made itself: safe to add into in place
    for (node, output_nr), g in roots:
        _add_to_buffer(buffers, node, output_nr, g, sums, create_graph)
    captured = {}
    # Memory a leaf must not adopt as its .grad: the caller's gradients, and (added as we
    # go) what another leaf already adopted.
    handed_out = {id(memory_owner(g.array)) for _, g in roots}
    previous_mode = grad_mode._enabled
    grad_mode._set_enabled(create_graph)
    if profiler.active is not None:
        profiler.active._depth += 1   # what runs during backward is not a forward call
    silenced = quiet(CPU.xp)   # a backward meets 1/0 and inf·0 as PyTorch does: silently
    silenced.__enter__()
    try:
        for node in order:
            grads = buffers.pop(node, None)
            if grads is None:
                continue
            if sums:
                for g in grads:  # ids are only meaningful while the tensor lives in a buffer
                    sums.discard(id(g))
            if useful is not None and node not in useful:
                continue
            if node.pre_hooks or node.retained or (type(node) is AccumulateGrad
                                                   and node.variable._hooks):
                grads = _apply_tensor_hooks(node, grads, handed_out)
            if targets is not None:
                for output_nr, g in enumerate(grads):
                    for index in targets.get((node, output_nr), ()):
                        captured[index] = (wrap(g.array, g.device)
                                           if type(g) is ZeroGradient else g)
            if isinstance(node, AccumulateGrad):
                if type(grads[0]) is ZeroGradient:   # a leaf's .grad is a plain tensor
                    grads = [wrap(grads[0].array, grads[0].device)]
                if targets is None and grads[0] is not None:
                    _accumulate(node.variable, grads[0], create_graph, handed_out)
                    if node.variable._post_accumulate_grad_hooks:
                        for hook in list(node.variable._post_accumulate_grad_hooks.values()):
                            hook(node.variable)
                continue
            if targets is not None and not any(
                    e is not None and e[0] in useful for e in node.next_edges):
                continue  # a target whose own inputs lead to no other target
            first = grads[0]   # (the common case, a real first gradient, tested cheaply)
            if (first is None or type(first) is ZeroGradient) and all(
                    g is None or type(g) is ZeroGradient for g in grads):
                input_grads = _from_structural_zeros(node, grads)
            else:
                input_grads = _call_backward(node, grads)
            if not retain_graph:
                node.release_saved()
            for edge, g in zip(node.next_edges, input_grads):
                if edge is not None and g is not None:
                    _add_to_buffer(buffers, edge[0], edge[1], g, sums, create_graph)
    finally:
        silenced.__exit__(None, None, None)
        grad_mode._set_enabled(previous_mode)
        if profiler.active is not None:
            profiler.active._depth -= 1
    return captured


def _add_to_buffer(buffers, node, output_nr, g, sums, create_graph):
    """Add ``g`` to the gradient waiting for output ``output_nr`` of ``node``.

    The first sum is a new tensor; later ones add into it in place (a weight used at every
    step of an RNN would otherwise allocate a new full-size gradient per step). Gradients
    that came from elsewhere are never changed in place, and with create_graph the sums
    stay on the tape.
    """
    slots = buffers.get(node)
    if slots is None:
        slots = buffers[node] = [None] * node.n_outputs
    waiting = slots[output_nr]
    if waiting is None or type(waiting) is ZeroGradient:
        slots[output_nr] = g
    elif type(g) is ZeroGradient:
        pass   # adding zero
    elif create_graph:
        slots[output_nr] = waiting + g   # recorded, so the sum is differentiated too
    elif id(waiting) in sums:
        waiting.array += g.array
    else:   # both were checked against the same input: one shape, dtype and device
        total = wrap(waiting.array + g.array, g.device)
        sums.add(id(total))
        slots[output_nr] = total


def _apply_tensor_hooks(node, grads, handed_out):
    """Run ``register_hook`` hooks (a hook may replace the gradient) and fill retained grads."""
    if node.pre_hooks:
        grads = list(grads)
        for output_nr, hooks in node.pre_hooks.items():
            for hook in list(hooks.values()):
                if grads[output_nr] is None:
                    break
                replaced = hook(grads[output_nr])
                if replaced is not None:
                    grads[output_nr] = replaced
                    handed_out.add(id(memory_owner(replaced.array)))
    if isinstance(node, AccumulateGrad) and node.variable._hooks:
        grads = list(grads)
        for hook in list(node.variable._hooks.values()):
            replaced = hook(grads[0])
            if replaced is not None:
                grads[0] = replaced
                handed_out.add(id(memory_owner(replaced.array)))
    if node.retained:
        for output_nr, tensor_ref in node.retained.items():
            tensor = tensor_ref()
            if tensor is not None and grads[output_nr] is not None:
                _accumulate(tensor, grads[output_nr], grad_mode._enabled, handed_out)
    return grads


# The operations whose PyTorch backward makes plain zeros of a structural zero (its kernel
# has no zero-tensor form: a where, a scatter into new zeros, a matrix product, a fused
# backward), per input: True where that input receives plain zeros. A plain zero then meets
# the slopes upstream (0·∞ = NaN), as in PyTorch. Every other operation (mul, div by a
# number, sin, exp, sum, reshape, cat…) passes structural zeros on.
_MAKES_PLAIN_ZEROS = {
    **dict.fromkeys([
        "neg", "where", "maximum", "minimum", "max", "min", "clamp", "masked_fill", "relu",
        "sigmoid", "tanh", "softmax", "log_softmax", "logsigmoid", "softplus", "gelu", "silu",
        "reciprocal", "mean", "cumsum", "flip", "expand",
        "broadcast_to", "slice", "select", "narrow", "diagonal", "split", "chunk", "unbind",
        "gather", "take_along_dim", "index_select", "embedding", "repeat", "pad", "sort",
        "topk", "layer_norm", "batch_norm", "group_norm", "cast", "outer", "matmul", "addmm",
        "tril", "triu", "unfold", "fold", "interpolate", "max_pool1d", "max_pool2d",
        "avg_pool1d", "avg_pool2d", "adaptive_avg_pool1d", "adaptive_avg_pool2d", "cholesky",
        "solve_triangular", "nextafter", "setitem", "fill", "cross_entropy"], True),
    # a where around g·slope: the zero meets the operation's own slope as a structural zero,
    # and only the result is plain ("zeros")
    "sinc": "zeros",
    # -g·…: neg's plain zeros for the second operand only
    "sub": (False, True), "rsub": (True, False), "div": (False, True), "fmod": (False, True),
    "remainder": (False, True), "copysign": (False, True), "xlogy": (True, False),
}


def _plain_zeros_rule(node):
    """``_MAKES_PLAIN_ZEROS``'s entry for ``node``, with the cases its name alone does not
    decide: x[None] is PyTorch's unsqueeze (which passes zeros on), other indexing a
    scatter into new zeros; x ** y with a tensor exponent (0-d too) a where, with a number not."""
    if node.op == "getitem":
        return node.pytorch_name not in ("UnsqueezeBackward0", "AliasBackward0")
    if node.op == "pow":
        return ("zeros", False) if len(node.input_meta) > 1 else False   # (a number is no input)
    if getattr(node.backward_fn, "materializes_zeros", False):   # floor's, sign's, logit's
        return True
    return _MAKES_PLAIN_ZEROS.get(node.op, False)


def _from_structural_zeros(node, grads):
    """The input gradients of ``node`` when only structural zeros (from ``sgn``) arrived:
    structural zeros again, without calling the backward, unless PyTorch's backward makes
    plain zeros of them (floor's and sign's backwards, ``_MAKES_PLAIN_ZEROS``): then the
    backward runs on plain zeros (True), or gives plain zeros without running ("zeros")."""
    plain = _plain_zeros_rule(node)
    if plain is False:
        return [None if edge is None else zero_gradient(*meta)
                for edge, meta in zip(node.next_edges, node.input_meta)]
    if not isinstance(plain, tuple):
        plain = (plain,) * len(node.next_edges)
    if True in plain:
        input_grads = _call_backward(node, [None if g is None else wrap(g.array, g.device)
                                            for g in grads])
    else:
        input_grads = [None] * len(node.next_edges)
    result = []
    for g, edge, meta, rule in zip(input_grads, node.next_edges, node.input_meta, plain):
        if edge is None:
            result.append(None)
        elif rule == "zeros":
            result.append(wrap(meta[2].xp.zeros(meta[0], dtype=meta[1]), meta[2]))
        else:
            result.append(g if rule is True else zero_gradient(*meta))
    return result


def _call_backward(node, grads):
    if node.backward_fn is None or node._saved_arrays_freed:
        raise RuntimeError(freed_graph_message(node))
    if node.n_outputs > 1 and node.materialize_grads:
        grads = [g if g is not None else
                 wrap(node._output_zeros(i), node._device_of_output())
                 for i, g in enumerate(grads)]
    try:
        if profiler.active is None:
            result = node.backward_fn(node, *grads)
        else:
            result = profiler.active.run_backward(node, lambda: node.backward_fn(node, *grads))
    except anomaly.AnomalyError as error:   # raised inside a backward: say which one
        created = f", created at {node.anomaly_trace}" if node.anomaly_trace else ""
        raise anomaly.AnomalyError(f"{error}\nwhile computing the backward of '{node.op}'"
                                   f"{created}") from None
    if not isinstance(result, (tuple, list)):
        result = (result,)
    if len(result) != len(node.next_edges):
        raise RuntimeError(f"the backward of '{node.op}' returned {len(result)} gradients, but "
                           f"'{node.op}' has {len(node.next_edges)} inputs")
    gradients = []
    for i, g in enumerate(result):
        edge_meta = node.input_meta[i]
        if (type(g) is Tensor and node.next_edges[i] is not None and g.array.shape == edge_meta[0]
                and g.array.dtype == edge_meta[1] and g.device is edge_meta[2]):
            gradients.append(g)   # the common case, checked inline with the cheapest tests
        else:
            gradients.append(_checked_gradient(node, i, g))
    if anomaly._enabled:
        anomaly.check_backward(node, gradients)
    return gradients


def _checked_gradient(node, index, g):
    """A gradient must match its input's shape and device; it is cast to the input's dtype."""
    if g is None or node.next_edges[index] is None:
        return None
    shape, dtype, device = node.input_meta[index]
    if (type(g) is Tensor and g.array.shape == shape and g.array.dtype == dtype
            and g.device is device):
        return g   # the common case, checked with the cheapest tests first
    if not isinstance(g, Tensor):
        raise TypeError(f"the backward of '{node.op}' returned a {type(g).__name__} as gradient "
                        f"{index}; gradients must be Tensors (or None)")
    if tuple(g.shape) != tuple(shape):
        raise RuntimeError(f"the backward of '{node.op}' returned a gradient of shape "
                           f"{tuple(g.shape)} for input {index}, which has shape {tuple(shape)}")
    if g.device != device:
        raise RuntimeError(f"the backward of '{node.op}' returned a gradient on {g.device} for "
                           f"input {index}, which is on {device}")
    if g.array.dtype != dtype:
        from ..dtypes import from_numpy
        g = g.to(from_numpy(dtype))
    return g


def _accumulate(tensor, g, create_graph, handed_out):
    """tensor.grad += g. Without create_graph, in place into the existing buffer; a fresh
    gradient array is adopted as ``.grad`` (no copy) unless something else may hold it too."""
    if create_graph:
        tensor._grad = g if tensor._grad is None else tensor._grad + g
        return
    if tensor._grad is None:
        array = g.array
        owner = memory_owner(array)
        if id(owner) in handed_out or owner.size != array.size or not array.flags.c_contiguous:
            array = g.device.xp.asarray(array, copy=True)  # shared, partial or strided: copy
            owner = array
        handed_out.add(id(owner))
        tensor._grad = wrap(array, g.device)
    else:
        target = tensor._grad
        if target.grad_fn is not None or target._requires_grad:
            tensor._grad = target.detach() + g.detach()
        else:
            target.array += g.array
            target._version_counter.bump("accumulate_grad")


def warn_non_leaf_grad():
    warnings.warn(
        "the .grad of a tensor that is not a leaf is not filled in by backward(); call "
        ".retain_grad() on it before backward() if you want it, or take the gradient of the "
        "leaf it was computed from", UserWarning, stacklevel=3)
