"""Every explanation method, given a model and inputs on cuda, explains what it explains on
the cpu, and gives tensor attributions back on cuda (the LIME family, which returns host
explanations, is given a cuda model). tests/explain's own cuda tests run in
test_tests_elsewhere_on_cuda.py.
"""
import copy

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.nn as nn
from tapegrad.explain import (GradCAM, InputXGradient, IntegratedGradients, KernelShap,
                              LimeTabular, NoiseTunnel, Occlusion, Saliency)

from .on_device import where_it_says

pytestmark = pytest.mark.cuda


def small_cnn():
    tg.manual_seed(0)
    return nn.Sequential(nn.Conv2d(2, 3, 3, padding=1, dtype=tg.float64), nn.ReLU(),
                         nn.AvgPool2d(2), nn.Flatten(), nn.Linear(12, 3, dtype=tg.float64))


METHODS = {
    "Saliency": lambda m, x: Saliency(m).attribute(x, target=1),
    "InputXGradient": lambda m, x: InputXGradient(m).attribute(x, target=2),
    "IntegratedGradients": lambda m, x: IntegratedGradients(m).attribute(
        x, target=0, n_steps=8, return_convergence_delta=True),
    "NoiseTunnel": lambda m, x: NoiseTunnel(Saliency(m)).attribute(x, nt_samples=4, seed=0,
                                                                   target=1),
    "Occlusion": lambda m, x: Occlusion(m).attribute(x, (1, 2, 2), strides=(1, 2, 2), target=1),
    "GradCAM": lambda m, x: GradCAM(m, m[0]).attribute(x, target=1),
    "KernelShap": lambda m, x: KernelShap(m).attribute(x[:1], target=1, n_samples=40, seed=0),
}


@pytest.mark.parametrize("name", METHODS)
def test_an_explanation_of_a_cuda_model_equals_the_cpu_one(name):
    model = small_cnn()
    gpu_model = copy.deepcopy(model).to("cuda")
    x = np.random.default_rng(1).standard_normal((2, 2, 4, 4))
    expected = METHODS[name](model, tg.tensor(x))
    got = METHODS[name](gpu_model, tg.tensor(x, device="cuda"))
    pairs = zip(got, expected) if isinstance(got, tuple) else [(got, expected)]
    for a, e in pairs:
        assert a.device == tg.device("cuda:0") and where_it_says(a) and a.dtype == e.dtype
        np.testing.assert_allclose(a.cpu().numpy(), e.numpy(), rtol=1e-9, atol=1e-12)


def test_lime_tabular_explains_a_cuda_model_as_a_cpu_one():
    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3, dtype=tg.float64), nn.Softmax(dim=1))
    gpu_model = copy.deepcopy(model).to("cuda")
    data = np.random.default_rng(2).standard_normal((200, 4))
    explainer = LimeTabular(data, discretize_continuous=False)
    expected = explainer.explain(data[0], model, labels=(1,), num_samples=300, seed=0)
    got = explainer.explain(data[0], gpu_model, labels=(1,), num_samples=300, seed=0)
    assert [n for n, _ in got.as_list(1)] == [n for n, _ in expected.as_list(1)]
    np.testing.assert_allclose([w for _, w in got.as_list(1)],
                               [w for _, w in expected.as_list(1)], rtol=1e-9)


def test_lime_image_segments_a_cuda_image_on_the_host_and_explains_a_cuda_model():
    from tapegrad.explain import LimeImage
    from tests.explain.test_lime_image import tiles

    class Bright(nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = nn.Parameter(tg.tensor(20.0))

        def forward(self, x):
            assert x.device == self.scale.device and where_it_says(x)
            p = ((x[:, :, 32:64, 64:96].mean(dim=(1, 2, 3)) - 0.25) * self.scale).sigmoid()
            return tg.stack([1 - p, p], dim=1)

    pixels = tiles().transpose(2, 0, 1)
    explained = [LimeImage().explain(tg.tensor(pixels, dtype=tg.float32, device=device),
                                     Bright().to(device), segmentation="slic", hide_color=0,
                                     num_samples=40, seed=0)
                 for device in ("cpu", "cuda")]
    cpu, gpu = explained
    assert gpu.labels == cpu.labels and (gpu.segments == cpu.segments).all()
    for label in cpu.labels:
        got, expected = gpu.as_list(label), cpu.as_list(label)
        assert [f for f, _ in got] == [f for f, _ in expected]
        np.testing.assert_allclose([w for _, w in got], [w for _, w in expected], rtol=1e-4,
                                   atol=1e-6)
