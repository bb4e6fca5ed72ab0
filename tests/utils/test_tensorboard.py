"""SummaryWriter: event files that the tensorboard package's own reader reads back."""
import importlib
import io
import os
import sys

import numpy as np
import pytest

pytest.importorskip("tensorboard")
from PIL import Image  # noqa: E402
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402
from tensorboard.backend.event_processing.event_file_loader import (  # noqa: E402
    LegacyEventFileLoader)

import tapegrad as tg  # noqa: E402
from tapegrad import nn  # noqa: E402
from tapegrad.utils.tensorboard import SummaryWriter  # noqa: E402
from tapegrad.utils.tensorboard import summary  # noqa: E402


def read_back(log_dir):
    accumulator = EventAccumulator(str(log_dir), size_guidance={"tensors": 0, "scalars": 0,
                                                                "histograms": 0, "images": 0})
    return accumulator.Reload()


def events_in(log_dir):
    files = sorted(f for f in os.listdir(log_dir) if f.startswith("events.out.tfevents"))
    return [event for f in files for event in LegacyEventFileLoader(os.path.join(log_dir, f)).Load()]


def png_pixels(image_event):
    return np.asarray(Image.open(io.BytesIO(image_event.encoded_image_string)))


# -- scalars -----------------------------------------------------------------------------------

def test_scalars_come_back_with_their_steps_and_wall_times(tmp_path):
    with SummaryWriter(tmp_path) as writer:
        for step, loss in enumerate([2.0, 1.5, 0.75]):
            writer.add_scalar("loss/train", loss, step, walltime=1000.0 + step)
        writer.add_scalar("lr", tg.tensor(0.25), global_step=7)  # a 0-d tensor
    scalars = read_back(tmp_path).Scalars("loss/train")
    assert [(s.step, s.value, s.wall_time) for s in scalars] == [
        (0, 2.0, 1000.0), (1, 1.5, 1001.0), (2, 0.75, 1002.0)]
    assert [(s.step, s.value) for s in read_back(tmp_path).Scalars("lr")] == [(7, 0.25)]


def test_values_that_are_not_numbers_or_text_are_refused_by_name(tmp_path):
    with SummaryWriter(tmp_path) as writer:
        with pytest.raises(ValueError, match="add_scalar: 'a' needs a number, got str 'x'"):
            writer.add_scalar("a", "x")
        with pytest.raises(ValueError, match="add_scalar: 'm' needs a number"):
            writer.add_scalars("m", {"b": "x"})
        with pytest.raises(ValueError, match="add_histogram: 'h' needs numbers"):
            writer.add_histogram("h", ["a", "b"])
        with pytest.raises(TypeError, match="add_text: 't' needs a string, got int"):
            writer.add_text("t", 3)


def test_a_scalar_must_be_one_number(tmp_path):
    with SummaryWriter(tmp_path) as writer, pytest.raises(ValueError, match=r"shape \(3,\)"):
        writer.add_scalar("x", tg.zeros(3))


def test_new_style_scalars_are_tensors_for_the_scalars_plugin(tmp_path):
    with SummaryWriter(tmp_path) as writer:
        writer.add_scalar("f", 0.1, 1, new_style=True)
        writer.add_scalar("d", 0.1, 1, new_style=True, double_precision=True)
    run = read_back(tmp_path)
    f, d = run.Tensors("f")[0].tensor_proto, run.Tensors("d")[0].tensor_proto
    assert f.dtype == 1 and f.float_val == [pytest.approx(0.1)]     # DT_FLOAT
    assert d.dtype == 2 and d.double_val == [0.1]                   # DT_DOUBLE, exact
    assert run.SummaryMetadata("f").plugin_data.plugin_name == "scalars"


def test_add_scalars_writes_one_run_per_curve_under_the_main_tag(tmp_path):
    with SummaryWriter(tmp_path) as writer:
        for step in range(2):
            writer.add_scalars("run/accuracy", {"train": 0.5 + step, "val": 0.25 + step}, step)
    for name, start in (("train", 0.5), ("val", 0.25)):
        run = read_back(tmp_path / f"run_accuracy_{name}")
        assert [(s.step, s.value) for s in run.Scalars("run/accuracy")] == [
            (0, start), (1, start + 1)]


# -- histograms ---------------------------------------------------------------------------------

