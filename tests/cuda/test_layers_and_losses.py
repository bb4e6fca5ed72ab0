"""Every layer and every loss on cuda computes what it computes on the cpu.

A layer is made on the cpu (float64), deep-copied and moved to cuda with ``.to("cuda")``;
both get the same input. Their outputs, the gradients of a fixed weighted sum of the
outputs with respect to the input and to every parameter, and the buffers (running
statistics) must agree, and every parameter, buffer, output and gradient of the cuda copy
must live on cuda (its array really on that device). Losses likewise, with their targets
(class indices, weights, probabilities) on cuda, for every reduction; each loss is also
gradchecked on cuda (first and second derivatives).
"""
import copy

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.nn as nn
import tapegrad.nn.functional as F

from .on_device import tensors_in, where_it_says

pytestmark = pytest.mark.cuda
CUDA = "cuda:0"


def host(t):
    return t.detach().cpu().numpy()


def assert_close_on(gpu, cpu, rtol=1e-10, atol=1e-12):
    assert gpu.device == tg.device(CUDA) and where_it_says(gpu), f"not on cuda: {gpu.device}"
    assert gpu.dtype == cpu.dtype and tuple(gpu.shape) == tuple(cpu.shape)
    np.testing.assert_allclose(host(gpu), host(cpu), rtol=rtol, atol=atol)


def inputs_for(shapes, seed):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s) if isinstance(s, tuple) else s for s in shapes]
    cpu = [tg.tensor(a, dtype=tg.float64, requires_grad=True) if isinstance(a, np.ndarray)
           and a.dtype.kind == "f" else tg.tensor(a) if isinstance(a, np.ndarray) else a
           for a in arrays]
    gpu = [t.detach().to(CUDA).requires_grad_(t.requires_grad) if isinstance(t, tg.Tensor)
           else t for t in cpu]
    return cpu, gpu


def same_on_both(make, shapes, train=True, seed=0, call=None):
    """``make()`` on the cpu and a copy on cuda, run on the same inputs; everything compared."""
    tg.manual_seed(seed)
    layer = make()
    gpu_layer = copy.deepcopy(layer).to(CUDA)
    for name, t in list(gpu_layer.named_parameters()) + list(gpu_layer.named_buffers()):
        assert t.device == tg.device(CUDA) and where_it_says(t), name
    layer.train(train)
    gpu_layer.train(train)
    x, x_gpu = inputs_for(shapes, seed)
    call = call or (lambda m, *args: m(*args))
    out, out_gpu = tensors_in(call(layer, *x)), tensors_in(call(gpu_layer, *x_gpu))
    assert len(out) == len(out_gpu)
    for a, b in zip(out_gpu, out):
        assert_close_on(a, b)
    weights = np.random.default_rng(seed + 1)
    total = total_gpu = 0
    for a, b in zip(out, out_gpu):
        if a.dtype.is_floating_point and a.requires_grad:
            w = weights.standard_normal(tuple(a.shape))
            total = total + (a * tg.tensor(w)).sum()
            total_gpu = total_gpu + (b * tg.tensor(w, device=CUDA)).sum()
    if isinstance(total, tg.Tensor):
        total.backward()
        total_gpu.backward()
        for a, b in zip(x_gpu, x):
            if isinstance(a, tg.Tensor) and a.requires_grad and b.grad is not None:
                assert_close_on(a.grad, b.grad)
        for a, b in zip(gpu_layer.parameters(), layer.parameters()):
            if b.grad is not None:
                assert_close_on(a.grad, b.grad)
    for a, b in zip(gpu_layer.buffers(), layer.buffers()):
        assert_close_on(a, b)
    return out_gpu


