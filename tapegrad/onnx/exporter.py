"""``export(model, args, f)``: a tapegrad model as an ONNX file, with PyTorch's signature.

How. The model runs once in eval mode while the tracer (``trace.py``) watches the tape;
each recorded operation becomes ONNX nodes (``ops_to_onnx.py``), and the parameters
and buffers become initializers under their ``named_parameters`` names. The graph is
the operations that ran for these inputs: Python control flow is resolved at trace
time, an RNN is unrolled over the traced sequence length, and dropout (in eval) is
gone.

The model then runs a second time, on the inputs' values shuffled and, along the
``dynamic_axes``, doubled in size. The two traces must record the same operations.
Comparing them tells which dims follow the dynamic axes (a reshape's target then says
0 or -1 there instead of the traced size), and finds tensors computed from the input
outside the tape (with numpy), which would be wrong as frozen constants: an error.
"""
import numpy as np

from ..autograd.tensor import Tensor, wrap
from .errors import ExportError, require_onnx
from .graph import GraphBuilder
from .ops_to_onnx import convert
from .trace import flatten_outputs, trace

DEFAULT_OPSET = 17
LOWEST_OPSET = 13
PARAMETERS_KEY = "tapegrad.parameters"   # metadata: which initializers are parameters


def export(model, args, f, input_names=None, output_names=None, dynamic_axes=None,
           opset_version=None):
    """Write ``model`` (run on ``args``) to ``f`` (a path or a binary file) as an ONNX graph.

    ``args``: a tensor or a tuple of tensors (a dict at the end holds keyword arguments).
    ``input_names``/``output_names`` name the graph's inputs and outputs (default
    ``input``/``output``, numbered when there are several). ``dynamic_axes`` maps such a
    name to the axes whose size may change, a list ``[0]`` or a dict ``{0: "batch"}``.
    ``opset_version``: the ONNX operator set (13 up to the installed onnx's; default 17).
    """
    onnx = require_onnx()
    opset = DEFAULT_OPSET if opset_version is None else int(opset_version)
    newest = onnx.defs.onnx_opset_version()
    if not LOWEST_OPSET <= opset <= newest:
        raise ValueError(f"tapegrad.onnx.export: opset_version must be between "
                         f"{LOWEST_OPSET} and {newest}, got {opset_version}")
    args, kwargs = _split_args(args)
    input_names = _names(input_names, "input", len(args))
    axes = _dynamic_axes(dynamic_axes)
    unknown = set(axes) - set(input_names) - set(output_names or [])
    if unknown and output_names is not None:
        raise ValueError(f"tapegrad.onnx.export: dynamic_axes names {sorted(unknown)}, which are "
                         f"neither input_names {input_names} nor output_names {output_names}")

    events, output = trace(model, args, kwargs)
    outputs = flatten_outputs(output)
    output_names = _names(output_names, "output", len(outputs))
    other_args = [_other_input(a, axes.get(name, {})) for a, name in zip(args, input_names)]
    twin_events, twin_output = trace(model, other_args, kwargs)
    twins = _pair(events, twin_events, args, other_args, outputs, flatten_outputs(twin_output))

    parameters = {id(p): (name, p) for name, p in model.named_parameters()}
    buffers = {id(b): (name, b) for name, b in model.named_buffers() if b is not None}
    g = GraphBuilder(onnx, opset, parameters, buffers, twins)
    graph_inputs = []
    for tensor, name in zip(args, input_names):
        g.fresh(name)
        g.bind(tensor, name)
        g.inputs.append((name, tensor))
        graph_inputs.append(_value_info(g, name, tensor, axes.get(name, {})))
    for event in events:
        g.op = event.op
        _check_versions(g, event)
        if event.attrs.get("overwrites"):   # an in-place write: the target now holds the result
            g.bind(event.outputs[0], g.value(event.inputs[0]), event.output_versions[0])
            continue
        for tensor, name, version in zip(event.outputs, convert(g, event),
                                         event.output_versions):
            g.bind(tensor, name, version)

    graph_outputs = []
    g.op = "output"
    for tensor, name in zip(outputs, output_names):
        g.fresh(name)
        g.nodes.append(onnx.helper.make_node("Identity", [g.value(tensor)], [name],
                                             name=g.fresh("output_identity")))
        graph_outputs.append(_value_info(g, name, tensor, axes.get(name, {})))

    graph = onnx.helper.make_graph(_used_nodes(g.nodes, output_names), type(model).__name__,
                                   graph_inputs, graph_outputs, g.initializers)
    proto = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", opset)],
                                   producer_name="tapegrad")
    onnx.helper.set_model_props(proto, {PARAMETERS_KEY: ",".join(g.parameter_names)})
    proto.ir_version = min(proto.ir_version, 10)   # readable by onnxruntime releases of 2024+
    _drop_unused_initializers(proto)
    onnx.checker.check_model(proto)
    onnx.save(proto, f)


# -- arguments --------------------------------------------------------------------------------
def _split_args(args):
    if isinstance(args, Tensor):
        return [args], {}
    args = list(args)
    kwargs = args.pop() if args and isinstance(args[-1], dict) else {}
    for i, a in enumerate(args):
        if not isinstance(a, Tensor):
            raise TypeError(f"tapegrad.onnx.export: args[{i}] is a {type(a).__name__}; the "
                            f"model's inputs must be tensors")
    return args, kwargs


