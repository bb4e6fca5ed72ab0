"""BatchNorm1d/2d, LayerNorm, GroupNorm, and their functional forms."""
import numpy as np
import pytest

import tapegrad as tg
from tapegrad.autograd import gradcheck, gradgradcheck
from tapegrad.nn.functional.normalization import batch_norm, group_norm, layer_norm
from tapegrad.nn.modules.normalization import BatchNorm1d, BatchNorm2d, GroupNorm, LayerNorm

rng = np.random.default_rng(0)


def leaf(*shape):
    return tg.tensor(rng.uniform(-1, 1, size=shape), dtype=tg.float64, requires_grad=True)


def transposed_leaf(*shape):
    """A float64 leaf of ``shape`` whose memory is a transposed view (not C-contiguous)."""
    array = rng.uniform(-1, 1, size=tuple(reversed(shape))).T
    return tg.from_numpy(array).requires_grad_()


def normalized(x, axes, eps=1e-5):
    """numpy's (x - mean) / sqrt(biased var + eps) over ``axes``."""
    mean = x.mean(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(x.var(axis=axes, keepdims=True) + eps)


# -- batch_norm: values ----------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5), (4, 3, 2, 5)])
def test_batch_norm_in_training_uses_the_batch_statistics_of_each_channel(shape):
    x = rng.standard_normal(shape).astype(np.float32) * 3 + 1
    w = rng.standard_normal(3).astype(np.float32)
    b = rng.standard_normal(3).astype(np.float32)
    out = batch_norm(tg.from_numpy(x), None, None, tg.from_numpy(w), tg.from_numpy(b),
                     training=True)
    axes = (0,) + tuple(range(2, len(shape)))
    per_channel = (3,) + (1,) * (len(shape) - 2)
    expected = normalized(x, axes) * w.reshape(per_channel) + b.reshape(per_channel)
    assert out.dtype == tg.float32 and out.shape == shape
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-4, atol=1e-5)


def test_batch_norm_in_evaluation_uses_the_running_statistics():
    x = rng.standard_normal((5, 3, 4)).astype(np.float32)
    mean, var = np.array([0.5, -1, 2], np.float32), np.array([4, 0.25, 1], np.float32)
    w, b = np.array([1, 2, 3], np.float32), np.array([0, -1, 1], np.float32)
    out = batch_norm(tg.from_numpy(x), tg.from_numpy(mean), tg.from_numpy(var),
                     tg.from_numpy(w), tg.from_numpy(b), training=False, eps=1e-3)
    c = (3, 1)
    expected = (x - mean.reshape(c)) / np.sqrt(var.reshape(c) + 1e-3) * w.reshape(c) + b.reshape(c)
    assert out.dtype == tg.float32
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5, atol=1e-6)


def test_batch_norm_updates_running_stats_in_place_with_the_unbiased_variance():
    x = rng.standard_normal((8, 2, 3)).astype(np.float32)
    running_mean, running_var = tg.zeros(2), tg.ones(2)
    mean_array = running_mean.array
    batch_norm(tg.from_numpy(x), running_mean, running_var, training=True, momentum=0.25)
    assert running_mean.array is mean_array   # the same memory
    np.testing.assert_allclose(running_mean.numpy(), 0.25 * x.mean(axis=(0, 2)), rtol=1e-5)
    np.testing.assert_allclose(running_var.numpy(), 0.75 + 0.25 * x.var(axis=(0, 2), ddof=1),
                               rtol=1e-5)
    assert running_mean._version > 0 and not running_mean.requires_grad


def test_batch_norm_without_weight_and_bias_only_normalizes():
    x = rng.standard_normal((7, 4)).astype(np.float32)
    out = batch_norm(tg.from_numpy(x), None, None, training=True)
    np.testing.assert_allclose(out.numpy(), normalized(x, (0,)), rtol=1e-4, atol=1e-5)


def test_batch_norm_errors_name_the_shapes():
    with pytest.raises(ValueError, match=r"Expected more than 1 value per channel when "
                                         r"training, got input size \(1, 16\)"):
        batch_norm(tg.zeros(1, 16), None, None, training=True)
    with pytest.raises(RuntimeError, match=r"running_mean should have shape \(3,\).*got \(4,\)"):
        batch_norm(tg.zeros(2, 3), tg.zeros(4), tg.ones(4))
    with pytest.raises(RuntimeError, match=r"at least 2 dimensions.*got shape \(3,\)"):
        batch_norm(tg.zeros(3), None, None, training=True)
    with pytest.raises(RuntimeError, match="must be given when training=False"):
        batch_norm(tg.zeros(2, 3), None, None, training=False)
    with pytest.raises(RuntimeError, match="floating point"):
        batch_norm(tg.zeros(2, 3, dtype=tg.int64), None, None, training=True)