f64 = dict(dtype=tg.float64)
LAYERS = {
    "Linear": (lambda: nn.Linear(4, 3, **f64), [(5, 4)]),
    "Linear 3-d input": (lambda: nn.Linear(4, 3, **f64), [(2, 5, 4)]),
    "Bilinear": (lambda: nn.Bilinear(3, 2, 4, **f64), [(5, 3), (5, 2)]),
    "Identity": (lambda: nn.Identity(), [(2, 3)]),
    "Flatten": (lambda: nn.Flatten(), [(2, 3, 4)]),
    "Unflatten": (lambda: nn.Unflatten(1, (2, 3)), [(4, 6)]),
    "Conv1d": (lambda: nn.Conv1d(2, 3, 3, padding=1, **f64), [(2, 2, 7)]),
    "Conv2d strided, groups": (lambda: nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2, **f64),
                               [(2, 4, 7, 6)]),
    "Conv2d reflect padding": (lambda: nn.Conv2d(2, 3, 3, padding=1, padding_mode="reflect",
                                                 **f64), [(2, 2, 5, 5)]),
    "Conv2d circular padding": (lambda: nn.Conv2d(2, 3, 3, padding=1, padding_mode="circular",
                                                  **f64), [(2, 2, 5, 5)]),
    "ConvTranspose1d": (lambda: nn.ConvTranspose1d(3, 2, 3, stride=2, **f64), [(2, 3, 5)]),
    "ConvTranspose2d": (lambda: nn.ConvTranspose2d(3, 2, 3, stride=2, output_padding=1, **f64),
                        [(2, 3, 4, 4)]),
    "MaxPool1d": (lambda: nn.MaxPool1d(2), [(2, 3, 8)]),
    "MaxPool2d with indices": (lambda: nn.MaxPool2d(3, stride=2, padding=1, return_indices=True),
                               [(2, 3, 7, 7)]),
    "AvgPool1d": (lambda: nn.AvgPool1d(3, stride=2, padding=1), [(2, 3, 8)]),
    "AvgPool2d": (lambda: nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False),
                  [(2, 3, 7, 7)]),
    "AdaptiveAvgPool1d": (lambda: nn.AdaptiveAvgPool1d(3), [(2, 3, 7)]),
    "AdaptiveAvgPool2d": (lambda: nn.AdaptiveAvgPool2d((3, 2)), [(2, 3, 7, 5)]),
    "BatchNorm1d train": (lambda: nn.BatchNorm1d(3, **f64), [(6, 3)]),
    "BatchNorm1d eval": (lambda: nn.BatchNorm1d(3, **f64), [(6, 3, 4)], False),
    "BatchNorm2d train": (lambda: nn.BatchNorm2d(3, **f64), [(4, 3, 5, 5)]),
    "BatchNorm2d no running stats": (lambda: nn.BatchNorm2d(3, track_running_stats=False,
                                                            **f64), [(4, 3, 5, 5)]),
    "LayerNorm": (lambda: nn.LayerNorm((4, 5), **f64), [(3, 4, 5)]),
    "GroupNorm": (lambda: nn.GroupNorm(2, 4, **f64), [(3, 4, 5)]),
    "Embedding": (lambda: nn.Embedding(10, 3, padding_idx=0, **f64),
                  [np.array([[1, 0, 3], [9, 3, 3]])]),
    "Embedding max_norm": (lambda: nn.Embedding(10, 3, max_norm=1.0, **f64),
                           [np.array([1, 4, 4, 7])]),
    "RNN": (lambda: nn.RNN(3, 4, num_layers=2, **f64), [(5, 2, 3)]),
    "LSTM bidirectional": (lambda: nn.LSTM(3, 4, bidirectional=True, batch_first=True, **f64),
                           [(2, 5, 3)]),
    "GRU": (lambda: nn.GRU(3, 4, **f64), [(5, 2, 3)]),
    "RNNCell": (lambda: nn.RNNCell(3, 4, **f64), [(2, 3)]),
    "LSTMCell": (lambda: nn.LSTMCell(3, 4, **f64), [(2, 3)]),
    "GRUCell": (lambda: nn.GRUCell(3, 4, **f64), [(2, 3)]),
    "MultiheadAttention": (lambda: nn.MultiheadAttention(8, 2, **f64), [(4, 2, 8)] * 3),
    "MultiheadAttention kdim, bias_kv": (
        lambda: nn.MultiheadAttention(8, 2, kdim=5, vdim=6, add_bias_kv=True, add_zero_attn=True,
                                      batch_first=True, **f64), [(2, 4, 8), (2, 3, 5), (2, 3, 6)]),
    "Transformer": (lambda: nn.Transformer(8, 2, 1, 1, 12, dropout=0.0, **f64),
                    [(5, 2, 8), (4, 2, 8)]),
    "TransformerEncoderLayer norm_first": (
        lambda: nn.TransformerEncoderLayer(8, 2, 12, dropout=0.0, norm_first=True,
                                           batch_first=True, **f64), [(2, 5, 8)]),
}
ACTIVATIONS = ["ELU", "GELU", "Hardtanh", "LeakyReLU", "LogSigmoid", "ReLU", "ReLU6", "Sigmoid",
               "SiLU", "Softplus", "Tanh"]