def _names(names, stem, count):
    if names is None:
        return [stem] if count == 1 else [f"{stem}_{i}" for i in range(count)]
    names = list(names)
    if len(names) > count:
        raise ValueError(f"tapegrad.onnx.export: {len(names)} {stem} names {names} for "
                         f"{count} {stem}s")
    return names + [f"{stem}_{i}" for i in range(len(names), count)]


def _dynamic_axes(dynamic_axes):
    """{name: {axis: symbolic name}} from PyTorch's list or dict forms."""
    result = {}
    for name, spec in (dynamic_axes or {}).items():
        if isinstance(spec, dict):
            result[name] = {int(a): str(s) for a, s in spec.items()}
        else:
            result[name] = {int(a): f"{name}_dynamic_axes_{k + 1}" for k, a in enumerate(spec)}
    return result


def _other_input(tensor, dynamic):
    """The input of the second trace: the same values in another order, each dynamic axis
    twice as long (the tensor joined to itself), so sizes and data both change."""
    array = np.asarray(tensor.array)
    shuffled = np.random.default_rng(0).permutation(array.reshape(-1)).reshape(array.shape)
    for axis in dynamic:
        if not -array.ndim <= axis < array.ndim:
            raise ValueError(f"tapegrad.onnx.export: dynamic axis {axis} is out of range for an "
                             f"input of shape {tuple(array.shape)}")
        shuffled = np.concatenate([shuffled, shuffled], axis=axis)
    return wrap(tensor.device.xp.asarray(shuffled), tensor.device)


def _pair(events, twin_events, args, other_args, outputs, twin_outputs):
    """id(tensor) -> the same tensor in the second trace, after checking that both traces
    ran the same operations."""
    if [e.op for e in events] != [e.op for e in twin_events]:
        first = next((k for k, (a, b) in enumerate(zip(events, twin_events)) if a.op != b.op),
                     min(len(events), len(twin_events)))
        ops = [e.op for e in events[first:first + 3]]
        other = [e.op for e in twin_events[first:first + 3]]
        raise ExportError(
            f"tapegrad.onnx.export: the model runs other operations when its inputs have other "
            f"values or sizes along the dynamic axes (operation {first}: {ops} against "
            f"{other}, {len(events)} operations against {len(twin_events)}); a graph that "
            f"depends on the input (an RNN over a dynamic sequence length, data-dependent "
            f"branches) cannot be exported as one ONNX graph")
    twins = {}
    for a, b in zip(args, other_args):
        twins[id(a)] = b
    for e, t in zip(events, twin_events):
        for a, b in zip(e.inputs + e.outputs, t.inputs + t.outputs):
            if a is not None and b is not None:
                twins.setdefault(id(a), b)
        for key, value in e.attrs.items():
            if isinstance(value, Tensor) and isinstance(t.attrs.get(key), Tensor):
                twins.setdefault(id(value), t.attrs[key])
            index = value if key == "index" else None
            if isinstance(index, tuple):
                for x, y in zip(index, t.attrs[key]):
                    if isinstance(x, Tensor) and isinstance(y, Tensor):
                        twins.setdefault(id(x), y)
            elif isinstance(index, Tensor) and isinstance(t.attrs[key], Tensor):
                twins.setdefault(id(index), t.attrs[key])
    for a, b in zip(outputs, twin_outputs):
        twins.setdefault(id(a), b)
    return twins


def _check_versions(g, event):
    for tensor, version in zip(event.inputs, event.versions):
        if tensor is not None and g.knows(tensor):
            g.value(tensor, version)   # raises when it was changed in place unseen


def _value_info(g, name, tensor, dynamic):
    shape = [dynamic.get(i, dynamic.get(i - tensor.ndim, size)) for i, size in
             enumerate(tensor.shape)]
    if not dynamic:   # dims that change with the inputs' dynamic axes get a name of their own
        shape = [f"{name}_dim_{i}" if moving else size
                 for i, (size, moving) in enumerate(zip(tensor.shape, g.dynamic_dims(tensor)))]
    elem = g.helper.np_dtype_to_tensor_dtype(np.dtype(tensor.array.dtype))
    return g.helper.make_tensor_value_info(name, elem, shape)


def _used_nodes(nodes, output_names):
    """The nodes the outputs depend on (operations whose results were not used are left out)."""
    needed, kept = set(output_names), []
    for node in reversed(nodes):
        if any(o in needed for o in node.output):
            kept.append(node)
            needed.update(i for i in node.input if i)
    return list(reversed(kept))


def _drop_unused_initializers(proto):
    used = {i for node in proto.graph.node for i in node.input}
    kept = [t for t in proto.graph.initializer if t.name in used]
    del proto.graph.initializer[:]
    proto.graph.initializer.extend(kept)
    names = {t.name for t in kept}
    for prop in proto.metadata_props:
        if prop.key == PARAMETERS_KEY:
            prop.value = ",".join(n for n in prop.value.split(",") if n in names)
