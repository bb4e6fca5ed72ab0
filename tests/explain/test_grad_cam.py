"""Grad-CAM on hand-built convolutional networks whose maps can be worked out in numpy."""
import numpy as np
import pytest

import tapegrad as tg
import tapegrad.nn as nn
from tapegrad.explain.grad_cam import GradCAM, linear_resize

DEVICES = ["cpu"] + (["cuda"] if tg.cuda.is_available() else [])
rng = np.random.default_rng(0)


class Conv(nn.Module):
    """A 'valid' 2-D convolution (cross-correlation, as in PyTorch) built from slices and
    einsum, so that these tests need nothing but tensor operations."""

    def __init__(self, weight, bias):
        super().__init__()
        self.weight = nn.Parameter(tg.tensor(weight))
        self.bias = nn.Parameter(tg.tensor(bias))

    def forward(self, x):
        out_channels, channels, kh, kw = self.weight.shape
        h, w = x.shape[2] - kh + 1, x.shape[3] - kw + 1
        patches = tg.stack([x[:, :, i:i + h, j:j + w] for i in range(kh) for j in range(kw)],
                           dim=2)                                      # (N, C, kh·kw, h, w)
        kernel = self.weight.reshape(out_channels, channels, kh * kw)
        return (tg.einsum("nckhw,ock->nohw", patches, kernel)
                + self.bias.reshape(1, out_channels, 1, 1))


class ReLU(nn.Module):
    def forward(self, x):
        return x.relu()


