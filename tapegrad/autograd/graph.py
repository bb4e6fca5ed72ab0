"""The tape behind a tensor, as data, as text and as a drawing.

Every operation on a tensor that requires grad puts a Node on the tape (see ``tape.py``);
each Node points at the Nodes that made its inputs. ``graph(loss)`` walks those pointers
back from ``loss`` and returns what it found as plain data::

    >>> z = (x * y + x).sum()
    >>> g = graph(z, params={"x": x, "y": y})
    >>> [(n.id, n.op, n.label, n.shape) for n in g.nodes]
    [(0, 'sum', 'sum', ()), (1, 'add', 'add', (3,)), (2, 'mul', 'mul', (3,)),
     (3, 'parameter', 'x', (3,)), (4, 'parameter', 'y', (3,))]
    >>> g.edges                       # (from, to): the value of `from` flows into `to`
    [(1, 0), (2, 1), (3, 1), (3, 2), (4, 2)]
    >>> print_graph(z, params={"x": x, "y": y})
    sum  () float32  #0
    └─ add  (3,) float32  #1
       ├─ mul  (3,) float32  #2
       │  ├─ x  (3,) float32  [parameter]  #3
       │  └─ y  (3,) float32  [parameter]  #4
       └─ x … (see #3)

``x`` is used twice but is one node: a value computed once appears once, however many
operations use it. ``draw_graph(loss)`` draws the same graph with matplotlib (no
graphviz needed): the result at the top, each operation's inputs below it, leaves
(tensors you made) and parameters (weights a model learns) in their own colours.

The backward pass walks this graph from the top down: it starts at the result and
sends a gradient along every arrow, backwards, until it reaches the leaves.
"""
from collections import deque
from dataclasses import dataclass

from .tape import AccumulateGrad
from .tensor import Tensor

__all__ = ["Graph", "GraphNode", "draw_graph", "graph", "print_graph"]


@dataclass(slots=True)
class GraphNode:
    """One node of the graph: an operation's result, or a leaf tensor.

    ``op``     the operation's name ("matmul", "relu"…), or "leaf" / "parameter";
    ``label``  what to call it: the operation's name, a parameter's name, or "input";
    ``shape``, ``dtype``, ``device``  of the tensor it stands for (an operation's output);
    ``kind``   "op", "leaf" (a tensor you made) or "parameter" (a weight that is learned);
    ``depth``  the longest path from the result (the root has depth 0);
    ``inputs`` the ids of the nodes feeding it, in argument order (an input used twice,
               as in ``x * x``, is listed twice).
    """
    id: int
    op: str
    label: str
    shape: tuple
    dtype: str
    device: str
    kind: str
    depth: int = 0
    inputs: tuple = ()


@dataclass
class Graph:
    """The nodes (``nodes[i].id == i``, the root first) and edges ``(from_id, to_id)``.

    An edge means the value of node ``from_id`` is an input of operation ``to_id``; the
    gradient flows along it the other way. Each pair appears once.
    """
    nodes: list
    edges: list
    roots: tuple = (0,)

    def __len__(self):
        return len(self.nodes)

    def __str__(self):
        return format_graph(self)

    def draw(self, ax=None, figsize=None):
        """``draw_graph`` of this graph: returns ``(fig, ax)``."""
        return draw_graph(self, ax=ax, figsize=figsize)


