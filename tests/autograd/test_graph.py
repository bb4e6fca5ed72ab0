"""The tape as data (graph), as text (print_graph) and as a drawing (draw_graph)."""
import io
import time

import matplotlib
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.path import Path
from matplotlib.transforms import Bbox

import tapegrad as tg
from tapegrad.autograd.graph import Graph, GraphNode, draw_graph, graph, print_graph


def leaves(*shape, n=2, dtype=tg.float32):
    return [tg.randn(*shape, dtype=dtype, requires_grad=True) for _ in range(n)]


def by_op(g):
    return {node.op: node for node in g.nodes}


def mlp_loss():
    """A 3-layer MLP's cross-entropy loss written with tensor operations, and its parameters."""
    sizes = [(16, 20), (16, 16), (10, 16)]
    params = {}
    for i, (out_features, in_features) in enumerate(sizes, start=1):
        params[f"fc{i}.weight"] = tg.randn(out_features, in_features, requires_grad=True)
        params[f"fc{i}.bias"] = tg.randn(out_features, requires_grad=True)
    x, target = tg.randn(32, 20), tg.randint(0, 10, (32,))
    h = (x @ params["fc1.weight"].mT + params["fc1.bias"]).relu()
    h = (h @ params["fc2.weight"].mT + params["fc2.bias"]).relu()
    logits = h @ params["fc3.weight"].mT + params["fc3.bias"]
    loss = -logits.log_softmax(dim=1)[tg.arange(32), target].mean()
    return loss, params


# -- graph: the data --------------------------------------------------------------------------
def test_graph_of_a_known_expression_has_each_operation_and_each_leaf_once():
    x, y = leaves(3)
    g = graph((x * y + x).sum())
    assert isinstance(g, Graph) and all(isinstance(n, GraphNode) for n in g.nodes)
    assert sorted(n.op for n in g.nodes) == ["add", "leaf", "leaf", "mul", "sum"]
    assert [n.id for n in g.nodes] == list(range(5))


def test_ids_follow_a_depth_first_walk_from_the_root_first_input_first():
    x, y = leaves(3)
    g = graph((x * y + x).sum())
    assert [(n.op, n.label) for n in g.nodes] == [
        ("sum", "sum"), ("add", "add"), ("mul", "mul"), ("leaf", "input"), ("leaf", "input")]
    assert g.roots == (0,)


def test_edges_go_from_each_input_to_the_operation_that_uses_it():
    x, y = leaves(3)
    g = graph((x * y + x).sum())
    s, add, mul, gx, gy = range(5)
    assert sorted(g.edges) == sorted([(add, s), (mul, add), (gx, add), (gx, mul), (gy, mul)])
    assert g.nodes[mul].inputs == (gx, gy)       # argument order
    assert g.nodes[add].inputs == (mul, gx)


def test_an_input_used_twice_by_one_operation_is_one_node_one_edge_and_two_inputs():
    x, = leaves(3, n=1)
    g = graph(x * x)
    assert len(g.nodes) == 2
    assert g.edges == [(1, 0)]
    assert g.nodes[0].inputs == (1, 1)


def test_a_shared_subexpression_appears_once():
    x, = leaves(3, n=1)
    t = x.tanh()
    g = graph((t.exp() + t.sin() * t).sum())
    assert [n.op for n in g.nodes].count("tanh") == 1
    tanh = by_op(g)["tanh"].id
    assert sorted(to for frm, to in g.edges if frm == tanh) == sorted(
        [by_op(g)["exp"].id, by_op(g)["sin"].id, by_op(g)["mul"].id])


def test_tensors_that_do_not_require_grad_are_not_on_the_graph():
    x, = leaves(2, 3, n=1)
    g = graph((x * tg.ones(2, 3) + 1.0).sum())
    assert [n.op for n in g.nodes] == ["sum", "add", "mul", "leaf"]


def test_shapes_dtypes_and_devices_are_those_of_each_nodes_output():
    x, = leaves(2, 3, n=1)
    w = tg.randn(3, 4, dtype=tg.float64, requires_grad=True)
    g = graph((x.double() @ w).sum(dim=0))
    ops = by_op(g)
    assert ops["sum"].shape == (4,) and ops["sum"].dtype == "float64"
    assert ops["matmul"].shape == (2, 4) and ops["matmul"].dtype == "float64"
    assert ops["cast"].shape == (2, 3) and ops["cast"].dtype == "float64"
    x_node, w_node = (n for n in g.nodes if n.kind == "leaf")
    assert (x_node.shape, x_node.dtype) == ((2, 3), "float32")
    assert (w_node.shape, w_node.dtype) == ((3, 4), "float64")
    assert {n.device for n in g.nodes} == {"cpu"}
    assert all(type(n.shape) is tuple for n in g.nodes)


