"""tapegrad.onnx.export: every layer of nn, in eval mode, becomes an ONNX graph that
onnx.checker accepts and onnxruntime runs to tapegrad's own outputs, at the traced batch
size and at another one (the batch axis is dynamic)."""
import io

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import nn
from tapegrad.nn import functional as F

onnx = pytest.importorskip("onnx", reason="needs the onnx extra: pip install 'tapegrad[onnx]'")
ort = pytest.importorskip("onnxruntime", reason="needs onnxruntime (in the test extra)")


def exported(model, inputs, batch_axis=0, output_count=1, opset=None):
    """The model exported with a dynamic batch axis on every input and output, as bytes."""
    names = [f"x{i}" for i in range(len(inputs))]
    outputs = [f"y{i}" for i in range(output_count)]
    buffer = io.BytesIO()
    tg.onnx.export(model, tuple(inputs), buffer, input_names=names, output_names=outputs,
                   dynamic_axes={n: {batch_axis: "batch"} for n in names}, opset_version=opset)
    return buffer.getvalue()


def outputs_of(result):
    if isinstance(result, (tuple, list)):
        return [t for item in result for t in outputs_of(item)]
    return [] if result is None else [result]


def assert_runs_like_tapegrad(model, *inputs, batch_axis=0, atol=1e-5, opset=None):
    model.eval()
    with tg.no_grad():
        expected_count = len(outputs_of(model(*inputs)))
    data = exported(model, inputs, batch_axis, expected_count, opset)
    onnx.checker.check_model(onnx.load_from_string(data))
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    bigger = [tg.cat([x, x[tuple(slice(0, 1) if d == batch_axis else slice(None)
                                   for d in range(x.ndim))]], dim=batch_axis) for x in inputs]
    for batch in (inputs, bigger):
        with tg.no_grad():
            expected = outputs_of(model(*batch))
        feed = {f"x{i}": np.asarray(x.array) for i, x in enumerate(batch)}
        got = session.run(None, feed)
        assert len(got) == len(expected)
        for g, e in zip(got, expected):
            assert g.shape == tuple(e.shape)
            np.testing.assert_allclose(g, e.array, atol=atol, rtol=1e-4)


def x(*shape):
    return tg.randn(*shape)


# -- one case per layer family --------------------------------------------------------------
LAYERS = {
    "linear": lambda: (nn.Linear(4, 3), x(2, 4)),
    "linear_3d_input": lambda: (nn.Linear(4, 3), x(2, 5, 4)),
    "linear_no_bias": lambda: (nn.Linear(4, 3, bias=False), x(2, 4)),
    "bilinear": lambda: (nn.Bilinear(3, 4, 2), x(2, 3), x(2, 4)),
    "conv1d": lambda: (nn.Conv1d(2, 4, 3, stride=2, padding=1, dilation=2), x(2, 2, 11)),
    "conv2d": lambda: (nn.Conv2d(2, 4, 3, stride=(2, 1), padding=1), x(2, 2, 7, 6)),
    "conv2d_groups_same": lambda: (nn.Conv2d(4, 4, (2, 3), padding="same", groups=2),
                                   x(2, 4, 5, 5)),
    "conv_transpose1d": lambda: (nn.ConvTranspose1d(2, 3, 3, stride=2, padding=1,
                                                    output_padding=1), x(2, 2, 5)),
    "conv_transpose2d": lambda: (nn.ConvTranspose2d(4, 2, 3, stride=2, groups=2, dilation=2),
                                 x(2, 4, 4, 3)),
    "max_pool1d": lambda: (nn.MaxPool1d(3, stride=2, padding=1), x(2, 3, 10)),
    "max_pool2d_ceil": lambda: (nn.MaxPool2d(2, ceil_mode=True), x(2, 3, 7, 7)),
    "max_pool2d_dilated": lambda: (nn.MaxPool2d(2, stride=1, dilation=2), x(2, 3, 6, 6)),
    "avg_pool1d": lambda: (nn.AvgPool1d(3, stride=2, padding=1), x(2, 3, 10)),
    "avg_pool2d_no_pad_count": lambda: (nn.AvgPool2d(3, stride=2, padding=1,
                                                     count_include_pad=False, ceil_mode=True),
                                        x(2, 3, 8, 8)),
    "adaptive_avg_pool1d": lambda: (nn.AdaptiveAvgPool1d(3), x(2, 3, 8)),
    "adaptive_avg_pool2d": lambda: (nn.AdaptiveAvgPool2d((1, 1)), x(2, 3, 6, 6)),
    "adaptive_avg_pool2d_uneven": lambda: (nn.AdaptiveAvgPool2d((3, 2)), x(2, 3, 7, 5)),
    "batch_norm1d": lambda: (trained(nn.BatchNorm1d(3), x(8, 3)), x(2, 3)),
    "batch_norm2d": lambda: (trained(nn.BatchNorm2d(3), x(4, 3, 4, 4)), x(2, 3, 4, 4)),
    "layer_norm": lambda: (nn.LayerNorm((3, 4)), x(2, 3, 4)),
    "group_norm": lambda: (nn.GroupNorm(2, 4), x(2, 4, 3, 3)),
    "dropout": lambda: (nn.Dropout(0.5), x(2, 3)),
    "dropout2d": lambda: (nn.Sequential(nn.Dropout2d(0.5), nn.Identity()), x(2, 3, 4, 4)),
    "embedding": lambda: (nn.Embedding(10, 3, padding_idx=0), tg.tensor([[1, 2, 0], [9, 4, 4]])),
    "flatten_unflatten": lambda: (nn.Sequential(nn.Flatten(), nn.Unflatten(1, (4, 3))),
                                  x(2, 3, 4)),
}


