"""tapegrad.onnx.load: an ONNX graph becomes a Module whose parameters require grad.
Round trips: a model exported and loaded again gives the same outputs and the same
gradients, for its parameters (under the same names) and for its input."""
import io

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import nn

onnx = pytest.importorskip("onnx", reason="needs the onnx extra: pip install 'tapegrad[onnx]'")

from tests.onnx.test_export import EncoderBlock, Rearranging, Resampling  # noqa: E402


def round_trip(model, inputs):
    buffer = io.BytesIO()
    tg.onnx.export(model, tuple(inputs), buffer)
    buffer.seek(0)
    return tg.onnx.load(buffer)


def outputs_of(result):
    if isinstance(result, (tuple, list)):
        return [t for item in result for t in outputs_of(item)]
    return [] if result is None else [result]


def loss_and_gradients(model, inputs):
    inputs = [x.detach().requires_grad_(x.dtype.is_floating_point) for x in inputs]
    model.zero_grad()
    outputs = outputs_of(model(*inputs))
    loss = sum(((o * (k + 1)).sin()).sum() for k, o in enumerate(outputs))
    loss.backward()
    grads = {name: p.grad.numpy().copy() for name, p in model.named_parameters()}
    return outputs, grads, [x.grad.numpy() if x.requires_grad else None for x in inputs]


MODELS = {
    "mlp_batch_norm": lambda: (nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.GELU(),
                                             nn.Dropout(0.3), nn.Linear(6, 2),
                                             nn.LogSoftmax(-1)), [tg.randn(3, 4)]),
    "cnn": lambda: (nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.GroupNorm(2, 4), nn.ReLU(),
                                  nn.MaxPool2d(2, ceil_mode=True), nn.ConvTranspose2d(4, 2, 2, 2),
                                  nn.AvgPool2d(3, 2, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten()),
                    [tg.randn(2, 2, 5, 5)]),
    "conv1d": lambda: (nn.Sequential(nn.Conv1d(2, 3, 3, padding="same"), nn.ELU(),
                                     nn.ConvTranspose1d(3, 2, 3, stride=2)), [tg.randn(2, 2, 6)]),
    "lstm": lambda: (nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True),
                     [tg.randn(2, 4, 3)]),
    "gru": lambda: (nn.GRU(3, 4), [tg.randn(4, 2, 3)]),
    "encoder_block": lambda: (EncoderBlock(), [tg.randn(4, 2, 8)]),
    "shapes_and_indexing": lambda: (Rearranging(), [tg.randn(2, 3, 4), tg.randn(2, 4, 4)]),
    "resampling": lambda: (Resampling(), [tg.randn(2, 3, 4, 4)]),
    "embedding": lambda: (nn.Sequential(nn.Embedding(7, 3), nn.LayerNorm(3)),
                          [tg.tensor([[1, 2, 6], [0, 2, 2]])]),
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_round_trip_gives_the_same_outputs_and_gradients(name):
    tg.manual_seed(0)
    model, inputs = MODELS[name]()
    model.eval()
    loaded = round_trip(model, inputs)
    assert all(p.requires_grad for p in loaded.parameters())
    expected, expected_grads, expected_input_grads = loss_and_gradients(model, inputs)
    got, grads, input_grads = loss_and_gradients(loaded, inputs)
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g.detach().numpy(), e.detach().numpy(), atol=1e-5, rtol=1e-4)
    assert set(grads) == {n for n, p in model.named_parameters()}
    for key, value in expected_grads.items():
        np.testing.assert_allclose(grads[key], value, atol=1e-4, rtol=1e-3, err_msg=key)
    for g, e in zip(input_grads, expected_input_grads):
        if e is not None:
            np.testing.assert_allclose(g, e, atol=1e-4, rtol=1e-3)


def test_the_loaded_module_trains_and_its_state_dict_matches_the_original():
    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1))
    loaded = round_trip(model, [tg.randn(4, 2)])
    assert set(loaded.state_dict()) == set(model.state_dict())
    x = tg.randn(32, 2)
    y = x[:, :1] * x[:, 1:]
    optimizer = tg.optim.Adam(loaded.parameters(), lr=0.05)
    first = None
    for _ in range(60):
        optimizer.zero_grad()
        loss = ((loaded(x) - y) ** 2).mean()
        loss.backward()
        optimizer.step()
        first = first if first is not None else loss.item()
    assert loss.item() < first / 2


