"""The cuda tests that live beside the code they test, run here on cuda (real or fake).

Other folders hold tests that run only where ``tg.cuda.is_available()`` (a test skipped
without a GPU, or a ``device`` parameter that takes "cuda" only there). Elsewhere they
would never run; here they run on the backend of tests/cuda (conftest.py), which on a
machine without a GPU is the fake cupy. On a real GPU they also run in their own folders.
"""
import importlib
import itertools

import pytest

from tests.training.test_fit import toy  # noqa: F401  (a fixture, used by a test below)

pytestmark = pytest.mark.cuda

# (module, test function): tests skipped in their folder where there is no GPU
GPU_ONLY = [
    ("tests.autograd.test_conversion", "test_a_round_trip_to_the_gpu_keeps_values_and_gradients"),
    ("tests.explain.test_kernel_shap",
     "test_cuda_inputs_and_model_give_cuda_attributions_equal_to_the_cpu_ones"),
    ("tests.explain.test_lime_image", "test_a_cuda_model_gets_cuda_batches"),
    ("tests.nn.test_module", "test_cuda_moves_parameters_buffers_and_grads_in_place"),
    ("tests.serialization.test_save_load", "test_real_gpu_tensor_round_trip"),
    ("tests.training.test_fit",
     "test_fit_on_the_gpu_moves_each_batch_and_keeps_the_op_error_for_a_cpu_model"),
]

# modules whose tests take a ``device`` parameter with "cuda" among its values where a GPU is
ON_EVERY_DEVICE = ["tests.explain.test_grad_cam", "tests.explain.test_integrated_gradients",
                   "tests.explain.test_metrics", "tests.explain.test_noise_tunnel",
                   "tests.explain.test_occlusion", "tests.explain.test_saliency"]


def _function(module_name, name):
    return getattr(importlib.import_module(module_name), name)


@pytest.mark.parametrize("module_name,name", GPU_ONLY,
                         ids=[(p.values if hasattr(p, "values") else p)[1] for p in GPU_ONLY])
def test_gpu_only_test(module_name, name, request):
    function = _function(module_name, name)
    arguments = function.__code__.co_varnames[:function.__code__.co_argcount]
    function(**{a: request.getfixturevalue(a) for a in arguments})


def device_tests():
    """(module, function, keyword arguments with device="cuda") for every test of
    ON_EVERY_DEVICE with a ``device`` parameter, in every combination of its other parameters."""
    params = []
    for module_name in ON_EVERY_DEVICE:
        module = importlib.import_module(module_name)
        for name in sorted(n for n in dir(module) if n.startswith("test_")):
            marks = [m for m in getattr(getattr(module, name), "pytestmark", [])
                     if m.name == "parametrize"]
            if not any(m.args[0] == "device" for m in marks):
                continue
            grids = []
            for m in marks:
                names = [a.strip() for a in m.args[0].split(",")]
                values = [("cuda",)] if names == ["device"] else [
                    (v,) if len(names) == 1 else tuple(v) for v in m.args[1]]
                grids.append([dict(zip(names, v)) for v in values])
            for combination in itertools.product(*grids):
                kwargs = {k: v for part in combination for k, v in part.items()}
                label = ",".join(f"{k}={v}" for k, v in kwargs.items() if k != "device")
                params.append(pytest.param(module_name, name, kwargs,
                                           id=f"{name}[{label}]" if label else name))
    return params


@pytest.mark.parametrize("module_name,name,kwargs", device_tests())
def test_device_test_on_cuda(module_name, name, kwargs):
    _function(module_name, name)(**kwargs)


def test_the_device_tests_are_found():
    assert len(device_tests()) >= len(ON_EVERY_DEVICE)