class Counting(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model
        self.rows = []

    def forward(self, x):
        self.rows.append(x.shape[0])
        return self.model(x)


def conv_numpy(x, weight, bias):
    n, _, height, width = x.shape
    out_channels, _, kh, kw = weight.shape
    out = np.zeros((n, out_channels, height - kh + 1, width - kw + 1))
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            out[:, :, i, j] = np.einsum("nckl,ockl->no", x[:, :, i:i + kh, j:j + kw], weight)
    return out + bias.reshape(1, -1, 1, 1)


def bilinear_numpy(image, height, width):
    """PyTorch's bilinear resize with align_corners=False, one output pixel at a time."""
    in_h, in_w = image.shape

    def source(o, in_size, out_size):
        s = max((o + 0.5) * in_size / out_size - 0.5, 0.0)
        lo = min(int(s), in_size - 1)
        return lo, min(lo + 1, in_size - 1), s - lo

    out = np.zeros((height, width))
    for y in range(height):
        y0, y1, ly = source(y, in_h, height)
        for x in range(width):
            x0, x1, lx = source(x, in_w, width)
            out[y, x] = ((1 - ly) * ((1 - lx) * image[y0, x0] + lx * image[y0, x1])
                         + ly * ((1 - lx) * image[y1, x0] + lx * image[y1, x1]))
    return out


def one_conv_network():
    weight = rng.normal(size=(3, 2, 3, 3))
    bias = rng.normal(size=3) * 0.1
    conv = Conv(weight, bias)
    head = nn.Linear(3 * 4 * 4, 4).double()
    return nn.Sequential(conv, ReLU(), nn.Flatten(), head), conv, weight, bias, head


def expected_map(x, weight, bias, head, targets, relu=True):
    """Grad-CAM by hand: A = conv(x); y = W·flatten(ReLU(A)) + b, so ∂y/∂A = W[t]·[A > 0];
    α_k = mean over positions of ∂y/∂A_k; map = Σ_k α_k A_k (then ReLU)."""
    a = conv_numpy(x, weight, bias)                                    # (N, 3, 4, 4)
    w = head.weight.detach().numpy()[targets].reshape(len(targets), 3, 4, 4)
    gradient = w * (a > 0)
    alpha = gradient.mean(axis=(2, 3), keepdims=True)
    cam = (alpha * a).sum(axis=1, keepdims=True)
    return np.maximum(cam, 0) if relu else cam


@pytest.mark.parametrize("relu", [True, False])
def test_the_map_of_a_one_convolution_network_equals_the_hand_computed_one(relu):
    net, conv, weight, bias, head = one_conv_network()
    x = rng.normal(size=(2, 2, 6, 6))
    cam = GradCAM(net, conv).attribute(tg.tensor(x), target=[1, 3], relu=relu, upsample=False)
    assert cam.shape == (2, 1, 4, 4)
    np.testing.assert_allclose(cam.numpy(), expected_map(x, weight, bias, head, [1, 3], relu),
                               rtol=1e-10, atol=1e-12)


def test_the_upsampled_map_is_the_bilinear_resize_of_the_small_one():
    net, conv, weight, bias, head = one_conv_network()
    x = rng.normal(size=(2, 2, 6, 6))
    cam = GradCAM(net, conv).attribute(tg.tensor(x), target=2, relu=False)
    assert cam.shape == (2, 1, 6, 6)
    small = expected_map(x, weight, bias, head, [2, 2], relu=False)
    for i in range(2):
        np.testing.assert_allclose(cam.numpy()[i, 0], bilinear_numpy(small[i, 0], 6, 6),
                                   rtol=1e-10, atol=1e-12)


def test_linear_resize_matches_the_reference_when_shrinking_and_growing():
    image = rng.normal(size=(5, 7))
    for size in [(10, 14), (3, 4), (5, 9), (8, 2)]:
        np.testing.assert_allclose(linear_resize(image[None, None], size)[0, 0],
                                   bilinear_numpy(image, *size), rtol=1e-12)


def bar_detectors():
    """Channel 0 answers vertical bars, channel 1 horizontal ones; class c = Σ ReLU(channel c).
    The bias −2 silences the weak answers (≤ 1) of each detector at the other's bar ends."""
    vertical = np.array([[-1.0, 2.0, -1.0]] * 3)
    weight = np.stack([vertical, vertical.T])[:, None]               # (2, 1, 3, 3)
    conv = Conv(weight, np.full(2, -2.0))

    class Head(nn.Module):
        def forward(self, a):
            return a.relu().sum(dim=(2, 3))                            # (N, 2)

    return nn.Sequential(conv, Head()), conv


def test_the_map_highlights_the_quadrant_that_holds_the_evidence_for_the_class():
    image = np.zeros((1, 1, 16, 16))
    image[0, 0, 1:7, 3] = 1.0       # a vertical bar in the top-left quadrant
    image[0, 0, 12, 9:15] = 1.0     # a horizontal bar in the bottom-right quadrant
    net, conv = bar_detectors()
    quadrants = {"top-left": (slice(0, 8), slice(0, 8)),
                 "bottom-right": (slice(8, 16), slice(8, 16))}
    for target, where in [(0, "top-left"), (1, "bottom-right")]:
        cam = GradCAM(net, conv).attribute(tg.tensor(image), target=target).numpy()[0, 0]
        assert cam.shape == (16, 16)
        inside = cam[quadrants[where]].sum()
        assert inside > 0.95 * cam.sum() and cam.max() > 0
        other = "bottom-right" if where == "top-left" else "top-left"
        assert cam[quadrants[other]].max() == 0


def test_one_model_call_per_batch_and_the_hook_is_removed():
    net, conv, *_ = one_conv_network()
    counting = Counting(net)
    GradCAM(counting, conv).attribute(tg.tensor(rng.normal(size=(5, 2, 6, 6))), target=0)
    assert counting.rows == [5]
    assert len(conv._forward_hooks) == 0


def test_the_hook_is_removed_even_when_the_model_fails():
    net, conv, *_ = one_conv_network()

    def failing(x):
        net(x)
        raise ArithmeticError("boom")

    with pytest.raises(ArithmeticError, match="boom"):
        GradCAM(failing, conv).attribute(tg.tensor(rng.normal(size=(1, 2, 6, 6))), target=0)
    assert len(conv._forward_hooks) == 0


def test_no_parameter_gradient_is_accumulated_and_inputs_are_untouched():
    net, conv, *_ = one_conv_network()
    x = tg.tensor(rng.normal(size=(2, 2, 6, 6)))
    before = x.numpy().copy()
    GradCAM(net, conv).attribute(x, target=1)
    assert conv.weight.grad is None and not x.requires_grad
    np.testing.assert_array_equal(x.numpy(), before)


@pytest.mark.parametrize("device", DEVICES)
def test_float32_maps_on_the_inputs_device(device):
    net, conv, *_ = one_conv_network()
    net = net.float().to(device)
    x = tg.tensor(rng.normal(size=(2, 2, 6, 6)), dtype=tg.float32, device=device)
    cam = GradCAM(net, conv).attribute(x, target=0)
    assert cam.dtype == tg.float32 and cam.device == x.device and cam.shape == (2, 1, 6, 6)
    assert not cam.requires_grad


@pytest.mark.skipif(not hasattr(nn, "Conv2d"), reason="nn.Conv2d is not there yet")
def test_a_real_conv2d_layer_gives_the_same_map_as_the_hand_built_one():
    net, conv, weight, bias, head = one_conv_network()
    real = nn.Conv2d(2, 3, 3).double()
    with tg.no_grad():
        real.weight.copy_(tg.tensor(weight))
        real.bias.copy_(tg.tensor(bias))
    other = nn.Sequential(real, ReLU(), nn.Flatten(), head)
    x = tg.tensor(rng.normal(size=(2, 2, 6, 6)))
    np.testing.assert_allclose(GradCAM(other, real).attribute(x, target=3).numpy(),
                               GradCAM(net, conv).attribute(x, target=3).numpy(), rtol=1e-10)


def test_a_layer_the_model_does_not_run_is_an_error():
    net, conv, *_ = one_conv_network()
    stray = Conv(np.ones((1, 2, 3, 3)), np.zeros(1))
    with pytest.raises(RuntimeError, match="did not run when the model was called"):
        GradCAM(net, stray).attribute(tg.tensor(rng.normal(size=(1, 2, 6, 6))), target=0)
    assert len(stray._forward_hooks) == 0


def test_a_layer_that_runs_twice_is_an_error():
    net, conv, *_ = one_conv_network()
    twice = lambda x: net(x) + net(x)
    with pytest.raises(RuntimeError, match="ran 2 times"):
        GradCAM(twice, conv).attribute(tg.tensor(rng.normal(size=(1, 2, 6, 6))), target=0)


def test_a_layer_must_be_a_module_with_a_spatial_output():
    with pytest.raises(TypeError, match="layer must be a tapegrad.nn.Module"):
        GradCAM(lambda x: x, "conv1")
    lin = nn.Linear(4, 2).double()
    with pytest.raises(ValueError, match=r"must be a tensor \(N, K, h, w\).*\(3, 2\)"):
        GradCAM(lin, lin).attribute(tg.tensor(rng.normal(size=(3, 4))), target=0)