# -- BatchNorm modules ---------------------------------------------------------------------------
def numpy_running_stats(batches, momentum, axes):
    mean, var = 0.0, 1.0
    for k, x in enumerate(batches, start=1):
        m = momentum if momentum is not None else 1 / k
        mean = (1 - m) * mean + m * x.mean(axis=axes)
        var = (1 - m) * var + m * x.var(axis=axes, ddof=1)
    return mean, var


@pytest.mark.parametrize("momentum", [0.1, 0.5, None])
def test_batchnorm2d_running_stats_after_three_batches(momentum):
    bn = BatchNorm2d(3, momentum=momentum)
    batches = [rng.standard_normal((4, 3, 2, 3)).astype(np.float32) * (k + 1) + k
               for k in range(3)]
    for x in batches:
        bn(tg.from_numpy(x))
    mean, var = numpy_running_stats(batches, momentum, (0, 2, 3))
    np.testing.assert_allclose(bn.running_mean.numpy(), mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(bn.running_var.numpy(), var, rtol=1e-5, atol=1e-6)
    assert bn.num_batches_tracked.item() == 3 and bn.num_batches_tracked.dtype == tg.int64


def test_batchnorm1d_accepts_2d_and_3d_inputs():
    bn = BatchNorm1d(3)
    x2, x3 = tg.randn(5, 3), tg.randn(5, 3, 4)
    assert bn(x2).shape == (5, 3) and bn(x3).shape == (5, 3, 4)
    np.testing.assert_allclose(bn(x3).detach().numpy(), normalized(x3.numpy(), (0, 2)),
                               rtol=1e-4, atol=1e-5)


def test_batchnorm_eval_uses_running_stats_and_differs_from_training():
    bn = BatchNorm2d(2)
    for _ in range(3):
        bn(tg.randn(8, 2, 3, 3) * 2 + 1)
    x = tg.randn(4, 2, 3, 3)
    train_out = bn(x).detach().numpy()
    tracked = bn.num_batches_tracked.item()
    running_mean = bn.running_mean.numpy().copy()
    bn.eval()
    eval_out = bn(x).detach().numpy()
    assert bn.num_batches_tracked.item() == tracked             # nothing updated in eval
    np.testing.assert_array_equal(bn.running_mean.numpy(), running_mean)
    mean = bn.running_mean.numpy().reshape(2, 1, 1)
    var = bn.running_var.numpy().reshape(2, 1, 1)
    np.testing.assert_allclose(eval_out, (x.numpy() - mean) / np.sqrt(var + 1e-5), rtol=1e-5,
                               atol=1e-5)
    assert not np.allclose(train_out, eval_out, atol=1e-2)
    bn.eval()
    np.testing.assert_array_equal(bn(x).detach().numpy(), eval_out)  # deterministic


def test_batchnorm_without_running_stats_always_uses_the_batch():
    bn = BatchNorm2d(3, track_running_stats=False)
    assert bn.running_mean is None and bn.running_var is None and bn.num_batches_tracked is None
    assert list(bn.state_dict()) == ["weight", "bias"]
    x = tg.randn(4, 3, 2, 2)
    expected = normalized(x.numpy(), (0, 2, 3))
    np.testing.assert_allclose(bn(x).detach().numpy(), expected, rtol=1e-4, atol=1e-5)
    bn.eval()
    np.testing.assert_allclose(bn(x).detach().numpy(), expected, rtol=1e-4, atol=1e-5)


def test_batchnorm_affine_starts_at_ones_and_zeros_and_can_be_off():
    bn = BatchNorm1d(4)
    assert bn.weight.tolist() == [1.0] * 4 and bn.bias.tolist() == [0.0] * 4
    assert bn.weight.dtype == tg.float32 and bn.running_var.tolist() == [1.0] * 4
    plain = BatchNorm1d(4, affine=False)
    assert plain.weight is None and plain.bias is None and list(plain.parameters()) == []
    assert list(plain.state_dict()) == ["running_mean", "running_var", "num_batches_tracked"]


def test_batchnorm_state_dict_keys_and_buffers_as_pytorch():
    bn = BatchNorm2d(16)
    assert list(bn.state_dict()) == ["weight", "bias", "running_mean", "running_var",
                                     "num_batches_tracked"]
    assert [name for name, _ in bn.named_buffers()] == ["running_mean", "running_var",
                                                        "num_batches_tracked"]
    assert [name for name, _ in bn.named_parameters()] == ["weight", "bias"]
    assert bn.num_batches_tracked.shape == ()


def test_batchnorm_reset_running_stats_and_reset_parameters():
    bn = BatchNorm1d(3)
    bn(tg.randn(4, 3) + 5)
    with tg.no_grad():
        bn.weight.fill_(3)
    bn.reset_running_stats()
    assert bn.running_mean.tolist() == [0.0] * 3 and bn.running_var.tolist() == [1.0] * 3
    assert bn.num_batches_tracked.item() == 0 and bn.weight.tolist() == [3.0] * 3
    bn.reset_parameters()
    assert bn.weight.tolist() == [1.0] * 3


def test_batchnorm_gradients_reach_weight_bias_and_input_but_not_the_buffers():
    bn = BatchNorm2d(2)
    x = tg.randn(3, 2, 2, 2, requires_grad=True)
    (bn(x) * tg.randn(3, 2, 2, 2)).sum().backward()
    assert bn.weight.grad.shape == (2,) and bn.bias.grad.shape == (2,)
    assert x.grad.shape == (3, 2, 2, 2)
    assert bn.running_mean.grad is None and not bn.running_mean.requires_grad


def test_batchnorm_dimension_and_channel_errors_name_the_layer():
    with pytest.raises(ValueError) as error:
        BatchNorm2d(16)(tg.zeros(8, 16))
    assert str(error.value) == ("BatchNorm2d(16) expected a 4-D input (N, C, H, W), got shape "
                                "(8, 16)")
    with pytest.raises(ValueError, match=r"BatchNorm1d\(4\) expected a 2-D or 3-D input"):
        BatchNorm1d(4)(tg.zeros(2, 4, 3, 3))
    bn = BatchNorm2d(16)
    with pytest.raises(RuntimeError, match=r"BatchNorm2d\(16\) expected an input with 16 "
                                           r"channels \(dimension 1\), got shape \(8, 3, 4, 4\)"):
        bn(tg.zeros(8, 3, 4, 4))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        bn(tg.zeros(1, 16, 1, 1))
    assert bn.num_batches_tracked.item() == 0   # a refused batch changes nothing


def test_batchnorm_repr_as_pytorch():
    assert repr(BatchNorm2d(16)) == ("BatchNorm2d(16, eps=1e-05, momentum=0.1, affine=True, "
                                     "track_running_stats=True)")
    assert repr(BatchNorm1d(3, eps=1e-3, momentum=None, affine=False,
                            track_running_stats=False)) == (
        "BatchNorm1d(3, eps=0.001, momentum=None, affine=False, track_running_stats=False)")


def test_batchnorm_dtype_argument_and_double():
    bn = BatchNorm1d(3, dtype=tg.float64)
    assert bn.weight.dtype == tg.float64 and bn.running_mean.dtype == tg.float64
    assert bn.num_batches_tracked.dtype == tg.int64
    bn = BatchNorm1d(3).double()
    assert bn.running_var.dtype == tg.float64 and bn.num_batches_tracked.dtype == tg.int64
    assert bn(tg.randn(4, 3, dtype=tg.float64)).dtype == tg.float64


# -- layer_norm and group_norm: values -----------------------------------------------------------
def test_layer_norm_normalizes_each_sample_over_its_last_dims():
    x = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    w = rng.standard_normal((4, 5)).astype(np.float32)
    b = rng.standard_normal((4, 5)).astype(np.float32)
    out = layer_norm(tg.from_numpy(x), (4, 5), tg.from_numpy(w), tg.from_numpy(b))
    assert out.dtype == tg.float32
    np.testing.assert_allclose(out.numpy(), normalized(x, (2, 3)) * w + b, rtol=1e-4, atol=1e-5)
    out = layer_norm(tg.from_numpy(x), 5, eps=0.1)
    np.testing.assert_allclose(out.numpy(), normalized(x, (3,), eps=0.1), rtol=1e-4, atol=1e-5)


def test_layernorm_module_parameters_and_bias_option():
    ln = LayerNorm(8)
    assert ln.normalized_shape == (8,) and ln.weight.tolist() == [1.0] * 8
    assert ln.bias.tolist() == [0.0] * 8
    x = tg.randn(3, 8)
    np.testing.assert_allclose(ln(x).detach().numpy(), normalized(x.numpy(), (1,)), rtol=1e-4,
                               atol=1e-5)
    assert LayerNorm(8, bias=False).bias is None
    assert list(LayerNorm((2, 3), elementwise_affine=False).parameters()) == []
    assert list(LayerNorm([2, 3]).state_dict()) == ["weight", "bias"]
    assert LayerNorm([2, 3]).weight.shape == (2, 3)


def test_layer_norm_shape_error():
    with pytest.raises(RuntimeError, match=r"normalized_shape=\(8,\), expected an input of shape "
                                           r"\(\*, 8\), got shape \(2, 5\)"):
        LayerNorm(8)(tg.zeros(2, 5))
    with pytest.raises(RuntimeError, match=r"weight should have shape \(3,\)"):
        layer_norm(tg.zeros(2, 3), (3,), tg.zeros(4))


def test_group_norm_normalizes_groups_of_channels_per_sample():
    x = rng.standard_normal((2, 6, 3, 2)).astype(np.float32)
    w, b = rng.standard_normal(6).astype(np.float32), rng.standard_normal(6).astype(np.float32)
    out = group_norm(tg.from_numpy(x), 3, tg.from_numpy(w), tg.from_numpy(b))
    grouped = normalized(x.reshape(2, 3, 2, 3, 2), (2, 3, 4)).reshape(x.shape)
    expected = grouped * w.reshape(6, 1, 1) + b.reshape(6, 1, 1)
    assert out.dtype == tg.float32 and out.shape == x.shape
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-4, atol=1e-5)