@pytest.mark.parametrize("name", LAYERS)
def test_a_layer_on_cuda_computes_what_it_computes_on_the_cpu(name):
    make, shapes, *train = LAYERS[name]
    same_on_both(make, shapes, train=train[0] if train else True)


@pytest.mark.parametrize("name", ACTIVATIONS + ["Softmax", "LogSoftmax"])
def test_an_activation_layer_on_cuda_computes_what_it_computes_on_the_cpu(name):
    layer = getattr(nn, name)
    same_on_both(lambda: layer(dim=1) if "Softmax" in name else layer(), [(3, 4)])


def test_gelu_tanh_and_inplace_activations_on_cuda():
    same_on_both(lambda: nn.GELU(approximate="tanh"), [(3, 4)])
    same_on_both(lambda: nn.Sequential(nn.Linear(4, 4, **f64), nn.ReLU(inplace=True),
                                       nn.Linear(4, 2, **f64), nn.ELU(inplace=True)), [(3, 4)])


def test_a_multi_head_attention_with_masks_on_cuda():
    mask = np.triu(np.full((4, 4), -np.inf), 1)
    padding = np.array([[False, False, False, True], [False, True, True, True]])
    same_on_both(lambda: nn.MultiheadAttention(8, 2, batch_first=True, **f64),
                 [(2, 4, 8)] * 3 + [mask, padding],
                 call=lambda m, q, k, v, am, kpm: m(q, k, v, attn_mask=am, key_padding_mask=kpm))


def test_a_transformer_with_causal_and_padding_masks_on_cuda():
    causal = nn.Transformer.generate_square_subsequent_mask(4, device=CUDA, dtype=tg.float64)
    assert causal.device == tg.device(CUDA) and where_it_says(causal)
    padding = np.array([[False, False, False, True, True], [False] * 5])
    same_on_both(lambda: nn.Transformer(8, 2, 2, 1, 12, dropout=0.0, batch_first=True, **f64),
                 [(2, 5, 8), (2, 4, 8), np.triu(np.full((4, 4), -np.inf), 1), padding],
                 call=lambda m, s, t, mask, kpm: m(s, t, tgt_mask=mask, src_key_padding_mask=kpm,
                                                   memory_key_padding_mask=kpm))


def test_data_parallel_runs_the_module_on_one_gpu():
    model = nn.Linear(4, 3, **f64)
    dp = nn.DataParallel(model)
    assert dp.device_ids == [0] and dp.module is model
    assert model.weight.device == tg.device(CUDA) and where_it_says(model.weight)
    x = tg.tensor(np.random.default_rng(0).standard_normal((5, 4)), requires_grad=True)
    out = dp(x)                     # a cpu input is moved to the module's device
    assert out.device == tg.device(CUDA) and where_it_says(out)
    out.sum().backward()
    assert x.grad.device == tg.device("cpu") and model.weight.grad.device == tg.device(CUDA)
    np.testing.assert_allclose(host(out), x.detach().numpy() @ host(model.weight).T
                               + host(model.bias), rtol=1e-12)
    same = nn.parallel.data_parallel(model, x, device_ids=[0])
    np.testing.assert_array_equal(host(same), host(out))
    model.cpu()
    with pytest.raises(RuntimeError, match="module must have its parameters and buffers on "
                                           "device cuda:0 .*weight on device: cpu"):
        dp(x)


def test_an_lstm_with_a_given_initial_state_on_cuda():
    same_on_both(lambda: nn.LSTM(3, 4, num_layers=2, **f64), [(5, 2, 3), (2, 2, 4), (2, 2, 4)],
                 call=lambda m, x, h, c: m(x, (h, c)))


