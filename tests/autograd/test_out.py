"""out= (tapegrad/autograd/ops/out.py): the result written into a given tensor, resized when
it is empty, as PyTorch does; not differentiable."""
import numpy as np
import pytest

import tapegrad as tg


@pytest.mark.parametrize("call", [
    lambda out: tg.add(tg.ones(2, 3), 2.0, out=out),
    lambda out: tg.sub(tg.ones(2, 3), tg.ones(3), out=out),
    lambda out: tg.mul(tg.ones(2, 3), 3, out=out),
    lambda out: tg.div(tg.ones(2, 3), 4, out=out),
    lambda out: tg.exp(tg.zeros(2, 3), out=out),
    lambda out: tg.log(tg.ones(2, 3), out=out),
    lambda out: tg.clamp(tg.ones(2, 3) * 5, max=2, out=out),
    lambda out: tg.where(tg.ones(2, 3) > 0, tg.ones(2, 3), 0.0, out=out),
    lambda out: tg.matmul(tg.ones(2, 4), tg.ones(4, 3), out=out),
    lambda out: tg.mm(tg.ones(2, 4), tg.ones(4, 3), out=out),
    lambda out: tg.sum(tg.ones(2, 3, 5), -1, out=out),
    lambda out: tg.mean(tg.ones(2, 3, 5), 2, out=out),
    lambda out: tg.cat([tg.ones(1, 3), tg.zeros(1, 3)], out=out),
    lambda out: tg.stack([tg.ones(3), tg.zeros(3)], out=out),
    lambda out: tg.atan2(tg.ones(2, 3), tg.ones(2, 3), out=out),
    lambda out: tg.logaddexp(tg.ones(2, 3), tg.ones(2, 3), out=out),
    lambda out: tg.sinh(tg.ones(2, 3), out=out),
], ids=["add", "sub", "mul", "div", "exp", "log", "clamp", "where", "matmul", "mm", "sum", "mean",
        "cat", "stack", "atan2", "logaddexp", "sinh"])
def test_the_result_is_written_into_out_which_is_returned(call):
    expected = call(None)
    out = tg.full((2, 3), -1.0)
    version = out._version
    assert call(out) is out
    np.testing.assert_allclose(out.numpy(), expected.numpy())
    assert out._version == version + 1
    empty = tg.empty(0)
    assert call(empty).shape == (2, 3)
    np.testing.assert_allclose(empty.numpy(), expected.numpy())


def test_a_non_empty_out_of_another_shape_is_an_error_naming_both():
    with pytest.raises(RuntimeError, match=r"\(2,\).*\(3,\)"):
        tg.add(tg.ones(2), 1, out=tg.zeros(3))


def test_out_with_gradients_is_refused_before_anything_changes():
    out = tg.zeros(2)
    with pytest.raises(RuntimeError, match="don't support automatic differentiation"):
        tg.mul(tg.ones(2, requires_grad=True), 2, out=out)
    assert out.tolist() == [0.0, 0.0] and out._version == 0
    with tg.no_grad():
        tg.mul(tg.ones(2, requires_grad=True), 2, out=out)
    assert out.tolist() == [2.0, 2.0]


def test_the_result_is_cast_to_out_but_never_down_a_kind():
    out = tg.zeros(2, dtype=tg.float64)
    tg.add(tg.ones(2), 1, out=out)
    assert out.dtype is tg.float64 and out.tolist() == [2.0, 2.0]
    with pytest.raises(RuntimeError, match="can't be cast"):
        tg.div(tg.ones(2), 3, out=tg.zeros(2, dtype=tg.int64))


def test_out_must_be_a_tensor():
    with pytest.raises(TypeError, match="out must be a Tensor"):
        tg.add(tg.ones(2), 1, out=[0, 0])


def test_out_matches_pytorch():
    torch = pytest.importorskip("torch")
    results = []
    for lib in (tg, torch):
        out = lib.empty(0)
        lib.add(lib.ones(2, 3), lib.ones(3), out=out)
        results.append(out.numpy().tolist())
    assert results[0] == results[1]