def test_group_norm_of_values_whose_squares_overflow():
    # (1e30)² overflows float32, σ ≈ 7e29 does not: the values are ±√2 and about 0
    x = tg.tensor([-1e30, -0.185, 0.179, 1e30]).reshape(1, 2, 2)
    np.testing.assert_allclose(group_norm(x, 1).numpy().ravel(), [-2 ** 0.5, 0, 0, 2 ** 0.5],
                               atol=1e-6)
    # the same in float64 near 1e160 (PyTorch: NaN), with its gradients
    x = tg.tensor([[[-1.0, -0.3], [0.2, 1.0]]], dtype=tg.float64, requires_grad=True)
    w = tg.tensor([0.5, 2.0], dtype=tg.float64, requires_grad=True)
    np.testing.assert_allclose(group_norm(x * 1e160, 1, eps=0).detach().numpy(),
                               group_norm(x, 1, eps=0).detach().numpy(), rtol=1e-12)
    assert gradcheck(lambda x, w: group_norm(x * 1e160, 1, weight=w), (x, w))


def test_groupnorm_module_and_its_errors():
    gn = GroupNorm(2, 4)
    assert gn.weight.tolist() == [1.0] * 4 and gn.bias.tolist() == [0.0] * 4
    x = tg.randn(3, 4, 5)
    expected = normalized(x.numpy().reshape(3, 2, 10), (2,)).reshape(3, 4, 5)
    np.testing.assert_allclose(gn(x).detach().numpy(), expected, rtol=1e-4, atol=1e-5)
    assert list(GroupNorm(2, 4, affine=False).parameters()) == []
    with pytest.raises(ValueError, match=r"num_channels \(4\) must be divisible by num_groups "
                                         r"\(3\)"):
        GroupNorm(3, 4)
    with pytest.raises(RuntimeError, match=r"GroupNorm\(2, 4, .*\) expected an input \(N, 4, \*\), "
                                           r"got shape \(3, 6, 5\)"):
        gn(tg.zeros(3, 6, 5))
    with pytest.raises(RuntimeError, match=r"channels \(6.*must be divisible by num_groups \(4\)"):
        group_norm(tg.zeros(3, 6, 5), 4)