FUNCTIONS = {
    "pad reflect": (lambda x: F.pad(x, (1, 2, 2, 1), mode="reflect"), [(2, 3, 4, 5)]),
    "pad replicate": (lambda x: F.pad(x, (2, 1), mode="replicate"), [(2, 3, 4)]),
    "pad circular": (lambda x: F.pad(x, (1, 1, 1, 1), mode="circular"), [(2, 3, 4, 5)]),
    "pad constant": (lambda x: F.pad(x, (1, 1, 0, 2), value=0.5), [(2, 3, 4)]),
    "interpolate nearest": (lambda x: F.interpolate(x, scale_factor=2), [(2, 3, 4, 3)]),
    "interpolate bilinear": (lambda x: F.interpolate(x, size=(5, 7), mode="bilinear",
                                                     align_corners=False), [(2, 3, 4, 3)]),
    "interpolate bilinear aligned": (lambda x: F.upsample_bilinear(x, scale_factor=2),
                                     [(1, 2, 3, 3)]),
    "unfold": (lambda x: F.unfold(x, 2, stride=2), [(2, 3, 4, 4)]),
    "fold": (lambda x: F.fold(x, (4, 4), 2, stride=2), [(2, 12, 4)]),
    "dropout eval": (lambda x: F.dropout(x, 0.5, training=False), [(3, 4)]),
    "scaled dot product attention causal": (
        lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
        [(2, 3, 4, 5)] * 3),
    "softmax": (lambda x: F.softmax(x, dim=-1), [(3, 4)]),
    "log_softmax": (lambda x: F.log_softmax(x, dim=0), [(3, 4)]),
}


@pytest.mark.parametrize("name", FUNCTIONS)
def test_a_function_of_nn_functional_on_cuda_computes_what_it_does_on_the_cpu(name):
    fn, shapes = FUNCTIONS[name]
    same_on_both(lambda: nn.Identity(), shapes, call=lambda m, *args: fn(*args))


def test_one_hot_and_embedding_of_cuda_indices_stay_on_cuda():
    index = tg.tensor([[0, 2], [3, 1]], device=CUDA)
    hot = F.one_hot(index, 4)
    assert hot.device == tg.device(CUDA) and where_it_says(hot) and hot.dtype is tg.int64
    assert hot.cpu().tolist() == F.one_hot(index.cpu(), 4).tolist()


def test_dropout_on_cuda_draws_its_mask_on_cuda_and_scales_the_kept_values():
    tg.manual_seed(0)
    x = tg.ones(200, 50, device=CUDA, dtype=tg.float64, requires_grad=True)
    for fn in (lambda t: F.dropout(t, 0.3), lambda t: F.dropout2d(t.reshape(20, 10, 50, 1), 0.3)):
        y = fn(x)
        assert y.device == tg.device(CUDA) and where_it_says(y)
        kept = host(y) != 0
        assert 0.6 < kept.mean() < 0.8
        np.testing.assert_allclose(host(y)[kept], 1 / 0.7)
        y.sum().backward()
        assert x.grad.device == tg.device(CUDA) and where_it_says(x.grad)
        x.grad = None


def test_a_module_moves_to_cuda_and_back_with_its_buffers_and_gradients():
    model = nn.Sequential(nn.Conv2d(2, 3, 3, **f64), nn.BatchNorm2d(3, **f64), nn.ReLU(),
                          nn.Flatten(), nn.Linear(27, 2, **f64))
    model(tg.randn(2, 2, 5, 5, dtype=tg.float64)).sum().backward()
    model.to(CUDA)
    for name, t in list(model.named_parameters()) + list(model.named_buffers()):
        assert t.device == tg.device(CUDA) and where_it_says(t), name
        if t.grad is not None:
            assert t.grad.device == tg.device(CUDA) and where_it_says(t.grad), name
    model(tg.randn(2, 2, 5, 5, dtype=tg.float64, device=CUDA)).sum().backward()
    model.cpu()
    for name, t in list(model.named_parameters()) + list(model.named_buffers()):
        assert t.device == tg.device("cpu") and where_it_says(t), name


