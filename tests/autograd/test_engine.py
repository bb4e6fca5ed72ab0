"""The backward pass: accumulation, graph freeing, higher order, hooks, autograd.grad."""
import numpy as np
import pytest

import tapegrad as tg
from tapegrad import autograd

from ..support import leaf


def test_backward_fills_grad_of_every_leaf_that_requires_it():
    x, w = leaf(3), leaf(3)
    c = tg.tensor([1.0, 2.0, 3.0], dtype=tg.float64)
    (x * w * c).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), (w * c).detach().numpy())
    np.testing.assert_allclose(w.grad.numpy(), (x * c).detach().numpy())
    assert c.grad is None


def test_gradients_accumulate_across_backward_calls():
    x = leaf(4)
    (x * 2).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.full(4, 5.0))


def test_a_value_used_twice_receives_the_sum_of_both_gradients():
    x = leaf(3)
    y = x.exp()
    (y * y + y).sum().backward()   # d/dx (e^2x + e^x) = 2e^2x + e^x
    e = np.exp(x.detach().numpy())
    np.testing.assert_allclose(x.grad.numpy(), 2 * e * e + e)


def test_leaves_never_share_a_gradient_buffer():
    # add's backward hands the same gradient to both inputs; each leaf must own its .grad,
    # or the next in-place accumulation into one would change the other.
    a, b = leaf(3), leaf(3)
    (a + b).sum().backward()
    assert not np.shares_memory(a.grad.numpy(), b.grad.numpy())
    (a * 2).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), np.full(3, 3.0))
    np.testing.assert_allclose(b.grad.numpy(), np.full(3, 1.0))


def test_leaf_grad_does_not_alias_the_gradient_passed_to_backward():
    x = leaf(3)
    y = x * 1.0
    g = tg.ones(3, dtype=tg.float64)
    y.backward(g)
    (x * 1.0).backward(g)
    np.testing.assert_allclose(g.numpy(), np.ones(3))
    np.testing.assert_allclose(x.grad.numpy(), np.full(3, 2.0))


def test_a_graph_100000_operations_deep_backpropagates_without_recursion():
    x = leaf(1)
    y = x
    for _ in range(100_000):
        y = y * 1.0
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0])


def test_second_backward_through_a_freed_graph_names_the_operation():
    x = leaf(3)
    y = x.exp().sum()
    y.backward()
    with pytest.raises(RuntimeError, match=r"second time.*'exp'.*retain_graph=True"):
        y.backward()


def test_retain_graph_allows_a_second_backward():
    x = leaf(3)
    y = x.exp().sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.exp(x.detach().numpy()))


def test_backward_frees_saved_values_unless_retained():
    x = leaf(3)
    y = x.exp()
    y.sum().backward()
    assert y.grad_fn._saved == ()
    z = x.exp()
    z.sum().backward(retain_graph=True)
    assert z.grad_fn._saved != ()


def test_graph_without_saved_values_can_be_walked_twice_as_in_pytorch():
    x = leaf(3)
    y = (x + 1).sum()
    y.backward()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), np.full(3, 2.0))


def test_backward_of_a_non_scalar_needs_a_gradient():
    x = leaf(2, 3)
    with pytest.raises(RuntimeError, match=r"scalar outputs.*shape \(2, 3\)"):
        (x * 2).backward()


def test_gradient_passed_to_backward_must_match_the_output_shape():
    x = leaf(2, 3)
    with pytest.raises(RuntimeError, match=r"gradient has shape \(3,\).*shape \(2, 3\)"):
        (x * 2).backward(tg.ones(3, dtype=tg.float64))


def test_backward_with_a_gradient_computes_a_vector_jacobian_product():
    x = leaf(3)
    v = tg.tensor([1.0, -2.0, 0.5], dtype=tg.float64)
    (x * x).backward(v)
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.detach().numpy() * v.numpy())


def test_backward_on_a_tensor_that_does_not_require_grad_is_an_error():
    with pytest.raises(RuntimeError, match="does not require grad"):
        tg.ones(3).sum().backward()


def test_create_graph_gives_hessian_vector_products():
    x, v = leaf(4), tg.tensor([1.0, 2.0, 3.0, 4.0], dtype=tg.float64)
    f = (x ** 3).sum()
    (g,) = autograd.grad(f, x, create_graph=True)
    (hv,) = autograd.grad((g * v).sum(), x)
    np.testing.assert_allclose(hv.numpy(), 6 * x.detach().numpy() * v.numpy())


def test_gradient_penalty_differentiates_a_gradient_norm():
    # L = |∇ₓ (w·x²)|² = Σ (2 w x)²;  ∂L/∂w = 8 w x²
    x, w = leaf(3), leaf(3)
    (g,) = autograd.grad((w * x * x).sum(), x, create_graph=True)
    (g * g).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), 8 * w.detach().numpy() * x.detach().numpy() ** 2)


def test_third_derivative():
    x = leaf(2)
    (g1,) = autograd.grad((x ** 4).sum(), x, create_graph=True)
    (g2,) = autograd.grad(g1.sum(), x, create_graph=True)
    (g3,) = autograd.grad(g2.sum(), x)
    np.testing.assert_allclose(g3.numpy(), 24 * x.detach().numpy())


def test_grad_returns_gradients_without_touching_dot_grad():
    x, y = leaf(3), leaf(3)
    gx, gy = autograd.grad((x * y).sum(), [x, y])
    np.testing.assert_allclose(gx.numpy(), y.detach().numpy())
    np.testing.assert_allclose(gy.numpy(), x.detach().numpy())
    assert x.grad is None and y.grad is None