def test_depth_is_the_longest_distance_from_the_root():
    x, y = leaves(3)
    g = graph((x * y + x).sum())
    assert [n.depth for n in g.nodes] == [0, 1, 2, 3, 3]   # x: sum<-add<-mul<-x, not sum<-add<-x


def test_leaves_named_in_params_are_parameters_with_their_names():
    x, y = leaves(3)
    g = graph((x * y + x).sum(), params={"weight": x})
    gx, gy = g.nodes[3], g.nodes[4]
    assert (gx.kind, gx.op, gx.label) == ("parameter", "parameter", "weight")
    assert (gy.kind, gy.op, gy.label) == ("leaf", "leaf", "input")
    assert graph((x * y).sum(), params=[("a", x), ("b", y)]).nodes[3].label == "b"


def test_an_nn_parameter_is_a_parameter_even_without_params():
    nn = pytest.importorskip("tapegrad.nn")
    w = nn.Parameter(tg.randn(3))
    g = graph((w * 2.0).sum())
    assert (g.nodes[-1].kind, g.nodes[-1].label) == ("parameter", "parameter")


def test_params_may_be_a_module():
    nn = pytest.importorskip("tapegrad.nn")
    layer = nn.Linear(4, 2)
    g = graph(layer(tg.randn(5, 4)).sum(), params=layer)
    assert {n.label for n in g.nodes if n.kind == "parameter"} == {"weight", "bias"}


def test_a_leaf_root_is_a_one_node_graph():
    x, = leaves(3, n=1)
    g = graph(x)
    assert [(n.op, n.shape, n.depth) for n in g.nodes] == [("leaf", (3,), 0)]
    assert g.edges == []


def test_several_roots_share_their_common_nodes():
    x, = leaves(3, n=1)
    t = x.exp()
    g = graph([t.sum(), t.mean()])
    assert [n.op for n in g.nodes] == ["sum", "exp", "leaf", "mean"]
    assert g.roots == (0, 3)


def test_graph_refuses_what_is_not_a_tensor():
    with pytest.raises(TypeError, match="graph\\(\\) expects a tensor or a non-empty list"):
        graph(3.0)
    with pytest.raises(TypeError, match="expects a tensor"):
        graph([])
    x, = leaves(3, n=1)
    with pytest.raises(TypeError, match="params must map names to tensors, but 'w' is a float"):
        graph(x.exp(), params={"w": 1.0})


def test_a_graph_100000_operations_deep_is_walked_without_recursion():
    x, = leaves(2, n=1)
    y = x
    for _ in range(100_000):
        y = y.neg()
    start = time.perf_counter()
    g = graph(y)
    assert time.perf_counter() - start < 5
    assert len(g.nodes) == 100_001
    assert g.nodes[-1].depth == 100_000 and g.nodes[-1].kind == "leaf"
    text = print_graph(g, file=io.StringIO())     # cut off at max_depth, so no huge indent
    assert text.count("\n") == 65 and "max_depth=64" in text


# -- print_graph: the text --------------------------------------------------------------------
def test_print_graph_draws_a_tree_with_references_to_nodes_seen_before():
    x, y = leaves(3)
    out = io.StringIO()
    text = print_graph((x * y + x).sum(), params={"x": x, "y": y}, file=out)
    assert text == (
        "sum  () float32  #0\n"
        "└─ add  (3,) float32  #1\n"
        "   ├─ mul  (3,) float32  #2\n"
        "   │  ├─ x  (3,) float32  [parameter]  #3\n"
        "   │  └─ y  (3,) float32  [parameter]  #4\n"
        "   └─ x … (see #3)")
    assert out.getvalue() == text + "\n"


def test_print_graph_prints_to_stdout_and_str_of_a_graph_is_the_same_text(capsys):
    x, = leaves(2, 2, n=1)
    z = x.exp() @ x
    text = print_graph(z)
    assert capsys.readouterr().out == text + "\n"
    assert str(graph(z)) == text == (
        "matmul  (2, 2) float32  #0\n"
        "├─ exp  (2, 2) float32  #1\n"
        "│  └─ input  (2, 2) float32  [leaf]  #2\n"
        "└─ input … (see #2)")


def test_print_graph_cuts_the_tree_at_max_depth():
    x, = leaves(3, n=1)
    text = print_graph(x.exp().sin().sum(), file=io.StringIO(), max_depth=1)
    assert text == ("sum  () float32  #0\n"
                    "└─ sin  (3,) float32  #1\n"
                    "   └─ … (its inputs are deeper than max_depth=1)")


# -- draw_graph: the drawing ------------------------------------------------------------------
def boxes(ax):
    return {p.get_gid(): p for p in ax.patches if (p.get_gid() or "").startswith("node:")}


