"""Identity, Linear and Bilinear, and their functional forms."""
import math

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.nn as nn
import tapegrad.nn.functional as F
from tapegrad.autograd import gradcheck, gradgradcheck

rng = np.random.default_rng(0)


def leaf(*shape):
    return tg.tensor(rng.uniform(-1, 1, size=shape), dtype=tg.float64, requires_grad=True)


# -- values ----------------------------------------------------------------------------------------
def test_linear_computes_x_times_w_transposed_plus_b():
    lin = nn.Linear(4, 3)
    x = tg.randn(5, 4)
    w, b = lin.weight.detach().numpy(), lin.bias.detach().numpy()
    out = lin(x)
    assert out.shape == (5, 3) and out.dtype == tg.float32
    np.testing.assert_allclose(out.detach().numpy(), x.numpy() @ w.T + b, rtol=1e-5, atol=1e-6)


def test_linear_accepts_any_leading_dimensions_and_a_single_vector():
    lin = nn.Linear(4, 3)
    w, b = lin.weight.detach().numpy(), lin.bias.detach().numpy()
    x = tg.randn(2, 5, 4)
    np.testing.assert_allclose(lin(x).detach().numpy(), x.numpy() @ w.T + b, rtol=1e-5, atol=1e-6)
    v = tg.randn(4)
    assert lin(v).shape == (3,)


def test_linear_without_bias():
    lin = nn.Linear(4, 3, bias=False)
    assert lin.bias is None and [n for n, _ in lin.named_parameters()] == ["weight"]
    x = tg.randn(2, 4)
    np.testing.assert_allclose(lin(x).detach().numpy(), x.numpy() @ lin.weight.detach().numpy().T,
                               rtol=1e-5)


def test_linear_gradients_come_out_in_the_parameters_layout():
    lin = nn.Linear(6, 4)
    lin(tg.randn(8, 6)).sum().backward()
    assert lin.weight.grad.shape == (4, 6) and lin.weight.grad.array.flags.c_contiguous
    assert lin.bias.grad.tolist() == [8.0] * 4


def test_linear_default_init_matches_pytorch():
    tg.manual_seed(0)
    lin = nn.Linear(784, 256)
    w, b = lin.weight.detach().numpy(), lin.bias.detach().numpy()
    bound = 1 / math.sqrt(784)
    assert lin.weight.shape == (256, 784) and lin.weight.dtype == tg.float32
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    assert w.std() == pytest.approx(1 / math.sqrt(3 * 784), rel=0.03)
    assert np.abs(w).max() > 0.99 * bound


def test_linear_dtype_and_device_arguments():
    lin = nn.Linear(2, 3, dtype=tg.float64, device="cpu")
    assert lin.weight.dtype == tg.float64 and lin.bias.dtype == tg.float64
    assert lin.weight.device == tg.device("cpu")


def test_linear_wrong_input_size_names_the_layer():
    lin = nn.Linear(784, 10)
    with pytest.raises(RuntimeError) as error:
        lin(tg.zeros(32, 100))
    assert str(error.value) == ("Linear(in_features=784, out_features=10) got an input of shape "
                                "(32, 100): its last dimension must be 784")
    with pytest.raises(RuntimeError, match=r"shape \(\): its last dimension must be 784"):
        lin(tg.tensor(1.0))


def test_functional_linear_checks_shapes():
    with pytest.raises(RuntimeError, match=r"input of shape \(2, 3\) does not fit a weight of "
                                           r"shape \(4, 5\)"):
        F.linear(tg.zeros(2, 3), tg.zeros(4, 5))
    with pytest.raises(RuntimeError, match=r"bias of shape \(3,\)"):
        F.linear(tg.zeros(2, 5), tg.zeros(4, 5), tg.zeros(3))
    with pytest.raises(TypeError, match="input must be a Tensor"):
        F.linear(np.zeros((2, 5)), tg.zeros(4, 5))


def test_linear_repr():
    assert repr(nn.Linear(784, 10)) == "Linear(in_features=784, out_features=10, bias=True)"
    assert repr(nn.Linear(3, 1, bias=False)) == "Linear(in_features=3, out_features=1, bias=False)"
    assert repr(nn.Identity(54, unused="x")) == "Identity()"
    assert repr(nn.Bilinear(2, 3, 4)) == ("Bilinear(in1_features=2, in2_features=3, "
                                          "out_features=4, bias=True)")


def test_identity_returns_its_input():
    x = tg.randn(3)
    assert nn.Identity(1, 2, key=3)(x) is x


