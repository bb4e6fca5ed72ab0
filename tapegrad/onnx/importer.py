"""``load(path)``: an ONNX graph as a tapegrad Module you can train and explain.

The graph's initializers become the module's state: those that are parameters (as
tapegrad's exporter marks them, or, for a graph from elsewhere, every floating-point
initializer of more than one element) are Parameters that require grad, under their
ONNX names ("0.weight" is the parameter ``weight`` of a submodule ``0``, so
``state_dict()`` keys match the exporting model's); the others are buffers. ``forward``
runs the nodes in order with tapegrad operations (``onnx_to_ops.py``), so gradients
flow back to the parameters and to the inputs.
"""
from ..autograd.tensor import wrap
from ..backend import CPU
from ..nn.module import Module
from ..nn.parameter import Parameter
from .errors import OnnxImportError, require_onnx
from .exporter import PARAMETERS_KEY
from .onnx_to_ops import IMPORTERS


class OnnxModule(Module):
    """A Module that runs an ONNX graph (made by ``tapegrad.onnx.load``)."""

    def __init__(self, proto):
        super().__init__()
        onnx = require_onnx()
        graph = proto.graph
        marked = {p.key: p.value for p in proto.metadata_props}.get(PARAMETERS_KEY)
        parameters = set(marked.split(",")) if marked is not None else None
        self._nodes = list(graph.node)
        self._attributes = [{a.name: _decoded(onnx.helper.get_attribute_value(a))
                             for a in node.attribute} for node in self._nodes]
        self._initializers = {}   # ONNX name -> (owning module, attribute name)
        for initializer in graph.initializer:
            array = onnx.numpy_helper.to_array(initializer).copy()
            tensor = wrap(CPU.xp.asarray(array), CPU)
            is_parameter = (initializer.name in parameters if parameters is not None
                            else array.dtype.kind == "f" and array.size > 1)
            owner, attribute = self._owner(initializer.name)
            if is_parameter:
                owner.register_parameter(attribute, Parameter(tensor))
            else:
                owner.register_buffer(attribute, tensor)
            self._initializers[initializer.name] = (owner, attribute)
        names = set(self._initializers)
        self.input_names = [i.name for i in graph.input if i.name not in names]
        self.output_names = [o.name for o in graph.output]
        opset = max((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")),
                    default=0)
        if opset < 13:
            # Before opset 13, Softmax, Split, Squeeze, ReduceSum … meant other things (a
            # Softmax without axis flattened to 2-D at axis 1): refused rather than misread.
            raise OnnxImportError(f"tapegrad.onnx.load: the graph uses ONNX opset {opset}; "
                                  f"tapegrad reads opset 13 and newer (onnx.version_converter "
                                  f"can convert the model)")
        for node in self._nodes:
            if node.op_type not in IMPORTERS or node.domain not in ("", "ai.onnx"):
                raise OnnxImportError(f"tapegrad.onnx.load: the ONNX operator "
                                      f"'{node.op_type}' (node {node.name!r}) has no tapegrad "
                                      f"form (it reads: {', '.join(sorted(IMPORTERS))})")

    def _owner(self, name):
        """The submodule that holds ``name`` ("a.b.weight": submodule a, then b), made as
        needed, and the attribute name in it."""
        *path, attribute = name.split(".")
        if not all(path) or not attribute:
            raise OnnxImportError(f"tapegrad.onnx.load: the initializer name {name!r} has an "
                                  f"empty part; tapegrad names state 'module.submodule.name'")
        owner = self
        for part in path:
            child = owner._modules.get(part)
            if child is None:
                child = Module()
                owner.add_module(part, child)
            owner = child
        return owner, attribute

    def forward(self, *inputs):
        if len(inputs) != len(self.input_names):
            raise TypeError(f"OnnxModule: the graph takes {len(self.input_names)} inputs "
                            f"{self.input_names}, got {len(inputs)}")
        values = {name: getattr(owner, attribute)
                  for name, (owner, attribute) in self._initializers.items()}
        values.update(zip(self.input_names, inputs))
        for node, attributes in zip(self._nodes, self._attributes):
            args = [values[name] if name else None for name in node.input]
            while args and args[-1] is None:
                args.pop()
            try:
                results = IMPORTERS[node.op_type](args, attributes)
            except (RuntimeError, TypeError, ValueError, IndexError) as error:
                raise OnnxImportError(f"tapegrad.onnx.load: node {node.name!r} "
                                      f"({node.op_type}) failed: {error}") from error
            values.update(zip(node.output, results))
        outputs = tuple(values[name] for name in self.output_names)
        return outputs[0] if len(outputs) == 1 else outputs

    def extra_repr(self):
        return f"inputs={self.input_names}, outputs={self.output_names}, nodes={len(self._nodes)}"


def _decoded(value):
    """ONNX string attributes arrive as bytes (auto_pad=b"NOTSET"): as str."""
    return value.decode() if isinstance(value, bytes) else value


def load(path):
    """The ONNX model at ``path`` (a file name, a binary file, or a ModelProto) as an
    ``OnnxModule`` whose parameters require grad."""
    onnx = require_onnx()
    proto = path if isinstance(path, onnx.ModelProto) else onnx.load(path)
    return OnnxModule(proto)


__all__ = ["OnnxModule", "load"]
