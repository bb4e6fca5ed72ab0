"""A model's forward pass as a TensorBoard ``GraphDef``, with a box for every module.

``trace`` runs the forward pass once and notes each module call: its path in the model
(``layer1.0.conv1``), the tensors it received and the tensors it returned. ``graph_def``
then asks ``tapegrad.autograd.graph`` for the tape behind the outputs (and behind the
noted tensors, so it can say which node each of them is) and turns every node into a
``NodeDef`` whose ``input`` lists the names of the nodes it reads.

A node's name carries "/" scopes, which TensorBoard folds into boxes. An operation sits in
the innermost module call that computed it: the nodes met walking back from the call's
outputs before reaching its inputs. So ``ResNet/layer1/0/bn1/mul_12`` is a multiplication
inside ``layer1[0].bn1``; parameters sit in their module (``ResNet/fc/weight``), the inputs
are ``input/input.k`` and the results feed ``output/output.k``.
"""
from tensorboard.compat.proto.attr_value_pb2 import AttrValue
from tensorboard.compat.proto.graph_pb2 import GraphDef
from tensorboard.compat.proto.node_def_pb2 import NodeDef
from tensorboard.compat.proto.tensor_shape_pb2 import TensorShapeProto
from tensorboard.compat.proto.versions_pb2 import VersionDef

from ...autograd.graph import graph as tape_graph
from ...autograd.tensor import Tensor, wrap


def _tensors(value):
    """The tensors in a module's arguments or result (a tensor, or a tuple/list/dict of them)."""
    if isinstance(value, Tensor):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (tuple, list)):
        return [t for item in value for t in _tensors(item)]
    return []


def _as_it_is_now(tensor):
    """A stand-in for ``tensor`` that keeps the operation that made it so far.

    An in-place operation later (``ReLU(inplace=True)``) gives the tensor a newer
    ``grad_fn``; the stand-in keeps the current one, so the call that returned the tensor
    ends where it did. It shares the values and serves only as a starting point of graph().
    """
    if tensor.grad_fn is None:
        return tensor
    stand_in = wrap(tensor.array, tensor.device)
    stand_in.grad_fn = tensor.grad_fn
    return stand_in


def trace(model, inputs):
    """``model(*inputs)``, and its module calls as ``(path, input tensors, output tensors)``,
    each tensor as it was when the call began or ended."""
    calls, started = [], {}

    def note_start(path):
        def hook(module, args):
            started.setdefault(path, []).append([_as_it_is_now(t) for t in _tensors(args)])
        return hook

    def note_end(path):
        def hook(module, args, output):
            results = [_as_it_is_now(t) for t in _tensors(output)]
            calls.append((path, started[path].pop(), results))
        return hook

    handles = []
    for path, module in model.named_modules():
        if path:
            handles.append(module.register_forward_pre_hook(note_start(path)))
            handles.append(module.register_forward_hook(note_end(path)))
    try:
        outputs = model(*inputs)
    finally:
        for handle in handles:
            handle.remove()
    return _tensors(outputs), calls


def _shape_attr(shape):
    dims = [TensorShapeProto.Dim(size=size) for size in shape]
    return AttrValue(list=AttrValue.ListValue(shape=[TensorShapeProto(dim=dims)]))


def _reachable(g, starts):
    """The ids of the nodes that feed ``starts`` (included), walking the edges backwards."""
    seen, stack = set(), list(starts)
    while stack:
        node_id = stack.pop()
        if node_id not in seen:
            seen.add(node_id)
            stack.extend(g.nodes[node_id].inputs)
    return seen


def _module_of(g, calls, call_roots):
    """{node id: path of the innermost module call that computed it}."""
    module = {}
    for (path, _, _), (input_ids, output_ids) in zip(calls, call_roots):
        stop, stack, seen = set(input_ids), list(output_ids), set()
        while stack:
            node_id = stack.pop()
            node = g.nodes[node_id]
            if node_id in stop or node_id in seen or node.kind != "op":
                continue
            seen.add(node_id)
            if len(path) > len(module.get(node_id, "")):  # a child's path extends its parent's
                module[node_id] = path
            stack.extend(node.inputs)
    return module


def graph_def(outputs, model, inputs, calls=()):
    """A GraphDef of the tape from ``inputs`` and ``model``'s parameters to ``outputs``,
    with the module calls ``calls`` (from ``trace``) as scopes."""
    input_labels = [f"input/input.{k}" for k in range(len(inputs))]
    # graph() names the leaves it finds in params: the inputs, then the model's weights.
    named = list(zip(input_labels, inputs)) + list(model.named_parameters())
    noted = [t for _, args, results in calls for t in args + results]
    g = tape_graph(list(outputs) + noted, params=named)
    output_ids = g.roots[:len(outputs)]
    call_roots, position = [], len(outputs)
    for _, args, results in calls:
        middle, end = position + len(args), position + len(args) + len(results)
        call_roots.append((g.roots[position:middle], g.roots[middle:end]))
        position = end
    module = _module_of(g, calls, call_roots)
    scope = type(model).__name__

    def name_of(node):
        if node.kind == "parameter" and node.label in input_labels:
            return node.label
        if node.kind == "parameter":
            return f"{scope}/{node.label.replace('.', '/')}"
        inner = module.get(node.id)
        where = f"{scope}/{inner.replace('.', '/')}" if inner else scope
        what = node.op if node.kind == "op" else "constant"  # a leaf made inside forward
        return f"{where}/{what}_{node.id}"

    kept = sorted(_reachable(g, output_ids))
    names = {node_id: name_of(g.nodes[node_id]) for node_id in kept}
    nodes = []
    for node_id in kept:
        node = g.nodes[node_id]
        if node.kind == "parameter":
            op = "IO Node" if node.label in input_labels else "Parameter"
        else:
            op = "Constant" if node.kind == "leaf" else node.op
        attrs = {"_output_shapes": _shape_attr(node.shape),
                 "attr": AttrValue(s=f"{node.dtype} on {node.device}".encode())}
        nodes.append(NodeDef(name=names[node_id], op=op, device=node.device,
                             input=[names[i] for i in node.inputs], attr=attrs))
    for k, root in enumerate(output_ids):
        nodes.append(NodeDef(name=f"output/output.{k}", op="IO Node", input=[names[root]],
                             attr={"_output_shapes": _shape_attr(g.nodes[root].shape)}))
    return GraphDef(node=nodes, versions=VersionDef(producer=22))