# -- the walk ---------------------------------------------------------------------------------
def graph(tensor_or_tensors, params=None):
    """The tape behind ``tensor_or_tensors`` (a tensor, or a list of them) as a ``Graph``.

    ``params`` names the leaves: a dict ``{name: tensor}`` such as
    ``dict(model.named_parameters())`` (a Module or an iterable of ``(name, tensor)`` pairs
    works too). A leaf found there is a "parameter" labelled with its name; so is any
    ``nn.Parameter``; every other leaf is an "input".

    The walk uses a stack, not recursion, so a tape 100,000 operations deep is fine.
    """
    roots = _as_tensor_list(tensor_or_tensors)
    names = _names_of(params)

    nodes, ids = [], {}             # id(Node or leaf tensor) -> node id
    text = {}                       # str() of each dtype and device, made once
    stack = []                      # (Node or leaf tensor, consumer id, slot, meta)
    for root in reversed(roots):
        target = root.grad_fn if root.grad_fn is not None else root
        stack.append((target, None, 0, (root.array.shape, root.array.dtype, root.device)))
    root_ids = []

    # Depth-first, first input first: ids are the order of a recursive walk (preorder), so
    # the text view numbers its lines 0, 1, 2, …
    while stack:
        target, consumer, slot, meta = stack.pop()
        if isinstance(target, AccumulateGrad):
            target = target.variable
        nid = ids.get(id(target))
        if nid is None:
            nid = len(nodes)
            ids[id(target)] = nid
            if isinstance(target, Tensor):     # a leaf: its own shape, whoever uses it
                kind, label = _leaf_kind(target, names)
                meta = (target.array.shape, target.array.dtype, target.device)
                op, inputs = kind, ()
            else:                              # an operation: its output as its user saw it
                kind = "op"
                op = label = target.op
                pending = [(edge[0], seen_as) for edge, seen_as in zip(target.next_edges,
                                                                       target.input_meta)
                           if edge is not None]
                inputs = [None] * len(pending)
                for k in range(len(pending) - 1, -1, -1):
                    stack.append((pending[k][0], nid, k, pending[k][1]))
            shape, dtype, device = meta
            if dtype not in text:
                text[dtype] = str(dtype)
            if device not in text:
                text[device] = str(device)
            nodes.append(GraphNode(nid, op, label, tuple(shape), text[dtype], text[device], kind,
                                   inputs=inputs))
        if consumer is None:
            root_ids.append(nid)
        else:
            nodes[consumer].inputs[slot] = nid

    edges, seen = [], set()
    for node in nodes:
        node.inputs = tuple(node.inputs)
        for source in node.inputs:
            if (source, node.id) not in seen:
                seen.add((source, node.id))
                edges.append((source, node.id))
    edges.sort()
    _set_depths(nodes)
    return Graph(nodes, edges, tuple(root_ids))


def _as_tensor_list(tensor_or_tensors):
    if isinstance(tensor_or_tensors, Tensor):
        return [tensor_or_tensors]
    try:
        roots = list(tensor_or_tensors)
    except TypeError:
        roots = None
    if not roots or not all(isinstance(t, Tensor) for t in roots):
        raise TypeError(f"graph() expects a tensor or a non-empty list of tensors, got "
                        f"{type(tensor_or_tensors).__name__}")
    return roots


def _names_of(params):
    """``{id(tensor): name}`` from a dict, a Module, or ``(name, tensor)`` pairs."""
    if params is None:
        return {}
    if hasattr(params, "named_parameters"):
        params = params.named_parameters()
    items = params.items() if hasattr(params, "items") else params
    names = {}
    for name, tensor in items:
        if not isinstance(tensor, Tensor):
            raise TypeError(f"graph(): params must map names to tensors, but {name!r} is a "
                            f"{type(tensor).__name__}")
        names.setdefault(id(tensor), str(name))
    return names


def _leaf_kind(tensor, names):
    name = names.get(id(tensor))
    if name is not None:
        return "parameter", name
    if getattr(tensor, "_is_param", False):   # an nn.Parameter (autograd does not import nn)
        return "parameter", "parameter"
    return "leaf", "input"


def _set_depths(nodes):
    """depth = the longest path from a root: every input sits below all of its users."""
    users = [0] * len(nodes)
    for node in nodes:
        for source in set(node.inputs):
            users[source] += 1
    ready = deque(node.id for node in nodes if users[node.id] == 0)
    while ready:                                # Kahn's order: a node after all its users
        node = nodes[ready.popleft()]
        for source in set(node.inputs):
            below = nodes[source]
            below.depth = max(below.depth, node.depth + 1)
            users[source] -= 1
            if users[source] == 0:
                ready.append(source)