def test_layernorm_and_groupnorm_repr_as_pytorch():
    assert repr(LayerNorm(8)) == "LayerNorm((8,), eps=1e-05, elementwise_affine=True)"
    assert repr(LayerNorm((2, 3), elementwise_affine=False)) == (
        "LayerNorm((2, 3), eps=1e-05, elementwise_affine=False)")
    assert repr(GroupNorm(2, 4)) == "GroupNorm(2, 4, eps=1e-05, affine=True)"


def test_layernorm_and_groupnorm_same_in_train_and_eval():
    x = tg.randn(2, 4, 3)
    for layer in (LayerNorm(3), GroupNorm(2, 4)):
        train_out = layer(x).detach().numpy()
        layer.eval()
        np.testing.assert_array_equal(layer(x).detach().numpy(), train_out)


# -- gradients (float64) ---------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(5, 3), (4, 3, 2), (3, 2, 2, 3)])
def test_batch_norm_training_gradcheck_wrt_input_weight_and_bias(shape):
    x, w, b = leaf(*shape), leaf(shape[1]), leaf(shape[1])
    fn = lambda x, w, b: batch_norm(x, None, None, w, b, training=True)  # noqa: E731
    assert gradcheck(fn, (x, w, b))
    assert gradgradcheck(fn, (x, w, b))