def box_labels(ax):
    return {t.get_gid(): t for t in ax.texts if (t.get_gid() or "").startswith("label:")}


def arrows(ax):
    return [p for p in ax.patches if (p.get_gid() or "").startswith("edge:")]


def extent(box):
    return Bbox.from_bounds(box.get_x(), box.get_y(), box.get_width(), box.get_height())


def test_draw_graph_gives_a_figure_with_a_labelled_box_per_node_and_an_arrow_per_input(tmp_path):
    x, y = leaves(3)
    z = (x * y + x).sum()
    fig, ax = draw_graph(z, params={"x": x})
    assert isinstance(fig, Figure) and ax.figure is fig
    assert len(boxes(ax)) == 5 and len(box_labels(ax)) == 5
    assert box_labels(ax)["label:0"].get_text() == "sum\n()"
    assert box_labels(ax)["label:3"].get_text() == "x\n(3,)"
    assert len(arrows(ax)) == 5
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["operation", "input (leaf)", "parameter (leaf)"]
    colours = {gid: box.get_facecolor() for gid, box in boxes(ax).items()}
    assert colours["node:3"] != colours["node:4"] != colours["node:0"]   # parameter, leaf, op
    fig.savefig(tmp_path / "graph.png")
    assert (tmp_path / "graph.png").stat().st_size > 1000


def test_draw_graph_leaves_the_backend_alone():
    backend = matplotlib.get_backend()
    x, = leaves(3, n=1)
    draw_graph(x.exp().sum())
    assert matplotlib.get_backend() == backend


def test_draw_graph_puts_inputs_below_the_operations_using_them():
    x, y = leaves(3)
    g = graph((x * y + x).sum())
    fig, ax = draw_graph(g)
    top = {int(gid[5:]): extent(b).y1 for gid, b in boxes(ax).items()}
    for source, target in g.edges:
        assert top[source] < top[target]


def check_readable(fig, ax):
    """No two boxes overlap, every label lies inside its box, no arrow crosses another box."""
    placed = {gid: extent(b) for gid, b in boxes(ax).items()}
    items = list(placed.items())
    for i, (a, box_a) in enumerate(items):
        for b, box_b in items[i + 1:]:
            assert not box_a.overlaps(box_b), f"{a} overlaps {b}"
    FigureCanvasAgg(fig)
    renderer = fig.canvas.get_renderer()
    for gid, text in box_labels(ax).items():
        inside = boxes(ax)["node:" + gid[6:]].get_window_extent(renderer)
        drawn = text.get_window_extent(renderer)
        assert inside.x0 < drawn.x0 and drawn.x1 < inside.x1, f"{text.get_text()!r} too wide"
        assert inside.y0 < drawn.y0 and drawn.y1 < inside.y1, f"{text.get_text()!r} too tall"
    for arrow in arrows(ax):
        source, target = arrow.get_gid()[5:].split("->")
        # the shaft and the head, in data coordinates
        lines = [Path(points) for points in arrow.get_path().to_polygons(closed_only=False)]
        for gid, box in placed.items():
            if gid in (f"node:{source}", f"node:{target}"):
                continue
            assert not any(line.intersects_bbox(box.shrunk(0.98, 0.98), filled=False)
                           for line in lines), f"the arrow {arrow.get_gid()} runs through {gid}"


def test_the_drawing_of_an_mlp_loss_is_readable(tmp_path):
    loss, params = mlp_loss()
    fig, ax = draw_graph(loss, params=params)
    g = graph(loss, params=params)
    assert len(boxes(ax)) == len(g.nodes) == 21
    assert {t.get_text().split("\n")[0] for t in box_labels(ax).values()} >= {
        "fc1.weight", "fc3.bias", "matmul", "relu", "log_softmax", "getitem", "mean", "neg"}
    check_readable(fig, ax)
    fig.savefig(tmp_path / "mlp.png")


def test_arrows_that_skip_rows_go_around_the_boxes_between():
    x, y = leaves(3)
    t = (x * x).tanh()
    z = ((t @ y.reshape(3, 1)).exp().sum() + (t * y).sigmoid().sum() - t.sum())
    fig, ax = draw_graph(z)
    check_readable(fig, ax)


def test_draw_graph_scales_the_text_down_to_fit_a_smaller_figure_or_a_given_axes():
    loss, params = mlp_loss()
    fig, ax = draw_graph(loss, params=params, figsize=(2, 5))
    assert tuple(fig.get_size_inches()) == (2, 5)
    check_readable(fig, ax)
    mine = Figure(figsize=(8, 4))
    left, right = mine.subplots(1, 2)
    fig, ax = draw_graph(loss, params=params, ax=right)
    assert fig is mine and ax is right and len(boxes(right)) == 21 and not left.patches
    check_readable(fig, ax)