def trained(layer, batch):
    layer.train()
    with tg.no_grad():
        layer(batch)
    return layer


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_exports_and_runs_like_tapegrad(name):
    tg.manual_seed(0)
    model, *inputs = LAYERS[name]()
    assert_runs_like_tapegrad(model, *inputs)


ACTIVATIONS = [nn.ReLU(), nn.LeakyReLU(0.2), nn.ELU(0.5), nn.GELU(), nn.GELU("tanh"), nn.SiLU(),
               nn.Sigmoid(), nn.Tanh(), nn.Softmax(dim=1), nn.LogSoftmax(dim=-1),
               nn.Softplus(beta=2.0, threshold=3.0), nn.Hardtanh(-0.5, 0.5), nn.ReLU6(),
               nn.LogSigmoid(), nn.Identity(), nn.ReLU(inplace=True), nn.SELU(), nn.CELU(0.5),
               nn.Mish(), nn.Hardswish(), nn.Hardsigmoid(), nn.Softsign(), nn.Softshrink(0.3),
               nn.Hardshrink(0.3), nn.Tanhshrink(), nn.Threshold(0.1, 2.0), nn.Softmin(1),
               nn.PReLU(), nn.PReLU(5)]


@pytest.mark.parametrize("activation", ACTIVATIONS, ids=lambda a: repr(a))
def test_every_activation_exports(activation):
    tg.manual_seed(0)
    assert_runs_like_tapegrad(nn.Sequential(nn.Linear(4, 5), activation), x(3, 4) * 4)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("layout", ["one_layer", "stacked_bidirectional_batch_first"])
def test_recurrent_layers_export_unrolled_over_the_traced_length(kind, layout):
    # The time loop is unrolled: the graph is for sequences of the traced length (5), and
    # any batch size.
    tg.manual_seed(0)
    if layout == "one_layer":
        model, batch_axis, inputs = getattr(nn, kind)(3, 4), 1, (x(5, 2, 3),)
    else:
        model = getattr(nn, kind)(3, 4, num_layers=2, bidirectional=True, batch_first=True)
        batch_axis, inputs = 0, (x(2, 5, 3),)
    assert_runs_like_tapegrad(model, *inputs, batch_axis=batch_axis)


@pytest.mark.parametrize("kind", ["RNNCell", "LSTMCell", "GRUCell"])
def test_recurrent_cells_export(kind):
    tg.manual_seed(0)
    assert_runs_like_tapegrad(getattr(nn, kind)(3, 4), x(2, 3))