def test_batch_norm_training_gradcheck_without_affine_and_with_running_stats():
    x = transposed_leaf(4, 3)
    running_mean, running_var = tg.zeros(3, dtype=tg.float64), tg.ones(3, dtype=tg.float64)
    assert gradcheck(lambda x: batch_norm(x, running_mean, running_var, training=True,
                                          momentum=0.2), (x,))
    assert gradcheck(lambda x: batch_norm(x, None, None, training=True, eps=0.5), (x,))


def test_batch_norm_eval_gradcheck_wrt_input_weight_and_bias():
    x, w, b = leaf(4, 3, 2), leaf(3), leaf(3)
    running_mean = tg.tensor([0.1, -0.2, 0.3], dtype=tg.float64)
    running_var = tg.tensor([1.5, 0.5, 2.0], dtype=tg.float64)
    fn = lambda x, w, b: batch_norm(x, running_mean, running_var, w, b)  # noqa: E731
    assert gradcheck(fn, (x, w, b))
    assert gradgradcheck(fn, (x, w, b))


def test_batchnorm_module_gradcheck_through_its_parameters():
    bn = BatchNorm2d(2).double()
    with tg.no_grad():
        bn.weight.copy_(tg.tensor([0.5, 2.0], dtype=tg.float64))
        bn.bias.copy_(tg.tensor([0.1, -0.3], dtype=tg.float64))
    x = leaf(3, 2, 2, 2)
    assert gradcheck(lambda x, w, b: bn(x), (x, bn.weight, bn.bias))
    bn.eval()
    assert gradcheck(lambda x, w, b: bn(x), (x, bn.weight, bn.bias))


@pytest.mark.parametrize("x_shape,normalized_shape", [((4, 5), 5), ((2, 3, 4), (3, 4)),
                                                      ((6,), (6,))])
def test_layer_norm_gradcheck(x_shape, normalized_shape):
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else normalized_shape
    x, w, b = leaf(*x_shape), leaf(*shape), leaf(*shape)
    fn = lambda x, w, b: layer_norm(x, normalized_shape, w, b)  # noqa: E731
    assert gradcheck(fn, (x, w, b))
    assert gradgradcheck(fn, (x, w, b))
    assert gradcheck(lambda x: layer_norm(x, normalized_shape), (x,))


def test_layer_norm_gradcheck_on_a_transposed_input_and_through_the_module():
    x = transposed_leaf(3, 4)
    assert gradcheck(lambda x: layer_norm(x, 4), (x,))
    ln = LayerNorm(4).double()
    with tg.no_grad():
        ln.weight.copy_(tg.tensor([0.5, 1.0, 2.0, -1.0], dtype=tg.float64))
    assert gradcheck(lambda x, w, b: ln(x), (x, ln.weight, ln.bias))


@pytest.mark.parametrize("x_shape,groups", [((2, 4, 3), 2), ((2, 6, 2, 2), 3), ((3, 4), 4),
                                            ((2, 4, 3), 1)])
def test_group_norm_gradcheck(x_shape, groups):
    x, w, b = leaf(*x_shape), leaf(x_shape[1]), leaf(x_shape[1])
    fn = lambda x, w, b: group_norm(x, groups, w, b)  # noqa: E731
    assert gradcheck(fn, (x, w, b))
    assert gradgradcheck(fn, (x, w, b))
    assert gradcheck(lambda x: group_norm(x, groups), (x,))


