"""Dropout and Dropout2d, and their functional forms."""
import warnings

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.autograd import gradcheck, gradgradcheck
from tapegrad.nn.functional.dropout import dropout, dropout2d
from tapegrad.nn.modules.dropout import Dropout, Dropout2d


def test_dropout_in_training_zeroes_about_p_of_the_elements_and_scales_the_rest():
    tg.manual_seed(0)
    x = tg.ones(200, 500)
    out = dropout(x, p=0.3).numpy()
    assert set(np.unique(out).tolist()) == {0.0, np.float32(1 / 0.7).item()}
    assert (out == 0).mean() == pytest.approx(0.3, abs=0.01)
    assert out.mean() == pytest.approx(1.0, abs=0.02)   # the expectation is kept
    assert out.dtype == np.float32


def test_dropout_in_evaluation_is_the_identity():
    x = tg.randn(4, 5)
    assert dropout(x, 0.5, training=False) is x
    assert dropout(x, 0.0) is x
    layer = Dropout(0.5).eval()
    assert layer(x) is x


def test_dropout_module_differs_between_train_and_eval():
    layer = Dropout(0.5)
    x = tg.ones(1000)
    train_out = layer(x).numpy()
    assert (train_out == 0).any() and (train_out == 2).any()
    layer.eval()
    np.testing.assert_array_equal(layer(x).numpy(), x.numpy())
    layer.train()
    assert (layer(x).numpy() == 0).any()


def test_dropout_masks_repeat_after_manual_seed():
    x = tg.randn(50, 40)
    tg.manual_seed(123)
    first = dropout(x, 0.5).numpy()
    second = dropout(x, 0.5).numpy()
    tg.manual_seed(123)
    again = dropout(x, 0.5).numpy()
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, second)


def test_dropout_with_p_one_gives_zeros_and_p_is_validated():
    x = tg.randn(3, 4)
    np.testing.assert_array_equal(dropout(x, 1.0).numpy(), np.zeros((3, 4), np.float32))
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError, match=f"dropout probability has to be between 0 and 1, "
                                             f"but got {bad}"):
            dropout(x, bad)
        with pytest.raises(ValueError, match="between 0 and 1"):
            Dropout(bad)
        with pytest.raises(ValueError, match="between 0 and 1"):
            Dropout2d(bad)
    with pytest.raises(TypeError, match="input must be a Tensor"):
        dropout(np.ones(3))


def test_dropout_gradient_is_the_same_mask():
    tg.manual_seed(1)
    x = tg.randn(20, 30, requires_grad=True)
    out = dropout(x, 0.4)
    out.sum().backward()
    kept = out.detach().numpy() != 0
    np.testing.assert_allclose(x.grad.numpy(), np.where(kept, 1 / 0.6, 0), rtol=1e-6)


def test_dropout_inplace_changes_the_input_itself():
    tg.manual_seed(2)
    x = tg.ones(100)
    out = dropout(x, 0.5, inplace=True)
    assert out is x and (x.numpy() == 0).any() and (x.numpy() == 2).any()
    y = tg.ones(100)
    assert Dropout(0.5, inplace=True)(y) is y


def test_dropout_keeps_float64():
    assert dropout(tg.ones(10, dtype=tg.float64), 0.5).dtype == tg.float64


def test_dropout2d_drops_whole_channels():
    tg.manual_seed(3)
    x = tg.ones(8, 16, 5, 5)
    out = dropout2d(x, 0.5).numpy()
    per_channel = out.reshape(8, 16, 25)
    assert ((per_channel == 0).all(-1) | (per_channel == 2).all(-1)).all()
    dropped = (per_channel == 0).all(-1).mean()
    assert 0.3 < dropped < 0.7
    layer = Dropout2d(0.5)
    layer.eval()
    assert layer(x) is x


def test_dropout2d_reads_a_3d_input_as_batch_channels_length_with_pytorchs_warning():
    tg.manual_seed(4)
    with pytest.warns(UserWarning, match="Received a 3D input to dropout2d"):
        out = dropout2d(tg.ones(4, 6, 7), 0.5).numpy()
    assert ((out == 0).all(-1) | (out == 2).all(-1)).all()
    assert 0 < (out == 0).mean() < 1


