"""Making tensors on cuda, random draws there, moving between devices, workspaces, and
saving cuda tensors so that a machine without a GPU can load them."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import backend
from tapegrad.kernels.cpu import workspace

from .conftest import REAL_GPU
from .on_device import where_it_says

pytestmark = pytest.mark.cuda
CUDA = tg.device("cuda:0")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def on_cuda(t, dtype=None):
    assert t.device == CUDA and where_it_says(t), f"{t.device}, array of type {type(t.array)}"
    if dtype is not None:
        assert t.dtype is dtype
    return t


@pytest.mark.parametrize("make,dtype", [
    (lambda: tg.zeros(2, 3, device="cuda"), tg.float32),
    (lambda: tg.ones((2,), device="cuda", dtype=tg.float64), tg.float64),
    (lambda: tg.empty(4, device="cuda"), tg.float32),
    (lambda: tg.full((2, 2), 7, device="cuda"), tg.int64),
    (lambda: tg.eye(3, device="cuda"), tg.float32),
    (lambda: tg.arange(5, device="cuda"), tg.int64),
    (lambda: tg.arange(0.0, 1.0, 0.25, device="cuda"), tg.float32),
    (lambda: tg.linspace(0, 1, 5, device="cuda"), tg.float32),
    (lambda: tg.rand(3, device="cuda"), tg.float32),
    (lambda: tg.randn(3, device="cuda", dtype=tg.float16), tg.float16),
    (lambda: tg.randint(0, 10, (4,), device="cuda"), tg.int64),
    (lambda: tg.randperm(6, device="cuda"), tg.int64),
    (lambda: tg.tensor([[1.0, 2.0]], device="cuda"), tg.float32),
    (lambda: tg.tensor(np.arange(3), device="cuda"), tg.int64),
    (lambda: tg.as_tensor([1, 2], device="cuda"), tg.int64),
    (lambda: tg.zeros_like(tg.ones(2, device="cuda", dtype=tg.float64)), tg.float64),
    (lambda: tg.randn_like(tg.ones(2, device="cuda")), tg.float32),
    (lambda: tg.full_like(tg.ones(2, device="cuda"), 3.5), tg.float32),
])
def test_every_way_of_making_a_tensor_can_make_it_on_cuda(make, dtype):
    on_cuda(make(), dtype)


def test_random_draws_on_cuda_repeat_after_manual_seed_and_have_the_right_ranges():
    tg.manual_seed(3)
    first = [tg.rand(50, device="cuda"), tg.randn(50, device="cuda"),
             tg.randint(2, 5, (50,), device="cuda"), tg.randperm(50, device="cuda")]
    tg.manual_seed(3)
    again = [tg.rand(50, device="cuda"), tg.randn(50, device="cuda"),
             tg.randint(2, 5, (50,), device="cuda"), tg.randperm(50, device="cuda")]
    for a, b in zip(first, again):
        assert on_cuda(a).cpu().tolist() == on_cuda(b).cpu().tolist()
    uniform, _, ints, perm = (t.cpu().numpy() for t in first)
    assert 0 <= uniform.min() and uniform.max() < 1
    assert set(ints.tolist()) <= {2, 3, 4}
    assert sorted(perm.tolist()) == list(range(50))


def test_a_generator_of_its_own_draws_on_cuda():
    g = tg.Generator().manual_seed(5)
    a = tg.randn(4, device="cuda", generator=g)
    g.manual_seed(5)
    assert on_cuda(a).cpu().tolist() == tg.randn(4, device="cuda", generator=g).cpu().tolist()


@pytest.mark.parametrize("init", ["uniform_", "normal_", "trunc_normal_", "xavier_uniform_",
                                  "xavier_normal_", "kaiming_uniform_", "kaiming_normal_",
                                  "orthogonal_", "zeros_", "ones_", "eye_"])
def test_every_initialiser_fills_a_cuda_parameter_on_cuda(init):
    weight = tg.nn.Parameter(tg.empty(4, 6, device="cuda"))
    getattr(tg.nn.init, init)(weight)
    on_cuda(weight, tg.float32)
    assert np.isfinite(weight.detach().cpu().numpy()).all()


def test_a_tensor_moves_between_host_and_device_with_its_values_and_layout():
    host = np.arange(12.0).reshape(3, 4)
    x = tg.tensor(host, device="cuda")
    assert on_cuda(x).cpu().numpy().tolist() == host.tolist()
    assert x.T.cuda().cpu().tolist() == host.T.tolist()
    assert x.tolist() == host.tolist() and x[1, 2].item() == 6.0
    assert float(x.sum()) == 66.0 and int(x.argmax()) == 11
    with pytest.raises(TypeError, match=r"cpu\(\)\.numpy\(\)"):
        x.numpy()
    assert "device='cuda:0'" in repr(x)


def test_numpy_values_meeting_a_cuda_tensor_are_copied_to_the_gpu():
    x = tg.ones(3, device="cuda")
    for y in (x + np.arange(3.0), np.arange(3.0) * x, x.maximum(tg.tensor(np.arange(3.0))
                                                             .to("cuda")), x + 2.5):
        on_cuda(y)


def test_an_operation_on_a_cpu_and_a_cuda_tensor_names_both_devices():
    with pytest.raises(RuntimeError, match=r"cpu.*cuda:0|cuda:0.*cpu"):
        tg.ones(2, device="cuda") + tg.ones(2)


@pytest.mark.skipif(REAL_GPU and tg.cuda.device_count() < 2, reason="needs two GPUs")
def test_moving_from_one_gpu_to_another_copies_onto_the_other():
    x = tg.tensor([1.0, 2.0], device="cuda:0", requires_grad=True)
    y = x.to("cuda:1")
    assert y.device == tg.device("cuda:1") and where_it_says(y)
    assert y.array.device.id == 1 and y.cpu().tolist() == [1.0, 2.0]
    back = y.to("cuda:0")
    assert back.array.device.id == 0 and where_it_says(back)


@pytest.mark.skipif(REAL_GPU and tg.cuda.device_count() < 2, reason="needs two GPUs")
def test_tensors_on_the_second_gpu_are_made_and_computed_on_it():
    # cupy makes arrays and runs kernels on its *current* device: every operation must make
    # its tensors' device the current one, or cuda:1 tensors would be computed on cuda:0
    layer = tg.nn.Linear(3, 2).to("cuda:1")
    x = tg.randn(4, 3, device="cuda:1", requires_grad=True)
    with backend.cuda.array_module(0).cuda.Device(0):   # whatever the user's current device is
        loss = layer(x).relu().sum()
        loss.backward()
        tg.optim.Adam(layer.parameters(), lr=0.1).step()
        made = [tg.zeros(2, device="cuda:1"), tg.full((2,), 3.0, device="cuda:1"),
                tg.arange(3, device="cuda:1"), tg.rand(2, device="cuda:1")]
    for t in [x, loss, x.grad, layer.weight, layer.weight.grad] + made:
        assert t.device == tg.device("cuda:1") and where_it_says(t)


def test_the_workspace_keeps_one_buffer_per_device():
    xp, cupy = CUDA.xp, backend.cuda.array_module(0)
    with cupy.cuda.Device(0):
        on_zero = workspace.get(xp, "test-devices", (2, 3), "float32", fill=0)
        assert workspace.get(xp, "test-devices", (2, 3), "float32", fill=0) is on_zero
    if tg.cuda.device_count() > 1:
        with cupy.cuda.Device(1):
            on_one = workspace.get(xp, "test-devices", (2, 3), "float32", fill=0)
        assert on_one is not on_zero and on_one.device.id == 1 and on_zero.device.id == 0
    numpy_buffer = workspace.get(tg.device("cpu").xp, "test-devices", (2, 3), "float32", fill=0)
    assert isinstance(numpy_buffer, np.ndarray)
    workspace.clear()


def test_saved_cuda_tensors_load_on_a_machine_without_a_gpu(tmp_path):
    path = tmp_path / "checkpoint.tg"
    x = tg.randn(3, 4, device="cuda", requires_grad=True)
    n = tg.arange(5, device="cuda")
    tg.save({"x": x, "n": n, "nested": [x.T]}, path)
    # a fresh interpreter, with no cupy to be found (on a real GPU machine cupy exists but
    # must not be needed): as in PyTorch, tensors load where they were saved unless
    # map_location says otherwise
    script = ("import json, sys; import tapegrad as tg; "
              "d = tg.load(sys.argv[1], map_location='cpu'); "
              "print(json.dumps({k: [str(v.device), v.dtype.name, v.requires_grad, v.tolist()] "
              "for k, v in (('x', d['x']), ('n', d['n']), ('t', d['nested'][0]))}))")
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    done = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True,
                          text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout)
    host = backend.to_numpy(x.array)
    assert loaded["x"] == ["cpu", "float32", True, host.tolist()]
    assert loaded["n"] == ["cpu", "int64", False, [0, 1, 2, 3, 4]]
    assert loaded["t"][3] == host.T.tolist()
    again = tg.load(path, map_location="cuda")
    assert on_cuda(again["x"]).cpu().tolist() == host.tolist() and again["x"].is_leaf
    restored = tg.load(path)   # no map_location: back on the device they were saved from
    assert restored["x"].device == x.device and restored["n"].device == n.device
    assert restored["nested"][0].cpu().tolist() == host.T.tolist()


def test_cpu_checkpoints_load_onto_the_gpu_with_views_sharing_device_memory(tmp_path):
    x = tg.arange(12.0).reshape(3, 4)
    tg.save({"x": x, "t": x.T, "rows": x[1:]}, tmp_path / "views.pt")
    for location in ["cuda", {"cpu": "cuda:0"}, lambda storage, saved_on: storage.cuda()]:
        loaded = tg.load(tmp_path / "views.pt", map_location=location)
        assert all(on_cuda(t).device == tg.device("cuda:0") for t in loaded.values())
        assert loaded["t"].cpu().tolist() == x.T.tolist()
        assert loaded["rows"].cpu().tolist() == x[1:].tolist()
        loaded["x"][2, 0] = -1.0   # one storage on the device: the views see the write
        assert loaded["t"][0, 2].item() == -1.0 and loaded["rows"][1, 0].item() == -1.0


def test_safetensors_load_onto_the_gpu_and_save_from_it(tmp_path):
    weights = {"w": tg.randn(2, 3, device="cuda"), "b": tg.arange(3, device="cuda")}
    tg.safetensors.save_file(weights, tmp_path / "w.safetensors")
    for device in ["cuda", "cuda:0", 0, tg.device("cuda:0")]:
        loaded = tg.safetensors.load_file(tmp_path / "w.safetensors", device=device)
        assert on_cuda(loaded["w"], tg.float32).cpu().tolist() == weights["w"].cpu().tolist()
        assert on_cuda(loaded["b"], tg.int64).cpu().tolist() == [0, 1, 2]


@pytest.mark.skipif(REAL_GPU and tg.cuda.device_count() < 2, reason="needs two GPUs")
def test_set_device_chooses_the_gpu_that_plain_cuda_means():
    try:
        tg.cuda.set_device(1)
        assert tg.cuda.current_device() == 1 and tg.accelerator.current_device_index() == 1
        made = tg.zeros(2, device="cuda")
        assert made.device == tg.device("cuda:1") and made.array.device.id == 1
        assert tg.ones(2, device="cuda:0").device == tg.device("cuda:0")   # named ones stay
        with pytest.raises(RuntimeError, match="cuda:7 was asked for"):
            tg.cuda.set_device("cuda:7")
        with pytest.raises(ValueError, match="expected a cuda device, got cpu"):
            tg.cuda.set_device("cpu")
    finally:
        tg.cuda.set_device(0)
    assert tg.zeros(2, device="cuda").device == CUDA


def test_cuda_manual_seed_reseeds_the_gpu_draws_only():
    tg.manual_seed(5)
    cpu, gpu = tg.rand(4).tolist(), tg.rand(4, device="cuda").cpu().tolist()
    tg.manual_seed(5)
    tg.cuda.manual_seed_all(6)
    assert tg.rand(4).tolist() == cpu and tg.rand(4, device="cuda").cpu().tolist() != gpu
    tg.cuda.manual_seed(6)
    again = tg.rand(4, device="cuda").cpu().tolist()
    tg.cuda.manual_seed(6)
    assert tg.rand(4, device="cuda").cpu().tolist() == again