def test_grad_of_an_intermediate_tensor():
    x = leaf(3)
    h = x * 2
    out = (h.exp()).sum()
    (gh,) = autograd.grad(out, h)
    np.testing.assert_allclose(gh.numpy(), np.exp(h.detach().numpy()))


def test_grad_refuses_an_unused_input_unless_allowed():
    x, unused = leaf(3), leaf(3)
    with pytest.raises(RuntimeError, match=r"input 1.*not used.*allow_unused=True"):
        autograd.grad((x * 2).sum(), [x, unused])
    gx, gu = autograd.grad((x * 2).sum(), [x, unused], allow_unused=True)
    assert gu is None
    np.testing.assert_allclose(gx.numpy(), np.full(3, 2.0))


def test_autograd_backward_takes_several_outputs_and_their_gradients():
    x = leaf(2)
    a, b = x * 2, x * 3
    autograd.backward([a, b], [tg.ones(2, dtype=tg.float64), tg.full((2,), 10.0, dtype=tg.float64)])
    np.testing.assert_allclose(x.grad.numpy(), [32.0, 32.0])


def test_retain_grad_keeps_the_gradient_of_a_non_leaf():
    x = leaf(3)
    h = x * 2
    h.retain_grad()
    assert h.retains_grad
    (h * h).sum().backward()
    np.testing.assert_allclose(h.grad.numpy(), 2 * h.detach().numpy())


def test_grad_of_a_non_leaf_without_retain_grad_warns_and_is_none():
    x = leaf(3)
    h = x * 2
    h.sum().backward()
    with pytest.warns(UserWarning, match="retain_grad"):
        assert h.grad is None


def test_hook_on_a_non_leaf_can_replace_its_gradient():
    x = leaf(3)
    h = x * 2
    seen = []
    h.register_hook(lambda g: seen.append(g.numpy().copy()))
    handle = h.register_hook(lambda g: g * 10)
    h.sum().backward()
    np.testing.assert_allclose(seen[0], np.ones(3))
    np.testing.assert_allclose(x.grad.numpy(), np.full(3, 20.0))
    handle.remove()
    x.grad = None
    (x * 2).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.full(3, 2.0))


def test_hook_on_a_leaf_sees_the_gradient_before_it_is_accumulated():
    x = leaf(3)
    x.register_hook(lambda g: g * 0.5)
    (x * 4).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.full(3, 2.0))


def test_hook_needs_a_tensor_that_requires_grad():
    with pytest.raises(RuntimeError, match="does not require grad"):
        tg.ones(3).register_hook(lambda g: g)


def test_gradients_of_float32_leaves_are_float32_even_next_to_float64():
    x = tg.randn(3, requires_grad=True)
    y = leaf(3)
    (x * y).sum().backward()
    assert x.grad.dtype == tg.float32 and y.grad.dtype == tg.float64


def test_post_accumulate_grad_hook_sees_the_leaf_after_its_grad_is_complete():
    # Called once per backward, with the leaf itself, after every path's gradient has been
    # summed into .grad (x is used twice here); later backwards see the accumulated grad.
    x = leaf(3)
    seen = []
    handle = x.register_post_accumulate_grad_hook(
        lambda t: seen.append((t is x, t.grad.numpy().copy())))
    (x * 2 + x * 3).sum().backward()
    (x * 2).sum().backward()
    assert [same for same, _ in seen] == [True, True]
    np.testing.assert_allclose(seen[0][1], [5.0, 5.0, 5.0])
    np.testing.assert_allclose(seen[1][1], [7.0, 7.0, 7.0])
    handle.remove()
    x.sum().backward()
    assert len(seen) == 2


def test_post_accumulate_grad_hook_is_not_called_by_autograd_grad_nor_allowed_on_non_leaves():
    x = leaf(3)
    seen = []
    x.register_post_accumulate_grad_hook(seen.append)
    autograd.grad((x * x).sum(), x)
    assert seen == [] and x.grad is None
    with pytest.raises(RuntimeError, match="non-leaf"):
        (x * 2).register_post_accumulate_grad_hook(seen.append)
    with pytest.raises(RuntimeError, match="does not require grad"):
        tg.ones(3).register_post_accumulate_grad_hook(seen.append)


def test_summing_many_gradients_never_changes_a_gradient_that_came_from_outside():
    # add's backward passes the caller's gradient through unchanged to both inputs, so the
    # engine's running sum for y starts from the caller's tensor: it must add out of place
    # first, and only then may it add into its own sum in place.
    x = leaf(3)
    y = x * 1.0
    out = y + y + y + y
    g = tg.tensor([1.0, 2.0, 3.0], dtype=tg.float64)
    out.backward(g)
    np.testing.assert_allclose(g.numpy(), [1.0, 2.0, 3.0])
    np.testing.assert_allclose(x.grad.numpy(), [4.0, 8.0, 12.0])


def test_a_weight_used_at_every_step_of_a_loop_gets_the_sum_of_all_steps():
    from tapegrad.autograd import gradcheck
    h0 = leaf(2, 3)

    def twenty_steps(w):
        h = h0
        for _ in range(20):
            h = (h @ w.mT * 0.5).tanh()
        return h

    assert gradcheck(twenty_steps, leaf(3, 3))