def test_cross_attention_with_other_key_and_value_sizes_exports():
    tg.manual_seed(0)
    attention = nn.MultiheadAttention(8, 4, kdim=5, vdim=6)
    assert_runs_like_tapegrad(attention, x(3, 2, 8), x(4, 2, 5), x(4, 2, 6), batch_axis=1)


@pytest.mark.parametrize("need_weights", [True, False])
def test_multihead_self_attention_exports(need_weights):
    tg.manual_seed(0)

    class SelfAttention(nn.Module):
        def __init__(self):
            super().__init__()
            self.attention = nn.MultiheadAttention(8, 2, batch_first=True)

        def forward(self, x):
            return self.attention(x, x, x, need_weights=need_weights)

    assert_runs_like_tapegrad(SelfAttention(), x(2, 5, 8))


class EncoderBlock(nn.Module):
    """A transformer encoder layer (post-norm), built from nn's layers."""

    def __init__(self, dim=8, heads=2, hidden=16):
        super().__init__()
        self.attention = nn.MultiheadAttention(dim, heads, dropout=0.1)
        self.feed_forward = nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(), nn.Dropout(0.1),
                                          nn.Linear(hidden, dim))
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)

    def forward(self, x):
        length = x.shape[0]
        causal = tg.ones(length, length).triu(1).bool()
        x = self.norm1(x + self.attention(x, x, x, attn_mask=causal, need_weights=False)[0])
        return self.norm2(x + self.feed_forward(x))


def test_a_transformer_encoder_block_exports():
    tg.manual_seed(0)
    assert_runs_like_tapegrad(EncoderBlock(), x(5, 2, 8), batch_axis=1)


class Rearranging(nn.Module):
    def forward(self, a, b):
        joined = tg.cat([a, b * 2], dim=1)                       # (N, 7, 4)
        picked = joined[:, 1:6:2, ::2] + joined[:, -1:, 1::2]    # slices, broadcast
        first = joined[..., 0].unsqueeze(-1)                     # int index, ellipsis
        y = tg.stack([picked.sum(1), first.mean(1) * tg.ones(2)], dim=2)
        y = y.permute(0, 2, 1).reshape(-1, 4).transpose(0, 1)
        rows = joined[:, tg.tensor([3, 0, 3])]                   # index tensor
        parts = rows.chunk(2, dim=-1)
        return y.t(), parts[1].flatten(1).max(dim=1).values.clamp(min=-0.5), \
            joined.var(dim=2).amax(-1, keepdim=True)


def test_shapes_cat_stack_indexing_and_reductions_export():
    tg.manual_seed(0)
    assert_runs_like_tapegrad(Rearranging(), x(2, 3, 4), x(2, 4, 4))


class ClampedByTensors(nn.Module):
    def __init__(self):
        super().__init__()
        self.low = nn.Parameter(tg.tensor([-0.5, 0.1, -0.2]))
        self.high = nn.Parameter(tg.tensor(0.3))

    def forward(self, x):
        return x.clamp(self.low, self.high) + x.clamp(min=self.low) + x.clamp_max(self.high)


def test_clamp_by_tensor_bounds_exports_as_max_then_min():
    tg.manual_seed(0)
    assert_runs_like_tapegrad(ClampedByTensors(), x(4, 3))


@pytest.mark.parametrize("opset", [13, 17, 18, 20])
def test_every_supported_opset_writes_reductions_its_own_way(opset):
    # ReduceMean takes its axes as an attribute up to opset 17 and as an input from 18 on.
    tg.manual_seed(0)
    model = nn.Sequential(nn.LayerNorm(4), nn.Softmax(-1))
    assert_runs_like_tapegrad(model, x(3, 4), opset=opset)
    assert onnx.load_from_string(exported(model, [x(3, 4)], opset=opset)).opset_import[0].version \
        == opset


class Resampling(nn.Module):
    def forward(self, x):
        up = F.interpolate(x, scale_factor=2, mode="nearest")
        smooth = F.interpolate(x, size=(5, 7), mode="bilinear", align_corners=False)
        framed = F.pad(x, (1, 2, 0, 1), mode="reflect") + F.pad(x, (1, 2, 0, 1), value=0.5)
        return up.mean((2, 3)) + smooth.amax((2, 3)) + framed.sum((2, 3)), x[:, -1, :, 0]