def test_groupnorm_module_gradcheck_through_its_parameters():
    gn = GroupNorm(2, 4).double()
    x = transposed_leaf(2, 4, 3)
    assert gradcheck(lambda x, w, b: gn(x), (x, gn.weight, gn.bias))


# -- PyTorch compatibility (only where PyTorch happens to be installed) ----------------------------
def test_pytorch_norm_layers_state_dicts_load_and_give_the_same_outputs():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    pairs = [(torch.nn.BatchNorm2d(3), BatchNorm2d(3), (4, 3, 5, 5)),
             (torch.nn.BatchNorm1d(3, momentum=None), BatchNorm1d(3, momentum=None), (6, 3, 4)),
             (torch.nn.LayerNorm((4, 5)), LayerNorm((4, 5)), (2, 3, 4, 5)),
             (torch.nn.GroupNorm(2, 6), GroupNorm(2, 6), (2, 6, 3, 3))]
    x_rng = np.random.default_rng(1)
    for reference, ours, shape in pairs:
        with torch.no_grad():
            for p in reference.parameters():
                p.uniform_(-1, 2)
        ours.load_state_dict({k: v.numpy() for k, v in reference.state_dict().items()})
        for step in range(3):   # training steps move the running stats the same way
            x = x_rng.standard_normal(shape).astype(np.float32) * 2 + step
            expected = reference(torch.from_numpy(x)).detach().numpy()
            np.testing.assert_allclose(ours(tg.from_numpy(x)).detach().numpy(), expected,
                                       atol=1e-5)
        for key, value in reference.state_dict().items():
            np.testing.assert_allclose(ours.state_dict()[key].numpy(), value.numpy(), rtol=1e-5,
                                       atol=1e-6, err_msg=key)
        reference.eval()
        ours.eval()
        x = x_rng.standard_normal(shape).astype(np.float32)
        np.testing.assert_allclose(ours(tg.from_numpy(x)).detach().numpy(),
                                   reference(torch.from_numpy(x)).detach().numpy(), atol=1e-5)


def test_empty_inputs_give_empty_results_as_in_pytorch():
    from tapegrad.nn import functional as NF
    weight = tg.zeros(0, dtype=tg.float64, requires_grad=True)
    x = tg.zeros(2, 0, dtype=tg.float64, requires_grad=True)
    y = NF.layer_norm(x, (0,), weight=weight)
    assert y.shape == (2, 0)
    y.sum().backward()
    assert x.grad.shape == (2, 0) and weight.grad.shape == (0,)
    assert NF.batch_norm(tg.zeros(3, 0, 3), tg.zeros(0), tg.zeros(0)).shape == (3, 0, 3)
    # PyTorch returns an empty input before checking its dtype or the running statistics
    assert NF.batch_norm(tg.zeros(1, 0, 3, dtype=tg.int64), None, None).dtype is tg.int64
    assert NF.batch_norm(tg.zeros(0, 3, dtype=tg.bool), None, None).dtype is tg.bool
    assert NF.batch_norm(tg.zeros(0, 3, dtype=tg.bool), None, None,
                         weight=tg.zeros(3, dtype=tg.bool)).dtype is tg.bool
    for shape in ((4, 0), (2, 0, 2, 3), (0, 4, 2), (2, 4, 0)):
        assert NF.group_norm(tg.zeros(*shape), 2).shape == shape


def test_layer_and_batch_norm_with_eps_0_over_constant_values_give_nan_not_an_error():
    from tapegrad.nn import functional as NF
    assert np.isnan(NF.layer_norm(tg.tensor([-1.3, -1.3]), (2,), eps=0.0).numpy()).all()
    assert NF.layer_norm(tg.tensor([-1.0, 3.0]), (2,), eps=0.0).tolist() == [-1.0, 1.0]
    assert np.isnan(NF.batch_norm(tg.ones(3, 2), tg.zeros(2), tg.zeros(2), eps=0.0).numpy()).all()


def test_float16_group_norm_is_computed_in_float32_and_rounded_once():
    # groups of small variance: in float16 the slope of 1/√(σ² + ε) overflowed to ∞ (∞·0 = NaN)
    values = np.tile(np.array([[-0.0873, -0.0637], [0.00814, 0.1163], [0.2058, 0.0182]]), (3, 2))
    grad = np.random.default_rng(0).standard_normal(values.shape)
    x16 = tg.tensor(values, dtype=tg.float16, requires_grad=True)
    y16 = group_norm(x16, 2)
    y16.backward(tg.tensor(grad, dtype=tg.float16))
    x64 = tg.tensor(x16.detach().numpy().astype(np.float64), requires_grad=True)
    y64 = group_norm(x64, 2)
    y64.backward(tg.tensor(grad.astype(np.float16).astype(np.float64)))
    assert y16.dtype is tg.float16 and x16.grad.dtype is tg.float16
    np.testing.assert_array_equal(y16.detach().numpy(), y64.detach().numpy().astype(np.float16))
    np.testing.assert_allclose(x16.grad.numpy(), x64.grad.numpy(), rtol=2e-3, atol=2e-3)