def test_dropout2d_on_2d_input_warns_and_drops_single_elements_as_pytorch():
    # (N, C) has one element per channel: one draw per (sample, channel) is one per element.
    tg.manual_seed(5)
    with pytest.warns(UserWarning, match="Received a 2-D input to dropout2d"):
        out = dropout2d(tg.ones(40, 50), 0.5).numpy()
    assert set(np.unique(out)) == {0.0, 2.0}
    assert 0.4 < (out == 0).mean() < 0.6
    assert not (out == out[:1]).all(0).all()    # not one mask shared by the rows
    assert not (out == out[:, :1]).all(1).all()  # nor by the columns


def test_dropout2d_on_5d_input_warns_and_drops_whole_channels():
    tg.manual_seed(6)
    with pytest.warns(UserWarning, match="Received a 5-D input to dropout2d"):
        out = dropout2d(tg.ones(4, 6, 2, 3, 2), 0.5).numpy().reshape(4, 6, -1)
    assert ((out == 0).all(-1) | (out == 2).all(-1)).all()
    assert 0 < (out == 0).mean() < 1


def test_dropout2d_below_2d_warns_and_needs_two_dimensions_only_when_it_drops():
    x = tg.ones(5)
    with pytest.warns(UserWarning, match="Received a 1-D input"):
        with pytest.raises(RuntimeError, match=r"at least 2 dimensions.*got shape \(5,\)"):
            dropout2d(x, 0.5)
    with pytest.warns(UserWarning, match="Received a 1-D input"):
        assert dropout2d(x, 0.5, training=False) is x
    with pytest.warns(UserWarning, match="Received a 1-D input"):
        assert dropout2d(x, 0.0) is x
    with pytest.warns(UserWarning, match="Received a 1-D input"):
        assert not dropout2d(x, 1.0).numpy().any()


def test_dropout2d_warns_in_evaluation_too_and_not_for_4d_input():
    with pytest.warns(UserWarning, match="Received a 3D input"):
        dropout2d(tg.ones(2, 3, 4), 0.5, training=False)
    layer = Dropout2d(0.5)
    layer.eval()
    with pytest.warns(UserWarning, match="Received a 2-D input"):
        layer(tg.ones(2, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dropout2d(tg.ones(2, 3, 4, 5), 0.5)


@pytest.mark.parametrize("shape", [(4, 6), (4, 6, 7), (2, 3, 4, 5), (2, 3, 2, 2, 2), (5,)])
def test_dropout2d_warnings_and_errors_are_pytorchs(shape):
    torch = pytest.importorskip("torch")

    def outcome(run):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                out = run()
                error = None
            except RuntimeError as e:
                out, error = None, str(e)
        return [str(w.message) for w in caught], out, error

    want_warnings, want, want_error = outcome(
        lambda: torch.nn.functional.dropout2d(torch.ones(shape), 0.5).numpy())
    got_warnings, got, got_error = outcome(lambda: dropout2d(tg.ones(*shape), 0.5).numpy())
    assert got_warnings == want_warnings
    assert (got_error is None) == (want_error is None)
    if want is not None:
        # The same masks' structure: constant along every dimension after the second.
        for out in (want, got):
            flat = out.reshape(shape[:2] + (-1,))
            assert ((flat == 0).all(-1) | (flat == 2).all(-1)).all()


def test_dropout_gradcheck_with_a_fixed_mask():
    x = tg.tensor(np.random.default_rng(0).uniform(-1, 1, (4, 5)), dtype=tg.float64,
                  requires_grad=True)

    def fn(x):
        tg.manual_seed(7)   # the same mask at every evaluation
        return dropout(x, 0.3)

    def fn2d(x):
        tg.manual_seed(7)
        return dropout2d(x.reshape(2, 2, 5, 1), 0.5)
    assert gradcheck(fn, (x,)) and gradgradcheck(fn, (x,))
    assert gradcheck(fn2d, (x,))


def test_dropout_reprs_as_pytorch():
    assert repr(Dropout()) == "Dropout(p=0.5, inplace=False)"
    assert repr(Dropout2d(0.2, inplace=True)) == "Dropout2d(p=0.2, inplace=True)"
    assert list(Dropout().state_dict()) == []