def test_histograms_count_every_value_in_tensorflows_buckets(tmp_path):
    values = tg.randn(1000, generator=tg.Generator().manual_seed(0))
    with SummaryWriter(tmp_path) as writer:
        writer.add_histogram("weights", values, 3)
    histogram = read_back(tmp_path).Histograms("weights")[0].histogram_value
    array = values.numpy().astype(np.float64)
    assert histogram.num == 1000 and sum(histogram.bucket) == 1000
    assert histogram.min == array.min() and histogram.max == array.max()
    assert histogram.sum == pytest.approx(array.sum()) and histogram.sum_squares == pytest.approx(
        (array ** 2).sum())
    edges = np.array(histogram.bucket_limit)
    assert (np.diff(edges) > 0).all() and histogram.bucket[0] == 0
    assert set(edges.tolist()) <= set(summary.exponential_bins()) and edges[0] <= array.min()


def test_histogram_buckets_are_right_edges_of_the_non_empty_span():
    record = summary.histogram("h", [1.0, 1.0, 3.0], bins=[0, 1, 2, 3, 4, 5])
    histogram = record.value[0].histo
    # numpy's bins [0,1) [1,2) [2,3) [3,4] hold 0, 2, 0, 1: the span is bins 1…3, led by bin 0
    assert list(histogram.bucket) == [0, 2, 0, 1] and list(histogram.bucket_limit) == [1, 2, 3, 4]


def test_max_bins_merges_neighbouring_bins():
    record = summary.histogram("h", np.arange(12.0), bins=12, max_bins=4)
    histogram = record.value[0].histo
    assert sum(histogram.bucket) == 12 and len(histogram.bucket) == 5  # 4 merged + the lead


def test_histograms_agree_with_pytorchs_writer():
    pytest.importorskip("torch")
    from torch.utils.tensorboard import summary as theirs
    rng = np.random.default_rng(1)
    default = summary.exponential_bins()
    for values, bins, max_bins in [(rng.standard_normal(500), default, None),
                                   (rng.uniform(2, 3, 50), "auto", None),
                                   (rng.standard_normal(300), default, 9),
                                   (rng.standard_normal(100), 30, 4)]:
        assert summary.histogram("h", values, bins, max_bins) == theirs.histogram(
            "h", values, bins, max_bins=max_bins)


def test_empty_or_non_finite_values_are_refused(tmp_path):
    with SummaryWriter(tmp_path) as writer:
        with pytest.raises(ValueError, match="no values"):
            writer.add_histogram("h", tg.zeros(0))
        with pytest.raises(ValueError, match="NaN or infinite"):
            writer.add_histogram("h", tg.tensor([1.0, float("nan")]))


# -- images and text ------------------------------------------------------------------------------

def test_an_image_is_stored_as_png_scaled_by_255(tmp_path):
    image = tg.rand(3, 5, 6, generator=tg.Generator().manual_seed(2))
    with SummaryWriter(tmp_path) as writer:
        writer.add_image("sample", image, 4)
    stored = read_back(tmp_path).Images("sample")[0]
    assert (stored.step, stored.height, stored.width) == (4, 5, 6)
    expected = np.floor(image.numpy() * 255).astype(np.uint8).transpose(1, 2, 0)
    np.testing.assert_array_equal(png_pixels(stored), expected)


def test_image_layouts_gray_and_uint8(tmp_path):
    hwc = np.random.default_rng(0).integers(0, 256, (4, 7, 3), dtype=np.uint8)
    with SummaryWriter(tmp_path) as writer:
        writer.add_image("hwc", hwc, dataformats="HWC")
        writer.add_image("gray", tg.full((4, 7), 0.5), dataformats="HW")
        with pytest.raises(ValueError, match="dataformats 'CHW'.*shape \\(4, 7\\)"):
            writer.add_image("bad", tg.zeros(4, 7))
    run = read_back(tmp_path)
    np.testing.assert_array_equal(png_pixels(run.Images("hwc")[0]), hwc)
    gray = png_pixels(run.Images("gray")[0])
    assert gray.shape == (4, 7, 3) and (gray == 127).all()  # gray is shown as RGB