# -- the text view ----------------------------------------------------------------------------
def print_graph(tensor, params=None, file=None, max_depth=64):
    """Print the graph behind ``tensor`` as a tree (the result first, its inputs below it).

    One line per node: name, shape, dtype, and its id (``#3``). A node reached a second
    time is printed as a reference (``x … (see #3)``). Inputs more than ``max_depth``
    levels down are left out (``max_depth=None`` prints everything). ``tensor`` may also
    be a ``Graph``. Returns the text as well as printing it (to ``file``, default stdout).
    """
    g = tensor if isinstance(tensor, Graph) else graph(tensor, params)
    text = format_graph(g, max_depth=max_depth)
    print(text, file=file)
    return text


def format_graph(g, max_depth=64):
    """The text of ``print_graph`` for the Graph ``g``."""
    lines, printed = [], set()
    # (node id, the branch before its line, the lead of its inputs' lines, tree level)
    stack = [(root, "", "", 0) for root in reversed(g.roots)]
    while stack:
        nid, lead, rest, level = stack.pop()
        node = g.nodes[nid]
        if nid in printed:
            lines.append(f"{lead}{node.label} … (see #{nid})")
            continue
        printed.add(nid)
        lines.append(lead + _describe(node))
        if not node.inputs:
            continue
        if max_depth is not None and level >= max_depth:
            lines.append(f"{rest}└─ … (its inputs are deeper than max_depth={max_depth})")
            continue
        last = len(node.inputs) - 1
        for k in range(last, -1, -1):
            branch, under = ("└─ ", "   ") if k == last else ("├─ ", "│  ")
            stack.append((node.inputs[k], rest + branch, rest + under, level + 1))
    return "\n".join(lines)


def _describe(node):
    text = f"{node.label}  {node.shape} {node.dtype}"
    if node.device != "cpu":
        text += f" {node.device}"
    if node.kind != "op":
        text += f"  [{node.kind}]"
    return f"{text}  #{node.id}"


# -- the drawing ------------------------------------------------------------------------------
# Everything is laid out in inches, so the figure can be sized to fit the graph.
_FONT_SIZE = 9.0                   # points
_PAD_X, _PAD_Y = 0.12, 0.07        # inches between a box's edge and its text
_GAP_X, _GAP_Y = 0.3, 0.42         # inches between boxes in a row, and between rows
_LANE = 0.12                       # width kept free in a row for an arrow passing through it
_MARGIN = 0.25
_LEGEND_BAND = 0.45
_STYLES = {   # kind: (face colour, edge colour, legend label)
    "op": ("#dce8f5", "#34699a", "operation"),
    "leaf": ("#d8f0d2", "#3a8a3a", "input (leaf)"),
    "parameter": ("#fde3c0", "#c0761a", "parameter (leaf)"),
}