def test_float16_batch_norm_is_computed_in_float32_and_rounded_once():
    # (0.3835 - 2.332)/√0.1859·13220 = -59740 fits float16, but -μ·rγ = -71500 does not
    x = tg.tensor([[0.3835, 0.391]] * 3, dtype=tg.float16, requires_grad=True)
    mean, var = tg.tensor([2.332, 0.4058], dtype=tg.float16), tg.tensor([0.1859, 0.155],
                                                                        dtype=tg.float16)
    weight = tg.tensor([13220.0, 1.0], dtype=tg.float16)
    y = batch_norm(x, mean, var, weight, eps=0.0)
    wide = [t.double() for t in (x.detach(), mean, var, weight)]
    expected = batch_norm(wide[0], wide[1], wide[2], wide[3], eps=0.0)
    assert y.dtype is tg.float16
    np.testing.assert_array_equal(y.detach().numpy(), expected.numpy().astype(np.float16))
    # training: the batch statistics in float32 too, the running ones updated in float16
    running_mean, running_var = tg.zeros(2, dtype=tg.float16), tg.ones(2, dtype=tg.float16)
    y = batch_norm(x * 100, running_mean, running_var, weight, training=True)
    assert y.dtype is tg.float16 and running_mean.dtype is tg.float16
    np.testing.assert_allclose(running_mean.numpy(), [3.835, 3.91], rtol=1e-3)
    y.sum().backward()
    assert x.grad.dtype is tg.float16


def test_batch_norm_takes_a_weight_and_bias_of_one_value_per_channel_in_any_shape():
    from tapegrad.nn import functional as NF
    x = tg.randn(4, 2, 3)
    expected = NF.batch_norm(x, tg.zeros(2), tg.ones(2), tg.tensor([2.0, 3.0]), tg.ones(2))
    shaped = NF.batch_norm(x, tg.zeros(2), tg.ones(2), tg.tensor([[2.0], [3.0]]), tg.ones(1, 2))
    np.testing.assert_allclose(shaped.numpy(), expected.numpy())
    with pytest.raises(RuntimeError, match="weight should have shape"):
        NF.batch_norm(x, tg.zeros(2), tg.ones(2), tg.ones(3, 1))


def test_batch_norm_in_training_refuses_one_value_per_channel_even_for_no_channels():
    # (1, 0): one sample, no channel: PyTorch checks N·∏spatial = 1 before the empty return
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        batch_norm(tg.zeros(1, 0), None, None, training=True)
    assert batch_norm(tg.zeros(2, 0), None, None, training=True).shape == (2, 0)


def test_batch_norm_in_training_refuses_an_eps_that_is_not_positive():
    x = tg.randn(4, 3, dtype=tg.float64)
    for eps in (0.0, -1.0):
        with pytest.raises(ValueError, match=f"batch_norm: eps must be positive during training, "
                                             f"got {eps}"):
            batch_norm(x, None, None, training=True, eps=eps)
        with pytest.raises(ValueError, match="eps must be positive"):   # before returning
            batch_norm(tg.zeros(2, 0), None, None, training=True, eps=eps)  # an empty input
    running_mean, running_var = tg.zeros(3, dtype=tg.float64), tg.ones(3, dtype=tg.float64)
    assert batch_norm(x, running_mean, running_var, training=False, eps=0.0).shape == (4, 3)


@pytest.mark.parametrize("shape,groups", [((1, 1), 1), ((1, 2), 2), ((1, 1, 1), 1)])
def test_group_norm_refuses_a_lone_value_as_pytorch_does(shape, groups):
    with pytest.raises(ValueError, match="group_norm: expected more than 1 value per channel"):
        group_norm(tg.ones(*shape), groups)