def test_a_model_exported_by_pytorch_loads_and_computes_the_same():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(),
                                torch.nn.MaxPool2d(2), torch.nn.Flatten(),
                                torch.nn.Linear(4 * 4 * 4, 3), torch.nn.LogSoftmax(-1)).eval()
    buffer = io.BytesIO()
    torch.onnx.export(model, (torch.randn(2, 1, 8, 8),), buffer, dynamo=False,
                      input_names=["x"], dynamic_axes={"x": {0: "batch"}})
    buffer.seek(0)
    loaded = tg.onnx.load(buffer)
    x = np.random.default_rng(0).standard_normal((3, 1, 8, 8)).astype(np.float32)
    got = loaded(tg.tensor(x))
    np.testing.assert_allclose(got.detach().numpy(), model(torch.tensor(x)).detach().numpy(),
                               atol=1e-5)
    got.sum().backward()
    assert all(p.grad is not None for p in loaded.parameters())


def test_an_operator_without_a_tapegrad_form_is_named(tmp_path):
    node = onnx.helper.make_node("Hardmax", ["x"], ["y"])
    graph = onnx.helper.make_graph(
        [node], "g", [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [2, 3])],
        [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [2, 3])])
    with pytest.raises(RuntimeError, match="'Hardmax'"):
        tg.onnx.load(onnx.helper.make_model(graph))


def test_a_loaded_classifier_can_be_explained_at_any_batch_size():
    tg.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 3, 3), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 16, 4))
    buffer = io.BytesIO()
    tg.onnx.export(model, tg.randn(2, 1, 6, 6), buffer, dynamic_axes={"input": [0]})
    buffer.seek(0)
    loaded = tg.onnx.load(buffer)
    x = tg.randn(3, 1, 6, 6)
    explain = tg.explain.IntegratedGradients
    expected = explain(model).attribute(x, target=1, n_steps=8)
    got = explain(loaded).attribute(x, target=1, n_steps=8)
    np.testing.assert_allclose(got.numpy(), expected.numpy(), atol=1e-5)


def test_without_the_onnx_package_the_error_says_how_to_install_it(monkeypatch):
    import sys
    monkeypatch.setitem(sys.modules, "onnx", None)   # as if it were not installed
    with pytest.raises(ImportError, match=r'pip install "tapegrad\[onnx\]"'):
        tg.onnx.export(nn.Linear(2, 2), tg.randn(1, 2), io.BytesIO())
    with pytest.raises(ImportError, match=r'pip install "tapegrad\[onnx\]"'):
        tg.onnx.load("model.onnx")


def test_importing_tapegrad_does_not_import_onnx():
    import os
    import subprocess
    import sys
    code = "import sys, tapegrad; assert 'onnx' not in sys.modules, 'onnx was imported'"
    subprocess.run([sys.executable, "-c", code], check=True, env=os.environ.copy())


def one_node_model(node, x_shape, initializers=(), opset=17):
    info = onnx.helper.make_tensor_value_info
    graph = onnx.helper.make_graph(
        [node], "g", [info("x", onnx.TensorProto.FLOAT, list(x_shape))],
        [info("y", onnx.TensorProto.FLOAT, None)], list(initializers))
    return onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", opset)])


def test_a_graph_older_than_opset_13_is_refused_not_misread():
    # Softmax without axis meant "flatten to 2-d at axis 1" before opset 13.
    model = one_node_model(onnx.helper.make_node("Softmax", ["x"], ["y"]), (2, 3, 4), opset=11)
    with pytest.raises(RuntimeError, match="opset 11"):
        tg.onnx.load(model)


def test_what_the_reader_cannot_do_is_refused_by_name():
    weight = onnx.numpy_helper.from_array(np.ones((1, 1, 2, 2, 2), np.float32), "w")
    conv3d = one_node_model(onnx.helper.make_node("Conv", ["x", "w"], ["y"]), (1, 1, 3, 3, 3),
                            [weight])
    with pytest.raises(RuntimeError, match="Conv over 3 spatial dims"):
        tg.onnx.load(conv3d)(tg.randn(1, 1, 3, 3, 3))
    dilated = one_node_model(onnx.helper.make_node("AveragePool", ["x"], ["y"], kernel_shape=[2],
                                                   dilations=[2]), (1, 1, 6), opset=19)
    with pytest.raises(RuntimeError, match="dilations"):
        tg.onnx.load(dilated)(tg.randn(1, 1, 6))
    unnamed = onnx.numpy_helper.from_array(np.ones((2, 2), np.float32), "a..b")
    with pytest.raises(RuntimeError, match="empty part"):
        tg.onnx.load(one_node_model(onnx.helper.make_node("Add", ["x", "a..b"], ["y"]), (2, 2),
                                    [unnamed]))