def draw_graph(tensor, params=None, ax=None, figsize=None):
    """Draw the graph behind ``tensor`` with matplotlib; returns ``(fig, ax)``.

    One box per node, labelled with its name and shape, in rows by depth: the result at
    the top, every operation's inputs below it, arrows pointing the way values flow (up,
    from inputs to the operation using them). Leaves and parameters have their own
    colours (see the legend). Without ``ax`` a new ``matplotlib.figure.Figure`` is made,
    sized to the graph (or to ``figsize``); save it with ``fig.savefig("graph.png")``.
    Nothing is shown and the global backend is left alone. ``tensor`` may be a ``Graph``.
    """
    from matplotlib.figure import Figure
    from matplotlib.font_manager import FontProperties
    from matplotlib.lines import Line2D
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
    from matplotlib.path import Path
    from matplotlib.textpath import TextToPath

    g = tensor if isinstance(tensor, Graph) else graph(tensor, params)
    measure = TextToPath()
    font = FontProperties(family="monospace", size=_FONT_SIZE)
    labels = _box_labels(g)
    sizes = _box_sizes(labels, font, measure)
    centres, routes, width, height = _layout(g, sizes)
    kinds = [kind for kind in _STYLES if any(n.kind == kind for n in g.nodes)]
    legend_font = FontProperties(size=_FONT_SIZE)
    legend_width = sum(measure.get_text_width_height_descent(_STYLES[k][2], legend_font,
                                                             ismath=False)[0] / 72 + 0.45
                       for k in kinds)
    width = max(width, legend_width)       # the legend sits above the graph: room for it too

    if ax is None:
        if figsize is None:
            figsize = (width + 2 * _MARGIN, height + 2 * _MARGIN + _LEGEND_BAND)
        fig = Figure(figsize=figsize)
        fig_w, fig_h = fig.get_size_inches()
        ax = fig.add_axes((_MARGIN / fig_w, _MARGIN / fig_h, 1 - 2 * _MARGIN / fig_w,
                           1 - (2 * _MARGIN + _LEGEND_BAND) / fig_h))
    fig = ax.figure
    # Text is sized in points and boxes in data units (inches at full size): if the axes
    # are smaller than the layout (a given ax or figsize), the text shrinks with the boxes.
    box = ax.get_position()
    fig_w, fig_h = fig.get_size_inches()
    scale = min(1.0, box.width * fig_w / width, box.height * fig_h / height)

    ax.set_xlim(-width / 2, width / 2)
    ax.set_ylim(-height, 0)
    ax.set_aspect("equal", adjustable="box")
    ax.set_axis_off()

    for node in g.nodes:
        x, y = centres[node.id]
        w, h = sizes[node.id]
        face, edge, _ = _STYLES[node.kind]
        is_root = node.id in g.roots
        ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h,
                                    boxstyle="round,pad=0,rounding_size=0.06", facecolor=face,
                                    edgecolor=edge, linewidth=(2.0 if is_root else 1.0) * scale,
                                    zorder=2, gid=f"node:{node.id}"))
        ax.text(x, y, labels[node.id], ha="center", va="center", zorder=3, fontproperties=font,
                fontsize=_FONT_SIZE * scale, linespacing=1.25,
                fontweight="bold" if is_root else "normal", gid=f"label:{node.id}")

    for node in g.nodes:                     # one arrow per input, from it to its user
        x, y = centres[node.id]
        w, h = sizes[node.id]
        m = len(node.inputs)
        for k, source in enumerate(node.inputs):
            sx, sy = centres[source]
            points = [(sx, sy + sizes[source][1] / 2)] + routes.get((source, node.id), [])
            # Aim straight up where the box allows; an input used twice (x * x) gets two
            # arrows side by side.
            inset = min(0.12, w / 4)
            end_x = min(max(points[-1][0], x - w / 2 + inset), x + w / 2 - inset)
            if node.inputs.count(source) > 1:
                end_x = x + (k - (m - 1) / 2) * min(0.8 * w / m, 0.35)
            points.append((end_x, y - h / 2))
            ax.add_patch(FancyArrowPatch(path=Path(points), arrowstyle="-|>",
                                         mutation_scale=9 * scale, linewidth=0.9 * scale,
                                         color="#555555", zorder=1,
                                         gid=f"edge:{source}->{node.id}"))

    handles = [Line2D([], [], marker="s", linestyle="none", markersize=11 * scale,
                      markerfacecolor=_STYLES[k][0], markeredgecolor=_STYLES[k][1],
                      label=_STYLES[k][2]) for k in kinds]
    ax.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=len(handles),
              frameon=False, fontsize=_FONT_SIZE * scale, handletextpad=0.3, columnspacing=1.2,
              borderaxespad=0.2)
    return fig, ax