def test_group_norm_of_more_than_one_value_per_sample_and_group_computes():
    assert group_norm(tg.ones(1, 2, 1), 1).tolist() == [[[0.0], [0.0]]]
    assert group_norm(tg.ones(2, 4), 4).shape == (2, 4)   # N·C/G = 2 passes PyTorch's rule


def test_batch_norm_wants_both_running_statistics_or_neither():
    with pytest.raises(ValueError, match="running_mean and running_var must either both be None"):
        batch_norm(tg.randn(4, 3), None, tg.ones(3), training=True)


def test_batch_norm_of_an_empty_batch_in_evaluation_has_zero_gradients():
    x = tg.zeros(2, 5, 0, requires_grad=True)
    weight, bias = tg.ones(5, requires_grad=True), tg.zeros(5, requires_grad=True)
    y = batch_norm(x, tg.zeros(5), tg.ones(5), weight=weight, bias=bias, training=False)
    y.sum().backward()
    assert x.grad.shape == (2, 5, 0)
    assert weight.grad.tolist() == [0.0] * 5 and bias.grad.tolist() == [0.0] * 5


def test_batch_norm_in_training_wants_both_running_statistics_or_neither():
    from tapegrad.nn import functional as NF
    with pytest.raises(ValueError, match="must either both be None or neither be None"):
        NF.batch_norm(tg.randn(3, 4), tg.zeros(4), None, training=True)


def test_group_norm_of_a_group_of_equal_values_is_exactly_zero():
    # the float32 mean of three copies of -14548.24 is not -14548.24 (3·v rounds): x - μ
    # would be a residue (-0.00098) times r ≈ 316; μ summed in float64 is exact
    x = tg.tensor([[2328.4695] * 3, [-14548.24] * 3, [-28660.434] * 3])
    w = tg.tensor([0.09, -0.0045, 0.023])
    assert group_norm(x, 1, weight=w).tolist() == [[0.0] * 3] * 3
    assert group_norm(x.reshape(3, 3, 1), 3).tolist() == [[[0.0]] * 3] * 3


def test_group_norm_without_bias_gives_plus_zero_where_the_weight_is_zero_or_negative():
    # PyTorch shifts by its missing bias of 0 (x·s + (0 - μ·s)): every zero is +0, where
    # x̂·γ alone is -0.0 for γ = 0 and x < μ, or γ < 0 and x = μ (then log's slope is -∞)
    x = tg.tensor([[[-3.0, 1.0, 2.0], [5.0, -4.0, 0.5]], [[-1.0, -2.0, -3.0], [1.0, 2.0, 3.0]]])
    for w in ([0.0, 0.0], [-0.0, -0.0], [-1.0, 2.0]):
        for groups in (1, 2):
            y = group_norm(x, groups, weight=tg.tensor(w)).numpy()
            assert not np.signbit(y[y == 0]).any(), (w, groups)
    y = group_norm(x.double(), 2, weight=tg.tensor([0.0, -1.0]).double()).numpy()
    assert y[0, 1, 2] == 0 and not np.signbit(y[0, 1, 2]) and not np.signbit(y[:, 0]).any()
    w = tg.tensor([0.0, -1.5], dtype=tg.float64, requires_grad=True)
    assert gradgradcheck(lambda x, w: group_norm(x, 1, weight=w), (leaf(2, 2, 3), w))


def test_group_norm_gradients_on_broadcast_and_strided_inputs():
    x = tg.randn(4, 6, 3, dtype=tg.float64).transpose(0, 2).requires_grad_()   # (3, 6, 4)
    w = tg.randn(6, dtype=tg.float64, requires_grad=True)
    b = tg.randn(1, dtype=tg.float64, requires_grad=True)
    assert gradgradcheck(lambda x, w, b: group_norm(x, 3, weight=w, bias=b.expand(6)),
                         (x, w, b))


def test_group_norm_of_empty_groups_gives_the_weight_a_nan_gradient_as_pytorch():
    # groups of no element: r = 1/√(0/0) = NaN, the weight's gradient (Σ g·(x - μ))·r NaN;
    # no sample at all: no group, the gradient an empty sum, 0
    for shape, expected in (((2, 2, 0), "[nan, nan]"), ((0, 2, 3), "[0.0, 0.0]")):
        x = tg.zeros(*shape, requires_grad=True)
        w = tg.ones(2, requires_grad=True)
        y = group_norm(x, 1, weight=w)
        y.sum().backward()
        assert y.shape == shape and x.grad.shape == shape and str(w.grad.tolist()) == expected