def test_interpolation_and_padding_export():
    tg.manual_seed(0)
    assert_runs_like_tapegrad(Resampling(), x(2, 3, 4, 4))


# -- what cannot be exported ------------------------------------------------------------------
def test_an_operation_without_an_onnx_form_is_named():
    class Sorting(nn.Module):
        def forward(self, x):
            return x.sort(dim=1).values

    with pytest.raises(RuntimeError, match="'sort' has no ONNX form"):
        tg.onnx.export(Sorting(), (x(2, 3),), io.BytesIO())


def test_a_value_computed_from_the_input_with_numpy_is_refused_not_frozen():
    class Sneaky(nn.Module):
        def forward(self, x):
            return x * tg.tensor(np.asarray(x.array) > 0)

    with pytest.raises(RuntimeError, match="computed from the input outside the recorded"):
        tg.onnx.export(Sneaky(), (x(2, 3),), io.BytesIO())


def test_an_in_place_change_the_tape_did_not_see_is_refused():
    class InPlace(nn.Module):
        def forward(self, x):
            y = x * 2
            y += 1
            return y.exp()

    with pytest.raises(RuntimeError, match="changed in place by 'add_'"):
        tg.onnx.export(InPlace(), (x(2, 3),), io.BytesIO())


def test_a_recurrent_layer_cannot_have_a_dynamic_sequence_length():
    with pytest.raises(RuntimeError, match="runs other operations"):
        tg.onnx.export(nn.GRU(3, 4), (x(5, 2, 3),), io.BytesIO(),
                       input_names=["x"], dynamic_axes={"x": [0, 1]})


def test_a_linear_layer_on_sequences_exports_with_every_leading_axis_dynamic():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    buffer = io.BytesIO()
    tg.onnx.export(model, (x(5, 2, 3),), buffer, input_names=["x"], dynamic_axes={"x": [0, 1]})
    session = ort.InferenceSession(buffer.getvalue())
    other = np.random.default_rng(0).standard_normal((7, 3, 3)).astype(np.float32)
    np.testing.assert_allclose(session.run(None, {"x": other})[0],
                               model(tg.from_numpy(other)).detach().numpy(), rtol=1e-5,
                               atol=1e-6)


def test_the_opset_must_be_one_onnx_knows():
    with pytest.raises(ValueError, match="opset_version must be between 13"):
        tg.onnx.export(nn.Linear(2, 2), (x(1, 2),), io.BytesIO(), opset_version=9)


def test_a_file_on_disk_names_the_initializers_after_the_parameters(tmp_path):
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    path = tmp_path / "model.onnx"
    tg.onnx.export(model, x(2, 3), str(path), opset_version=18)
    proto = onnx.load(str(path))
    names = {t.name for t in proto.graph.initializer}
    assert {"0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean",
            "1.running_var"} <= names
    assert proto.opset_import[0].version == 18
    assert [i.name for i in proto.graph.input] == ["input"]


def test_a_zero_tensor_sized_from_the_batch_is_made_in_the_graph():
    class WithZeroState(nn.Module):
        def forward(self, x):
            return x + tg.zeros(x.shape[0], 3)   # as an RNN's default state is made

    assert_runs_like_tapegrad(WithZeroState(), x(2, 3))


@pytest.mark.parametrize("norm_first", [False, True])
def test_the_transformer_layers_of_nn_export(norm_first):
    tg.manual_seed(0)
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, norm_first=norm_first,
                                       batch_first=True)
    assert_runs_like_tapegrad(nn.TransformerEncoder(layer, 2, enable_nested_tensor=False),
                              x(2, 5, 8))
    decoder = nn.TransformerDecoderLayer(8, 2, dim_feedforward=16, norm_first=norm_first)
    assert_runs_like_tapegrad(decoder, x(5, 2, 8), x(4, 2, 8), batch_axis=1)


def test_an_int_and_an_index_tensor_apart_export_with_pytorchs_shape():
    class Picking(nn.Module):
        def forward(self, x):
            return x[:, 1, :, tg.tensor([0, 2])]   # (N, 3, 2): the int selects first

    assert_runs_like_tapegrad(Picking(), x(2, 2, 3, 4))