def _box_labels(g):
    """Name on the first line, shape on the second; dtype and device only where they vary."""
    dtypes = {n.dtype for n in g.nodes}
    devices = {n.device for n in g.nodes}
    labels = []
    for node in g.nodes:
        second = str(node.shape)
        if len(dtypes) > 1:
            second += f" {node.dtype}"
        if len(devices) > 1 or node.device != "cpu":
            second += f" {node.device}"
        labels.append(f"{node.label}\n{second}")
    return labels


def _box_sizes(labels, font, measure):
    """(width, height) in inches of a box that holds each label, measured in its font."""
    line_height = 1.25 * _FONT_SIZE / 72
    sizes = []
    for label in labels:
        lines = label.split("\n")
        widest = max(measure.get_text_width_height_descent(line, font, ismath=False)[0]
                     for line in lines)
        sizes.append((widest / 72 + 2 * _PAD_X, len(lines) * line_height + 2 * _PAD_Y))
    return sizes


def _layout(g, sizes):
    """Where the boxes go: rows by depth, the root's row at the top (y = 0), in inches.

    An edge that skips rows (``x`` into ``add`` in ``x * y + x``) gets a free lane in
    each row it passes, so its arrow never runs behind a box. Row by row from the top,
    each box (or lane) wants to sit under the mean x of what it feeds; the row is sorted
    by that wish (ties: walk order, so an operation's first input is on the left) and
    packed left to right, an item that would overlap its left neighbour being pushed
    right. So an operation's first input sits straight below it (the main line of the
    computation runs straight down) and the others hang to its right.

    Returns the box centres, the lanes of each long edge as points from bottom to top,
    and the width and height of the whole.
    """
    n = len(g.nodes)
    row_height = max(h for _, h in sizes)
    pitch = row_height + _GAP_Y
    width = [w for w, _ in sizes]           # items: the n boxes, then the lanes
    row_of = [node.depth for node in g.nodes]
    above = [[] for _ in range(n)]          # the items each item feeds, one row up
    tie = list(range(n))
    lanes = {}
    for source, target in g.edges:
        upper, chain = target, []
        for depth in range(g.nodes[target].depth + 1, g.nodes[source].depth):
            item = len(width)
            width.append(_LANE)
            row_of.append(depth)
            above.append([upper])
            tie.append(source)              # a lane sorts next to the box it comes from
            chain.append(item)
            upper = item
        above[source].append(upper)
        lanes[(source, target)] = chain[::-1]

    rows = {}
    for item, depth in enumerate(row_of):
        rows.setdefault(depth, []).append(item)
    x = [0.0] * len(width)
    for depth in sorted(rows):
        row = rows[depth]
        wish = {i: sum(x[u] for u in above[i]) / len(above[i]) if above[i] else 0.0 for i in row}
        row.sort(key=lambda i: (wish[i], tie[i], i))
        previous = None
        for i in row:
            if previous is None:
                x[i] = wish[i]
            else:
                gap = _GAP_X if i < n and previous < n else _GAP_X / 2
                x[i] = max(wish[i], x[previous] + width[previous] / 2 + gap + width[i] / 2)
            previous = i

    left = min(x[i] - width[i] / 2 for i in range(len(width)))
    right = max(x[i] + width[i] / 2 for i in range(len(width)))
    middle = (left + right) / 2

    def centre_y(depth):
        return -(depth * pitch + row_height / 2)

    centres = [(x[i] - middle, centre_y(row_of[i])) for i in range(n)]
    routes = {}
    for edge, chain in lanes.items():
        points = []
        for item in chain:                  # straight up through the lane's row
            lane_x, y = x[item] - middle, centre_y(row_of[item])
            points += [(lane_x, y - row_height / 2), (lane_x, y + row_height / 2)]
        routes[edge] = points
    return centres, routes, right - left, (max(rows) + 1) * pitch - _GAP_Y