# -- losses ------------------------------------------------------------------------------------
REDUCTIONS = ["none", "mean", "sum"]
PROBABILITIES = np.random.default_rng(3).uniform(0.05, 0.95, (4, 3))
OTHER_PROBABILITIES = PROBABILITIES[::-1].copy()
DISTRIBUTIONS = PROBABILITIES / PROBABILITIES.sum(1, keepdims=True)
CLASSES = np.array([2, 0, 4, 1])
CLASSES_2D = np.array([[2, 0, 1], [4, 4, 3]])
SIGNS = np.array([1.0, -1.0, 1.0, -1.0])
LOSSES = {
    "MSELoss": (lambda r: nn.MSELoss(reduction=r), [(4, 3), (4, 3)]),
    "L1Loss": (lambda r: nn.L1Loss(reduction=r), [(4, 3), (4, 3)]),
    "HuberLoss": (lambda r: nn.HuberLoss(reduction=r, delta=0.5), [(4, 3), (4, 3)]),
    "SmoothL1Loss": (lambda r: nn.SmoothL1Loss(reduction=r, beta=0.5), [(4, 3), (4, 3)]),
    "BCELoss": (lambda r: nn.BCELoss(reduction=r), [PROBABILITIES, OTHER_PROBABILITIES]),
    "BCELoss weight": (lambda r: nn.BCELoss(weight=tg.tensor([1.0, 2.0, 0.5], **f64),
                                            reduction=r), [PROBABILITIES, OTHER_PROBABILITIES]),
    "BCEWithLogitsLoss pos_weight": (
        lambda r: nn.BCEWithLogitsLoss(pos_weight=tg.tensor([1.0, 2.0, 0.5], **f64),
                                       reduction=r), [(4, 3), PROBABILITIES]),
    "CrossEntropyLoss": (lambda r: nn.CrossEntropyLoss(reduction=r), [(4, 5), CLASSES]),
    "CrossEntropyLoss weight, ignore_index, smoothing": (
        lambda r: nn.CrossEntropyLoss(weight=tg.tensor([1.0, 2.0, 0.5, 1.5, 1.0], **f64),
                                      ignore_index=0, label_smoothing=0.1, reduction=r),
        [(4, 5), CLASSES]),
    "CrossEntropyLoss 2-d": (lambda r: nn.CrossEntropyLoss(reduction=r), [(2, 5, 3), CLASSES_2D]),
    "CrossEntropyLoss probabilities": (lambda r: nn.CrossEntropyLoss(reduction=r),
                                       [(4, 3), DISTRIBUTIONS]),
    "NLLLoss weight": (lambda r: nn.NLLLoss(weight=tg.tensor([1.0, 2.0, 0.5, 1.5, 1.0], **f64),
                                            reduction=r), [(4, 5), CLASSES]),
    "KLDivLoss": (lambda r: nn.KLDivLoss(reduction="batchmean" if r == "mean" else r),
                  [(4, 3), PROBABILITIES]),
    "KLDivLoss log_target": (lambda r: nn.KLDivLoss(reduction=r, log_target=True),
                             [(4, 3), (4, 3)]),
    "MarginRankingLoss": (lambda r: nn.MarginRankingLoss(margin=0.3, reduction=r),
                          [(4,), (4,), SIGNS]),
    "CosineEmbeddingLoss": (lambda r: nn.CosineEmbeddingLoss(margin=0.2, reduction=r),
                            [(4, 3), (4, 3), SIGNS]),
}


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", LOSSES)
def test_a_loss_on_cuda_computes_what_it_computes_on_the_cpu(name, reduction):
    make, shapes = LOSSES[name]
    same_on_both(lambda: make(reduction), shapes)


@pytest.mark.parametrize("name", LOSSES)
def test_gradcheck_of_a_loss_on_cuda(name):
    make, shapes = LOSSES[name]
    loss = make("mean").to(CUDA)
    _, inputs = inputs_for(shapes, seed=7)
    inputs = [inputs[0]] + [t.detach() if isinstance(t, tg.Tensor) else t for t in inputs[1:]]
    assert tg.autograd.gradcheck(loss, inputs)
    assert tg.autograd.gradgradcheck(loss, inputs)


@pytest.mark.parametrize("layer", ["batch_norm", "layer_norm"])
def test_a_fused_normalisation_with_its_statistics_on_another_device_is_refused_by_name(layer):
    x = tg.randn(4, 3, dtype=tg.float64).to(CUDA)
    stats = tg.zeros(3, dtype=tg.float64), tg.ones(3, dtype=tg.float64)   # on the cpu
    with pytest.raises(RuntimeError, match=f"{layer}: expected all tensors on the same device"):
        if layer == "batch_norm":
            tg.nn.functional.batch_norm(x, *stats, training=False)
        else:
            tg.nn.functional.layer_norm(x, (3,), *stats)
