"""NoiseTunnel: SmoothGrad, SmoothGrad² and VarGrad over noisy copies of the input."""
import numpy as np
import pytest

import tapegrad as tg
import tapegrad.nn as nn
from tapegrad.explain.grad_cam import GradCAM
from tapegrad.explain.integrated_gradients import IntegratedGradients
from tapegrad.explain.noise_tunnel import NoiseTunnel
from tapegrad.explain.saliency import InputXGradient, Saliency

DEVICES = ["cpu"] + (["cuda"] if tg.cuda.is_available() else [])
rng = np.random.default_rng(0)


class Counting(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model
        self.rows = []

    def forward(self, x):
        self.rows.append(x.shape[0])
        return self.model(x)


def half_squares(x):
    """F = Σ x²/2, whose gradient is x itself: saliency then shows the noisy input."""
    return (x * x).sum(dim=1) * 0.5


def cubes(x):
    return (x * x * x).sum(dim=1)


def inputs(n=3, d=8):
    return tg.tensor(rng.normal(size=(n, d)))


def test_the_same_seed_gives_identical_results():
    x = inputs()
    nt = NoiseTunnel(Saliency(cubes))
    first = nt.attribute(x, nt_samples=10, seed=7)
    again = nt.attribute(x, nt_samples=10, seed=7)
    np.testing.assert_array_equal(first.numpy(), again.numpy())


def test_different_seeds_give_different_results():
    x = inputs()
    nt = NoiseTunnel(Saliency(cubes))
    assert not np.allclose(nt.attribute(x, nt_samples=10, seed=1).numpy(),
                           nt.attribute(x, nt_samples=10, seed=2).numpy())


def test_without_a_seed_the_default_generator_decides():
    x = inputs()
    nt = NoiseTunnel(Saliency(cubes))
    tg.manual_seed(5)
    first = nt.attribute(x, nt_samples=4)
    tg.manual_seed(5)
    np.testing.assert_array_equal(first.numpy(), nt.attribute(x, nt_samples=4).numpy())


def test_smoothgrad_of_a_linear_model_is_its_gradient():
    lin = nn.Linear(8, 3).double()
    out = NoiseTunnel(Saliency(lin)).attribute(inputs(), target=1, abs=False, seed=0)
    np.testing.assert_allclose(out.numpy(), np.broadcast_to(lin.weight.detach().numpy()[1],
                                                            (3, 8)), rtol=1e-12)


def test_vargrad_of_a_linear_model_is_zero():
    lin = nn.Linear(8, 3).double()
    out = NoiseTunnel(Saliency(lin)).attribute(inputs(), nt_type="vargrad", target=2, seed=0)
    np.testing.assert_array_equal(out.numpy(), np.zeros((3, 8)))


def test_smoothgrad_sq_of_a_linear_model_is_its_squared_gradient():
    lin = nn.Linear(8, 3).double()
    out = NoiseTunnel(Saliency(lin)).attribute(inputs(), nt_type="smoothgrad_sq", target=0,
                                               seed=0)
    np.testing.assert_allclose(out.numpy(), np.broadcast_to(lin.weight.detach().numpy()[0] ** 2,
                                                            (3, 8)), rtol=1e-12)


def test_the_noise_is_a_fraction_of_each_examples_range():
    # Saliency of Σ x²/2 is x + σε, so vargrad estimates σ² = (stdevs · (max − min))²
    x = tg.tensor(np.stack([np.linspace(0, 1, 200), np.linspace(-10, 30, 200)]))
    out = NoiseTunnel(Saliency(half_squares)).attribute(
        x, nt_type="vargrad", nt_samples=400, stdevs=0.2, seed=3, abs=False).numpy()
    expected = (0.2 * np.array([1.0, 40.0])) ** 2
    np.testing.assert_allclose(out.mean(axis=1), expected, rtol=0.03)
    mean = NoiseTunnel(Saliency(half_squares)).attribute(
        x, nt_samples=400, stdevs=0.2, seed=3, abs=False).numpy()
    assert np.all(np.abs(mean - x.numpy()).mean(axis=1) < 3 * 0.2 * np.array([1, 40]) / 20)


def test_zero_noise_gives_the_methods_own_attribution():
    x = inputs()
    out = NoiseTunnel(Saliency(cubes)).attribute(x, nt_samples=3, stdevs=0.0, seed=0)
    np.testing.assert_allclose(out.numpy(), Saliency(cubes).attribute(x).numpy(), rtol=1e-12)


def test_samples_are_batched_in_chunks_of_nt_samples_batch_size():
    counting = Counting(cubes)
    NoiseTunnel(Saliency(counting)).attribute(inputs(3), nt_samples=10, seed=0,
                                              nt_samples_batch_size=4)
    assert counting.rows == [12, 12, 6]
    counting.rows.clear()
    NoiseTunnel(Saliency(counting)).attribute(inputs(4), nt_samples=50, seed=0)
    assert sum(counting.rows) == 200 and len(counting.rows) == 1


def test_the_result_does_not_depend_on_how_the_samples_are_batched():
    x = inputs()
    nt = NoiseTunnel(Saliency(cubes))
    for nt_type in ("smoothgrad", "smoothgrad_sq", "vargrad"):
        whole = nt.attribute(x, nt_type=nt_type, nt_samples=9, seed=4, nt_samples_batch_size=9)
        cut = nt.attribute(x, nt_type=nt_type, nt_samples=9, seed=4, nt_samples_batch_size=2)
        np.testing.assert_allclose(cut.numpy(), whole.numpy(), rtol=1e-12)


def test_a_target_per_example_follows_each_example_into_its_noisy_copies():
    lin = nn.Linear(8, 3).double()
    w = lin.weight.detach().numpy()
    x = inputs(3)
    noiseless = NoiseTunnel(InputXGradient(lin)).attribute(x, target=[2, 0, 1], stdevs=0.0,
                                                           nt_samples=5, seed=0)
    np.testing.assert_allclose(noiseless.numpy(), w[[2, 0, 1]] * x.numpy(), rtol=1e-12)
    noisy = NoiseTunnel(Saliency(lin)).attribute(x, target=tg.tensor([2, 0, 1]), abs=False,
                                                 nt_samples=5, seed=0, nt_samples_batch_size=2)
    np.testing.assert_allclose(noisy.numpy(), w[[2, 0, 1]], rtol=1e-12)


def test_integrated_gradients_in_a_noise_tunnel_with_per_example_baselines_and_deltas():
    x = inputs(2, 4)
    baselines = tg.tensor(rng.normal(size=(2, 4)))
    ig = IntegratedGradients(lambda t: (t * t).sum(1))
    out, delta = NoiseTunnel(ig).attribute(x, nt_samples=3, stdevs=0.0, seed=0,
                                           baselines=baselines, n_steps=4,
                                           return_convergence_delta=True)
    np.testing.assert_allclose(out.numpy(), x.numpy() ** 2 - baselines.numpy() ** 2, rtol=1e-12)
    assert delta.shape == (6,) and np.all(np.abs(delta.numpy()) < 1e-12)


def test_baselines_drawn_from_a_distribution_average_over_them():
    # IG of Σx with baseline b is x − b per feature; drawing b from {0, 2} halves the way
    x = tg.tensor(np.ones((2, 3)) * 4)
    candidates = tg.tensor(np.array([[0.0] * 3, [2.0] * 3]))
    ig = IntegratedGradients(lambda t: t.sum(1))
    out = NoiseTunnel(ig).attribute(x, nt_samples=400, stdevs=0.0, seed=0, n_steps=2,
                                    baselines=candidates, draw_baseline_from_distrib=True)
    np.testing.assert_allclose(out.numpy(), np.full((2, 3), 3.0), atol=0.15)


def test_grad_cam_maps_can_be_smoothed_too():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = nn.Identity()

        def forward(self, x):
            return self.layer(x).sum(dim=(1, 2, 3)).reshape(-1, 1)

    net = Net()
    x = tg.tensor(rng.uniform(size=(2, 1, 4, 4)))
    out = NoiseTunnel(GradCAM(net, net.layer)).attribute(x, nt_samples=3, stdevs=0.0, seed=0)
    assert out.shape == (2, 1, 4, 4)
    np.testing.assert_allclose(out.numpy(), GradCAM(net, net.layer).attribute(x).numpy(),
                               rtol=1e-12)


@pytest.mark.parametrize("device", DEVICES)
def test_float32_results_on_the_inputs_device(device):
    x = tg.tensor(rng.normal(size=(2, 5)), dtype=tg.float32, device=device)
    before = x.cpu().numpy().copy()
    out = NoiseTunnel(Saliency(cubes)).attribute(x, nt_samples=4, seed=0)
    assert out.dtype == tg.float32 and out.device == x.device and out.shape == (2, 5)
    np.testing.assert_array_equal(x.cpu().numpy(), before)


def test_bad_arguments_are_refused_clearly():
    nt = NoiseTunnel(Saliency(cubes))
    x = inputs()
    with pytest.raises(ValueError, match="unknown nt_type 'smooth'"):
        nt.attribute(x, nt_type="smooth")
    with pytest.raises(ValueError, match="nt_samples must be a positive int"):
        nt.attribute(x, nt_samples=0)
    with pytest.raises(ValueError, match="stdevs must be a number ≥ 0"):
        nt.attribute(x, stdevs=-1.0)
    with pytest.raises(ValueError, match="nt_samples_batch_size must be a positive int"):
        nt.attribute(x, nt_samples_batch_size=0)
    with pytest.raises(ValueError, match="draw_baseline_from_distrib needs baselines"):
        NoiseTunnel(IntegratedGradients(cubes)).attribute(x, draw_baseline_from_distrib=True)
    with pytest.raises(TypeError, match="expected an attribution method"):
        NoiseTunnel(cubes)