# -- gradients (float64) ---------------------------------------------------------------------------
@pytest.mark.parametrize("x_shape", [(5, 4), (2, 3, 4), (4,)])
def test_functional_linear_gradcheck(x_shape):
    x, w, b = leaf(*x_shape), leaf(3, 4), leaf(3)
    assert gradcheck(F.linear, (x, w, b))
    assert gradgradcheck(F.linear, (x, w, b))
    assert gradcheck(lambda x, w: F.linear(x, w), (x, w))


def test_functional_linear_gradcheck_with_a_noncontiguous_sequence_input():
    x = tg.from_numpy(rng.uniform(-1, 1, size=(4, 3, 2)).transpose(2, 1, 0)).requires_grad_()
    assert not x.detach().numpy().flags.c_contiguous
    assert gradcheck(F.linear, (x, leaf(3, 4), leaf(3)))
    assert gradgradcheck(F.linear, (x, leaf(3, 4), leaf(3)))


def test_functional_linear_gradcheck_with_a_transposed_input():
    x = tg.from_numpy(rng.uniform(-1, 1, size=(4, 5)).T).requires_grad_()
    assert gradcheck(F.linear, (x, leaf(3, 4), leaf(3)))


def test_linear_module_gradcheck_through_double_parameters():
    lin = nn.Linear(4, 3).double()
    assert lin.weight.dtype == tg.float64 and lin.weight.is_leaf
    x = leaf(5, 4)
    assert gradcheck(lambda x, w, b: lin(x), (x, lin.weight, lin.bias))
    assert gradgradcheck(lambda x, w, b: lin(x), (x, lin.weight, lin.bias))


def test_bilinear_values_against_numpy():
    bil = nn.Bilinear(3, 4, 2)
    x1, x2 = tg.randn(5, 3), tg.randn(5, 4)
    w, b = bil.weight.detach().numpy(), bil.bias.detach().numpy()
    expected = np.einsum("bi,oij,bj->bo", x1.numpy(), w, x2.numpy()) + b
    out = bil(x1, x2)
    assert out.shape == (5, 2) and out.dtype == tg.float32
    np.testing.assert_allclose(out.detach().numpy(), expected, rtol=1e-5, atol=1e-6)
    x1, x2 = tg.randn(2, 6, 3), tg.randn(2, 6, 4)
    expected = np.einsum("...i,oij,...j->...o", x1.numpy(), w, x2.numpy()) + b
    np.testing.assert_allclose(bil(x1, x2).detach().numpy(), expected, rtol=1e-5, atol=1e-6)


def test_bilinear_default_init_bounds():
    tg.manual_seed(0)
    bil = nn.Bilinear(50, 20, 30)
    bound = 1 / math.sqrt(50)
    assert bil.weight.shape == (30, 50, 20)
    w = bil.weight.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(bil.bias.detach().numpy()).max() <= bound
    assert w.std() == pytest.approx(bound / math.sqrt(3), rel=0.03)


@pytest.mark.parametrize("lead", [(4,), (2, 3)])
def test_functional_bilinear_gradcheck(lead):
    x1, x2, w, b = leaf(*lead, 3), leaf(*lead, 2), leaf(4, 3, 2), leaf(4)
    assert gradcheck(F.bilinear, (x1, x2, w, b))
    assert gradgradcheck(F.bilinear, (x1, x2, w, b))
    assert gradcheck(lambda x1, x2, w: F.bilinear(x1, x2, w), (x1, x2, w))


def test_bilinear_module_gradcheck_through_double_parameters():
    bil = nn.Bilinear(3, 2, 4).double()
    x1, x2 = leaf(5, 3), leaf(5, 2)
    assert gradcheck(lambda x1, x2, w, b: bil(x1, x2), (x1, x2, bil.weight, bil.bias))


def test_bilinear_shape_errors():
    bil = nn.Bilinear(3, 2, 4)
    with pytest.raises(RuntimeError, match=r"Bilinear\(in1_features=3, .*\) got input2 of shape "
                                           r"\(5, 3\): its last dimension must be 2"):
        bil(tg.zeros(5, 3), tg.zeros(5, 3))
    with pytest.raises(RuntimeError, match="must agree in every dimension but the last"):
        bil(tg.zeros(5, 3), tg.zeros(4, 2))
    with pytest.raises(RuntimeError, match="weight must be 3-D"):
        F.bilinear(tg.zeros(5, 3), tg.zeros(5, 2), tg.zeros(3, 2))


