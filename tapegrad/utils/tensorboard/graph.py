"""The tape of a model's forward pass as a TensorBoard ``GraphDef``.

``tapegrad.autograd.graph`` gives the nodes (operations, inputs, parameters) and which feeds
which; each becomes a ``NodeDef`` whose ``input`` lists the names of the nodes it reads.
Names carry "/" scopes, which TensorBoard folds into boxes: everything sits in a box named
after the model's class, parameters inside boxes named after their modules
(``fc.weight`` -> ``ResNet/fc/weight``), and the results feed ``output`` nodes.
"""
from tensorboard.compat.proto.attr_value_pb2 import AttrValue
from tensorboard.compat.proto.graph_pb2 import GraphDef
from tensorboard.compat.proto.node_def_pb2 import NodeDef
from tensorboard.compat.proto.tensor_shape_pb2 import TensorShapeProto
from tensorboard.compat.proto.versions_pb2 import VersionDef

from ...autograd.graph import graph as tape_graph


def _shape_attr(shape):
    dims = [TensorShapeProto.Dim(size=size) for size in shape]
    return AttrValue(list=AttrValue.ListValue(shape=[TensorShapeProto(dim=dims)]))


def _node_name(node, scope, input_labels):
    if node.kind == "parameter" and node.label in input_labels:
        return node.label
    if node.kind == "parameter":
        return f"{scope}/{node.label.replace('.', '/')}"
    if node.kind == "leaf":  # a tensor made inside forward, or a frozen weight
        return f"{scope}/constant_{node.id}"
    return f"{scope}/{node.op}_{node.id}"


def graph_def(outputs, model, inputs):
    """A GraphDef of the tape from ``inputs`` and ``model``'s parameters to ``outputs``."""
    input_labels = [f"input/input.{k}" for k in range(len(inputs))]
    # graph() names the leaves it finds in params: the inputs, then the model's weights.
    named = list(zip(input_labels, inputs)) + list(model.named_parameters())
    g = tape_graph(outputs, params=named)
    scope = type(model).__name__
    names = {node.id: _node_name(node, scope, input_labels) for node in g.nodes}
    nodes = []
    for node in g.nodes:
        if node.kind == "parameter":
            op = "IO Node" if node.label in input_labels else "Parameter"
        else:
            op = "Constant" if node.kind == "leaf" else node.op
        attrs = {"_output_shapes": _shape_attr(node.shape),
                 "attr": AttrValue(s=f"{node.dtype} on {node.device}".encode())}
        nodes.append(NodeDef(name=names[node.id], op=op, device=node.device,
                             input=[names[i] for i in node.inputs], attr=attrs))
    for k, root in enumerate(g.roots):
        nodes.append(NodeDef(name=f"output/output.{k}", op="IO Node", input=[names[root]],
                             attr={"_output_shapes": _shape_attr(g.nodes[root].shape)}))
    return GraphDef(node=nodes, versions=VersionDef(producer=22))