def test_add_images_tiles_a_batch_eight_to_a_row(tmp_path):
    with SummaryWriter(tmp_path) as writer:
        writer.add_images("batch", tg.rand(10, 1, 4, 5))
        writer.add_images("nhwc", np.zeros((2, 4, 5, 3), np.uint8), dataformats="NHWC")
    run = read_back(tmp_path)
    assert (run.Images("batch")[0].height, run.Images("batch")[0].width) == (8, 40)
    assert (run.Images("nhwc")[0].height, run.Images("nhwc")[0].width) == (4, 10)


def test_text_goes_to_the_text_plugin(tmp_path):
    with SummaryWriter(tmp_path) as writer:
        writer.add_text("notes", "lr **0.1**", 2)
    stored = read_back(tmp_path).Tensors("notes/text_summary")[0]
    assert stored.step == 2 and stored.tensor_proto.string_val == [b"lr **0.1**"]


def test_a_figure_is_drawn_into_an_image_and_closed(tmp_path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    figure = plt.figure(figsize=(2, 1), dpi=50)
    figure.add_subplot().plot([0, 1], [1, 0])
    pair = [plt.figure(figsize=(1, 1), dpi=40) for _ in range(2)]
    with SummaryWriter(tmp_path) as writer:
        writer.add_figure("curve", figure, 3)
        writer.add_figure("pair", pair, close=False)
    run = read_back(tmp_path)
    stored = run.Images("curve")[0]
    assert (stored.step, stored.height, stored.width) == (3, 50, 100)
    assert len(np.unique(png_pixels(stored).reshape(-1, 3), axis=0)) > 2   # the line is drawn
    assert (run.Images("pair")[0].height, run.Images("pair")[0].width) == (40, 80)
    assert not plt.fignum_exists(figure.number) and all(plt.fignum_exists(f.number) for f in pair)
    with SummaryWriter(tmp_path) as writer, pytest.raises(TypeError, match="expected a matplotlib Figure"):
        writer.add_figure("not", np.zeros((2, 2)))
    plt.close("all")


def test_hparams_go_to_a_run_of_their_own_for_the_hparams_dashboard(tmp_path):
    from tensorboard.plugins.hparams import metadata
    with SummaryWriter(tmp_path) as writer:
        writer.add_hparams({"lr": 0.1, "batch": 32, "optimizer": "sgd", "nesterov": True},
                           {"accuracy": 0.93}, run_name="trial")
        with pytest.raises(ValueError, match="value of 'layers' must be a number"):
            writer.add_hparams({"layers": [1, 2]}, {})
    run = read_back(tmp_path / "trial")
    content = {tag: run.SummaryMetadata(tag).plugin_data.content
               for tag in run.Tags()["tensors"] if tag.startswith("_hparams_")}
    experiment = metadata.parse_experiment_plugin_data(content[metadata.EXPERIMENT_TAG])
    assert [info.name for info in experiment.hparam_infos] == ["lr", "batch", "optimizer",
                                                                "nesterov"]
    assert [m.name.tag for m in experiment.metric_infos] == ["accuracy"]
    start = metadata.parse_session_start_info_plugin_data(content[metadata.SESSION_START_INFO_TAG])
    assert start.hparams["lr"].number_value == 0.1 and start.hparams["batch"].number_value == 32
    assert start.hparams["optimizer"].string_value == "sgd" and start.hparams["nesterov"].bool_value
    assert run.Scalars("accuracy")[0].value == pytest.approx(0.93)


# -- the graph ------------------------------------------------------------------------------------

class Small(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)
        self.norm = nn.BatchNorm1d(3)

    def forward(self, x):
        return self.norm(self.fc(x)).relu()


def test_add_graph_writes_the_tape_as_a_graph_def(tmp_path):
    model = Small()
    with SummaryWriter(tmp_path) as writer:
        writer.add_graph(model, tg.randn(2, 4))
    graph = read_back(tmp_path).Graph()
    nodes = {node.name: node for node in graph.node}
    assert nodes["input/input.0"].op == "IO Node"
    assert nodes["Small/fc/weight"].op == "Parameter" and "Small/norm/bias" in nodes
    assert [n.op for n in graph.node if n.name.startswith("output/")] == ["IO Node"]
    relu = nodes[nodes["output/output.0"].input[0]]
    assert relu.op == "relu" and relu.name.startswith("Small/relu_")
    shape = relu.attr["_output_shapes"].list.shape[0]
    assert [d.size for d in shape.dim] == [2, 3]
    # every input names a node of the graph, and the input reaches the output
    for node in graph.node:
        assert all(name in nodes for name in node.input)
    reached, frontier = set(), ["output/output.0"]
    while frontier:
        name = frontier.pop()
        if name not in reached:
            reached.add(name)
            frontier.extend(nodes[name].input)
    assert {"input/input.0", "Small/fc/weight", "Small/fc/bias"} <= reached


def test_each_operation_sits_in_the_module_that_computed_it(tmp_path):
    model = nn.Sequential(Small(), nn.ReLU(inplace=True), nn.Linear(3, 1))
    with SummaryWriter(tmp_path) as writer:
        writer.add_graph(model, tg.randn(2, 4))
    scopes = {}
    for node in read_back(tmp_path).Graph().node:
        if node.op not in ("IO Node", "Parameter"):
            scopes.setdefault(node.op, set()).add(node.name.rsplit("/", 1)[0])
    assert scopes["addmm"] == {"Sequential/0/fc", "Sequential/2"}
    # Small's own relu (a method call in its forward) is Small's; the in-place ReLU module,
    # which changes the tensor Small returned, has its own box
    assert scopes["relu"] == {"Sequential/0", "Sequential/1"}
    assert all(scope.startswith("Sequential/0/norm") for op, found in scopes.items()
               if op not in ("addmm", "relu", "matrix_transpose", "clone", "copy")
               for scope in found)


def test_add_graph_changes_nothing_in_the_model(tmp_path):
    model = Small().train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with SummaryWriter(tmp_path) as writer:
        writer.add_graph(model, (tg.randn(5, 4),))
    assert model.training and model.norm.training
    assert all(tg.equal(v, before[k]) for k, v in model.state_dict().items())
    assert all(p.grad is None for p in model.parameters())


def test_a_frozen_model_still_shows_its_operations(tmp_path):
    model = nn.Sequential(nn.Linear(3, 2), nn.Tanh()).requires_grad_(False)
    with SummaryWriter(tmp_path) as writer:
        writer.add_graph(model, tg.randn(1, 3))
    ops = {node.op for node in read_back(tmp_path).Graph().node}
    assert "tanh" in ops and "IO Node" in ops


def test_add_graph_needs_an_input(tmp_path):
    with SummaryWriter(tmp_path) as writer, pytest.raises(ValueError, match="input_to_model"):
        writer.add_graph(Small())


# -- files, flushing, closing ---------------------------------------------------------------------

def test_flush_puts_events_on_disk_before_close(tmp_path):
    writer = SummaryWriter(tmp_path, flush_secs=3600)
    writer.add_scalar("x", 1.0, 0)
    writer.flush()
    assert [e.summary.value[0].simple_value for e in events_in(tmp_path) if e.HasField("summary")
            ] == [1.0]
    writer.close()


def test_close_then_add_opens_a_new_event_file(tmp_path):
    writer = SummaryWriter(tmp_path)
    writer.add_scalar("x", 1.0, 0)
    writer.close()
    writer.add_scalar("x", 2.0, 1)
    writer.close()
    assert len([f for f in os.listdir(tmp_path) if f.startswith("events")]) == 2
    assert [s.value for s in read_back(tmp_path).Scalars("x")] == [1.0, 2.0]


def test_the_default_log_dir_is_runs_date_host_comment(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with SummaryWriter(comment="_lr0.1", filename_suffix=".v1") as writer:
        log_dir = writer.get_logdir()
    assert log_dir.startswith("runs" + os.sep) and log_dir.endswith("_lr0.1")
    assert os.listdir(log_dir)[0].endswith(".v1")


def test_purge_step_marks_a_restart(tmp_path):
    with SummaryWriter(tmp_path, purge_step=5) as writer:
        writer.add_scalar("x", 1.0, 5)
    events = events_in(tmp_path)
    assert any(e.HasField("session_log") and e.step == 5 for e in events)


def test_without_tensorboard_the_import_says_what_to_install(monkeypatch):
    for name in [m for m in sys.modules if m.startswith("tapegrad.utils.tensorboard")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "tensorboard", None)
    with pytest.raises(ImportError, match="pip install tensorboard"):
        importlib.import_module("tapegrad.utils.tensorboard")