def test_bilinear_refuses_tensors_of_different_dtypes_by_name():
    # as PyTorch (no promotion): a float64 batch fed to a float32 layer is a mistake
    x1, x2, w = tg.zeros(5, 3), tg.zeros(5, 2), tg.zeros(4, 3, 2)
    with pytest.raises(RuntimeError, match=r"bilinear: expected tensors of one dtype, got "
                                           r"input1 tapegrad.float32, input2 tapegrad.float32, "
                                           r"weight tapegrad.float64"):
        F.bilinear(x1, x2, w.double())
    with pytest.raises(RuntimeError, match=r"input2 tapegrad.bool, weight tapegrad.float32, "
                                           r"bias tapegrad.float64"):
        F.bilinear(x1, x2.bool(), w, tg.zeros(4, dtype=tg.float64))


def test_bilinear_contracts_input1_first_so_its_infinities_meet_zeros_as_in_pytorch():
    # y = Σⱼ (Σᵢ x₁ᵢ Wᵢⱼ) x₂ⱼ: an ∞ of x₁ meets W's zero (NaN), an ∞ of x₂ does not
    assert math.isnan(F.bilinear(tg.tensor([[math.inf]]), tg.tensor([[1.0, 0.0]]),
                                 tg.tensor([[[1.0, 0.0]]])).item())
    assert F.bilinear(tg.tensor([[1.0, 0.0]]), tg.tensor([[math.inf]]),
                      tg.tensor([[[1.0], [0.0]]])).item() == math.inf


# -- PyTorch compatibility (only where PyTorch happens to be installed) ----------------------------
def test_float16_bilinear_sums_its_second_products_in_float32_and_rounds_once():
    # t = x₁·W = [40000, -40000] in float16; t·x₂ = [80000, -40000] would overflow float16
    # term by term, but their sum 40000 fits: PyTorch's batched product gives it
    x1 = tg.tensor([[1.0]], dtype=tg.float16)
    x2 = tg.tensor([[2.0, 1.0]], dtype=tg.float16)
    w = tg.tensor([[[40000.0, -40000.0]]], dtype=tg.float16)
    y = F.bilinear(x1, x2, w)
    assert y.dtype == tg.float16 and y.tolist() == [[40000.0]]


def test_pytorch_state_dict_converted_to_numpy_loads_and_gives_the_same_outputs():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    reference = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.Flatten(),
                                    torch.nn.Linear(5, 3), torch.nn.Identity(),
                                    torch.nn.Bilinear(3, 3, 2))

    ours = nn.Sequential(nn.Linear(6, 5), nn.Flatten(), nn.Linear(5, 3), nn.Identity(),
                         nn.Bilinear(3, 3, 2))
    state = {k: v.detach().numpy() for k, v in reference.state_dict().items()}
    assert list(state) == list(ours.state_dict())
    ours.load_state_dict(state)
    x = np.random.default_rng(1).standard_normal((7, 6)).astype(np.float32)
    h_ref = reference[:4](torch.from_numpy(x))
    h = ours[:4](tg.from_numpy(x))
    np.testing.assert_allclose(h.detach().numpy(), h_ref.detach().numpy(), atol=1e-5)
    out_ref = reference[4](h_ref, h_ref).detach().numpy()
    out = ours[4](h, h).detach().numpy()
    np.testing.assert_allclose(out, out_ref, atol=1e-5)


@pytest.mark.parametrize("input_shape", [(3,), (2, 3), (4, 2, 3)])
def test_linear_refuses_a_bias_of_another_dtype_for_every_input_shape(input_shape):
    with pytest.raises(RuntimeError, match=r"linear: the bias is tapegrad.float64 but the weight "
                                           r"is tapegrad.float32"):
        F.linear(tg.ones(*input_shape), tg.ones(5, 3), tg.ones(5, dtype=tg.float64))


def test_a_1d_weight_gives_a_dot_product_to_which_the_bias_is_broadcast():
    x = tg.randn(2, 5, 4, 5, dtype=tg.float64)
    w, b = tg.randn(5, dtype=tg.float64), tg.arange(4.0, dtype=tg.float64)
    np.testing.assert_allclose(F.linear(x, w, b).numpy(), x.numpy() @ w.numpy() + b.numpy())
    with pytest.raises(RuntimeError, match=r"must broadcast to the output's shape \(3,\)"):
        F.linear(tg.randn(3, 5), tg.randn(5), tg.zeros(4))


def test_bilinear_of_integers_stays_in_their_dtype():
    u = tg.ones(2, 1, dtype=tg.uint8)
    y = F.bilinear(u, u, tg.full((4, 1, 1), 3, dtype=tg.uint8))
    assert y.dtype is tg.uint8 and y.tolist() == [[3] * 4] * 2
