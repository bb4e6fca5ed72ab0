"""tapegrad.save / tapegrad.load: what torch.save stores comes back, with its storage sharing."""
import collections
import io
import json
import math
import os
import zipfile

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import backend, nn, optim, serialization
from tapegrad.autograd.tensor import Tensor, wrap
from tapegrad.serialization import load, save


def assert_same_tensor(a, b):
    assert isinstance(b, Tensor)
    assert b.dtype is a.dtype
    assert tuple(b.shape) == tuple(a.shape)
    assert b.requires_grad == a.requires_grad
    assert b.is_leaf and b.grad_fn is None
    assert str(b.device) == "cpu"
    # Bit-identical, NaN payloads and -0.0 included.
    assert np.ascontiguousarray(b.array).tobytes() == np.ascontiguousarray(
        backend.to_numpy(a.array)).tobytes()


# -- tensors -----------------------------------------------------------------------------------

@pytest.mark.parametrize("make", [
    lambda: tg.randn(3, 4),
    lambda: tg.randn(2, 5, dtype=tg.float64),
    lambda: tg.tensor([[1, -2, 3], [2**40, 0, -(2**62)]], dtype=tg.int64),
    lambda: tg.tensor([1, -7], dtype=tg.int32),
    lambda: tg.tensor([1, -7], dtype=tg.int16),
    lambda: tg.tensor([1, -7], dtype=tg.int8),
    lambda: tg.tensor([True, False, True]),
    lambda: tg.tensor(3.5),                                   # 0-d
    lambda: tg.zeros(0, 3),                                   # no elements
    lambda: tg.tensor([-0.0, math.nan, math.inf, 1e-45], dtype=tg.float32),
    lambda: tg.tensor([1.5, -2.25], dtype=tg.float16),
    lambda: tg.tensor([0, 255], dtype=tg.uint8),
], ids=["float32", "float64", "int64", "int32", "int16", "int8", "bool", "0-d", "empty",
        "special-floats", "float16", "uint8"])
def test_every_dtype_round_trips_bit_for_bit(tmp_path, make):
    x = make()
    save(x, tmp_path / "x.pt")
    assert_same_tensor(x, load(tmp_path / "x.pt"))


def test_views_come_back_sharing_one_storage_with_their_strides(tmp_path):
    x = tg.arange(12.0).reshape(3, 4)
    views = {"x": x, "t": x.T, "rows": x[1:], "every_other": x[:, ::2], "row": x[2]}
    save(views, tmp_path / "v.pt")
    loaded = load(tmp_path / "v.pt")
    for name, view in views.items():
        assert loaded[name].tolist() == view.tolist()
        assert loaded[name].array.strides == view.array.strides  # the layout, not a copy
    loaded["x"][2, 0] = -1.0   # one storage: a write through one shows in the others
    assert loaded["t"][0, 2].item() == -1.0 and loaded["row"][0].item() == -1.0
    assert loaded["rows"][1, 0].item() == -1.0
    assert x[2, 0].item() == 8.0  # and it is not the saved tensor's memory


def test_each_storage_is_written_once(tmp_path):
    x = tg.randn(100, 100)
    save([x, x.T, x[10:20], x.detach()], tmp_path / "v.pt")
    with zipfile.ZipFile(tmp_path / "v.pt") as archive:
        data = [name for name in archive.namelist() if "/data/" in name]
    assert data == ["archive/data/0"]


def test_views_that_cannot_be_described_are_saved_as_copies(tmp_path):
    base = np.arange(10, dtype=np.float32)
    flipped = wrap(base[::-1], backend.CPU)  # negative strides: PyTorch layouts have none
    save({"flipped": flipped, "base": wrap(base, backend.CPU)}, tmp_path / "f.pt")
    loaded = load(tmp_path / "f.pt")
    assert loaded["flipped"].tolist() == base[::-1].tolist()
    assert not np.shares_memory(loaded["flipped"].array, loaded["base"].array)


def test_requires_grad_and_parameters_are_restored(tmp_path):
    w = tg.randn(2, 3, requires_grad=True)
    p = nn.Parameter(tg.randn(3))
    frozen = nn.Parameter(tg.randn(3), requires_grad=False)
    save({"w": w, "b": tg.zeros(3), "p": p, "frozen": frozen}, tmp_path / "p.pt")
    loaded = load(tmp_path / "p.pt")
    assert loaded["w"].requires_grad and loaded["w"].is_leaf
    assert not loaded["b"].requires_grad
    assert type(loaded["p"]) is nn.Parameter and loaded["p"].requires_grad
    assert type(loaded["frozen"]) is nn.Parameter and not loaded["frozen"].requires_grad
    assert loaded["p"].tolist() == p.tolist()


def test_a_result_of_an_operation_loads_as_a_leaf_that_requires_grad(tmp_path):
    x = tg.ones(2, requires_grad=True)
    save(x * 2, tmp_path / "y.pt")   # as torch.save: the values and the flag, not the graph
    y = load(tmp_path / "y.pt")
    assert y.tolist() == [2.0, 2.0] and y.requires_grad and y.is_leaf


def test_loaded_tensors_are_writable_and_independent_of_the_saved_ones(tmp_path):
    x = tg.tensor([1.0, 2.0])
    save(x, tmp_path / "x.pt")
    y = load(tmp_path / "x.pt")
    y.add_(1.0)
    assert y.tolist() == [2.0, 3.0] and x.tolist() == [1.0, 2.0]


# -- everything else torch.save stores ---------------------------------------------------------

def test_nested_checkpoint_round_trip(tmp_path):
    w = tg.randn(4, 3, requires_grad=True)
    checkpoint = {
        "epoch": 7, "best_loss": 0.125, "nan_metric": math.nan, "inf_metric": -math.inf,
        "big": 2**70, "done": False, "note": "réseau ✓ \"quoted\"", "scheduler": None,
        "model": collections.OrderedDict([("layers.0.weight", w), ("layers.0.bias", tg.zeros(4))]),
        "optimizer": {"state": {0: {"step": 3, "exp_avg": tg.ones(4, 3)}, 1: {"step": 3}},
                      "param_groups": [{"lr": 0.01, "betas": (0.9, 0.999), "params": [0, 1]}]},
        "history": [1, 2.5, "three", None, True, (4, (5, [6]))],
        "misc": {"bytes": b"\x00\xff", "set": {1, 2}, "frozen": frozenset([3]), "complex": 1 - 2j,
                 (1, 2): "tuple key", "dtype": tg.float16, "device": tg.device("cpu"),
                 "size": tg.Size([2, 3])},
    }
    save(checkpoint, tmp_path / "ckpt.pt")
    loaded = load(tmp_path / "ckpt.pt")
    assert list(loaded) == list(checkpoint)
    assert type(loaded["model"]) is collections.OrderedDict
    assert_same_tensor(w, loaded["model"]["layers.0.weight"])
    assert loaded["optimizer"]["state"][1] == {"step": 3}
    assert loaded["optimizer"]["param_groups"][0]["betas"] == (0.9, 0.999)
    assert loaded["history"] == checkpoint["history"]
    assert math.isnan(loaded["nan_metric"]) and loaded["big"] == 2**70
    misc = loaded["misc"]
    assert misc["bytes"] == b"\x00\xff" and misc["set"] == {1, 2}
    assert misc["frozen"] == frozenset([3]) and misc["complex"] == 1 - 2j
    assert misc[(1, 2)] == "tuple key" and misc["dtype"] is tg.float16
    assert misc["device"] == tg.device("cpu") and type(misc["size"]) is tg.Size
    assert misc["size"] == (2, 3)


def test_numpy_arrays_and_scalars_need_weights_only_false_as_in_pytorch(tmp_path):
    save({"a": np.arange(3.0), "s": np.float32(2.5)}, tmp_path / "n.pt")
    with pytest.raises(Exception, match="numpy"):
        load(tmp_path / "n.pt")
    loaded = load(tmp_path / "n.pt", weights_only=False)
    assert isinstance(loaded["a"], np.ndarray) and loaded["a"].tolist() == [0.0, 1.0, 2.0]
    assert loaded["s"] == np.float32(2.5)


def test_numpy_arrays_load_weights_only_once_their_globals_are_allowed(tmp_path):
    array = np.arange(6, dtype=np.int64).reshape(2, 3)
    save({"a": array}, tmp_path / "n.pt")
    needed = serialization.get_unsafe_globals_in_checkpoint(tmp_path / "n.pt")
    assert needed[0].endswith("multiarray._reconstruct") and "numpy.ndarray" in needed
    reconstruct = np.zeros(1).__reduce__()[0]
    with serialization.safe_globals([reconstruct, np.ndarray, np.dtype, type(array.dtype)]):
        assert np.array_equal(load(tmp_path / "n.pt")["a"], array)


def test_a_container_holding_itself_round_trips(tmp_path):
    loop = [1]
    loop.append(loop)
    save(loop, tmp_path / "loop.pt")
    loaded = load(tmp_path / "loop.pt")
    assert loaded[0] == 1 and loaded[1] is loaded


def test_a_whole_module_round_trips_with_weights_only_false(tmp_path):
    tg.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU(), nn.Flatten(),
                          nn.Linear(2 * 4 * 4, 3))
    model.eval()
    x = tg.randn(2, 1, 6, 6)
    save(model, tmp_path / "model.pt")
    with pytest.raises(Exception, match=r"tapegrad\.nn\.containers\.Sequential"):
        load(tmp_path / "model.pt")   # as in PyTorch: a whole Module is code, not weights
    loaded = load(tmp_path / "model.pt", weights_only=False)
    assert type(loaded) is nn.Sequential and not loaded.training
    assert repr(loaded) == repr(model)
    assert np.array_equal(loaded(x).detach().numpy(), model(x).detach().numpy())
    assert all(type(p) is nn.Parameter and p.requires_grad for p in loaded.parameters())
    loaded(x).sum().backward()   # trains as before
    assert loaded[0].weight.grad is not None


def test_tied_parameters_stay_tied(tmp_path):
    model = nn.Sequential(nn.Linear(4, 4, bias=False), nn.Linear(4, 4, bias=False))
    model[1].weight = model[0].weight
    save(model, tmp_path / "tied.pt")
    loaded = load(tmp_path / "tied.pt", weights_only=False)
    assert loaded[1].weight is loaded[0].weight


def test_optimizer_and_scheduler_states_resume_training(tmp_path):
    def make():
        tg.manual_seed(1)
        model = nn.Linear(3, 2)
        optimizer = optim.Adam(model.parameters(), lr=0.1)
        return model, optimizer, optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)

    def step(model, optimizer, scheduler):
        optimizer.zero_grad()
        model(tg.ones(4, 3)).pow(2).sum().backward()
        optimizer.step()
        scheduler.step()

    model, optimizer, scheduler = make()
    for _ in range(3):
        step(model, optimizer, scheduler)
    save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
          "scheduler": scheduler.state_dict()}, tmp_path / "ckpt.pt")
    step(model, optimizer, scheduler)

    resumed, resumed_optimizer, resumed_scheduler = make()
    checkpoint = load(tmp_path / "ckpt.pt")   # weights only: these are plain data
    resumed.load_state_dict(checkpoint["model"])
    resumed_optimizer.load_state_dict(checkpoint["optimizer"])
    resumed_scheduler.load_state_dict(checkpoint["scheduler"])
    step(resumed, resumed_optimizer, resumed_scheduler)
    assert resumed.weight.tolist() == model.weight.tolist()
    assert resumed_optimizer.param_groups[0]["lr"] == optimizer.param_groups[0]["lr"]


def test_an_unpicklable_object_raises_before_any_file_is_made(tmp_path):
    with pytest.raises(Exception, match="lambda"):
        save({"fn": lambda: 0, "w": tg.ones(2)}, tmp_path / "x.pt")
    assert list(tmp_path.iterdir()) == []


# -- map_location ------------------------------------------------------------------------------

def test_map_location_accepts_what_pytorch_accepts(tmp_path):
    x = tg.randn(2, 3, requires_grad=True)
    save({"x": x, "t": x.T}, tmp_path / "x.pt")
    seen = []

    def keep_on_cpu(storage, location):
        seen.append((tuple(storage.shape), location))
        return storage

    for location in [None, "cpu", tg.device("cpu"), {"cuda:0": "cpu"}, keep_on_cpu,
                     lambda storage, location: None]:
        y = load(tmp_path / "x.pt", map_location=location)
        assert str(y["x"].device) == "cpu" and y["x"].requires_grad and y["x"].is_leaf
        assert y["t"].tolist() == x.T.tolist()
        assert np.shares_memory(y["x"].array, y["t"].array)
    assert seen == [((6,), "cpu")]   # called once per storage, with its saved location


def test_bad_map_location_is_refused_before_reading(tmp_path):
    save(tg.ones(2), tmp_path / "x.pt")
    with pytest.raises(TypeError, match="map_location"):
        load(tmp_path / "x.pt", map_location=3)
    with pytest.raises(ValueError, match="'tpu'"):
        load(tmp_path / "x.pt", map_location="tpu")
    with pytest.raises(TypeError, match="map_location returned"):
        load(tmp_path / "x.pt", map_location=lambda storage, location: "cpu")


class FakeGpuArray:
    """Just enough of a cupy array for save(): the host copy comes from .get()."""

    def __init__(self, host):
        self.host = host
        self.shape, self.dtype, self.ndim, self.size = host.shape, host.dtype, host.ndim, host.size

    def get(self):
        return self.host.copy()


def test_gpu_tensors_save_host_bytes_and_need_map_location_without_a_gpu(tmp_path, monkeypatch):
    host = np.arange(6, dtype=np.float32).reshape(2, 3)
    x = wrap(FakeGpuArray(host), tg.device("cuda:1"), requires_grad=True)
    save({"x": x}, tmp_path / "gpu.pt")
    monkeypatch.setattr(backend.cuda, "is_available", lambda: False)
    with pytest.raises(RuntimeError, match=r"saved on 'cuda:1'.*map_location='cpu'"):
        load(tmp_path / "gpu.pt")   # as in PyTorch: tensors go back where they were saved
    for location in ["cpu", {"cuda:1": "cpu"}, lambda storage, location: storage]:
        y = load(tmp_path / "gpu.pt", map_location=location)["x"]
        assert str(y.device) == "cpu" and y.tolist() == host.tolist() and y.requires_grad


@pytest.mark.cuda
@pytest.mark.skipif(not tg.cuda.is_available(), reason="needs a CUDA GPU")
def test_real_gpu_tensor_round_trip(tmp_path):
    x = tg.randn(3, 4, device="cuda", requires_grad=True)
    save({"x": x, "t": x.T}, tmp_path / "gpu.pt")
    on_gpu = load(tmp_path / "gpu.pt")   # back on the device it was saved from
    assert on_gpu["x"].device == x.device and on_gpu["x"].requires_grad and on_gpu["x"].is_leaf
    assert backend.to_numpy(on_gpu["t"].array).tolist() == backend.to_numpy(x.array).T.tolist()
    on_cpu = load(tmp_path / "gpu.pt", map_location="cpu")
    assert str(on_cpu["x"].device) == "cpu" and on_cpu["x"].requires_grad
    assert on_cpu["x"].array.tobytes() == backend.to_numpy(x.array).tobytes()


# -- PyTorch's other arguments -----------------------------------------------------------------

def test_mmap_maps_storages_copy_on_write(tmp_path):
    x = tg.arange(1000.0).reshape(10, 100)
    save({"x": x, "t": x.T, "empty": tg.zeros(0)}, tmp_path / "m.pt")
    before = (tmp_path / "m.pt").read_bytes()
    loaded = load(tmp_path / "m.pt", mmap=True)
    assert isinstance(loaded["x"].array.base, np.memmap)
    assert loaded["x"].tolist() == x.tolist() and loaded["t"].tolist() == x.T.tolist()
    loaded["x"][0, 0] = -5.0
    assert loaded["t"][0, 0].item() == -5.0                  # views still share memory
    assert (tmp_path / "m.pt").read_bytes() == before        # and the file is untouched
    with pytest.raises(ValueError, match="mmap=True needs a file on disk"):
        load(io.BytesIO(before), mmap=True)


def test_pickle_module_follows_pytorch(tmp_path):
    import pickle
    save(nn.Linear(2, 2), tmp_path / "m.pt", pickle)     # torch.save's third argument
    # As in PyTorch, naming a pickle_module means weights_only=False unless said otherwise.
    assert isinstance(load(tmp_path / "m.pt", None, pickle), nn.Linear)
    with pytest.raises(RuntimeError, match="explicit pickle_module"):
        load(tmp_path / "m.pt", pickle_module=pickle, weights_only=True)
    with pytest.raises(NotImplementedError, match="pickle_module"):
        save(tg.ones(1), tmp_path / "x.pt", pickle_module=json)
    with pytest.raises(NotImplementedError, match="zip format only"):
        save(tg.ones(1), tmp_path / "x.pt", _use_new_zipfile_serialization=False)


# -- files -------------------------------------------------------------------------------------

def test_file_objects(tmp_path):
    buffer = io.BytesIO()
    save({"x": tg.tensor([1.0, 2.0])}, buffer)
    buffer.seek(0)
    assert load(buffer)["x"].tolist() == [1.0, 2.0]
    with open(tmp_path / "x.pt", "wb") as file:
        save(tg.tensor([3]), file)
    with open(tmp_path / "x.pt", "rb") as file:
        assert load(file).tolist() == [3]
    with pytest.raises(TypeError, match="path or"):
        save(tg.tensor([1]), 42)
    with pytest.raises(TypeError, match="path or"):
        load(42)


def test_saving_to_a_stream_that_cannot_seek(tmp_path):
    class Pipe(io.RawIOBase):   # write-only, like a socket or a pipe
        def __init__(self):
            self.received = bytearray()

        def writable(self):
            return True

        def write(self, data):
            self.received += bytes(data)
            return len(data)

    pipe = Pipe()
    save({"w": tg.arange(5.0), "step": 2}, pipe)
    loaded = load(io.BytesIO(bytes(pipe.received)))
    assert loaded["w"].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0] and loaded["step"] == 2


def test_file_layout_is_pytorchs(tmp_path):
    """A zip of records under one folder, storages aligned to 64 bytes for memory mapping."""
    save({"w": tg.randn(5, 3), "step": 1}, tmp_path / "x.pt")
    with zipfile.ZipFile(tmp_path / "x.pt") as archive:
        assert archive.namelist() == ["archive/data.pkl", "archive/byteorder",
                                      "archive/data/0", "archive/version"]
        assert all(info.compress_type == zipfile.ZIP_STORED for info in archive.infolist())
        assert archive.read("archive/byteorder") == b"little"
        assert archive.read("archive/version") == b"3\n"
        info = archive.getinfo("archive/data/0")
    raw = (tmp_path / "x.pt").read_bytes()
    name_length, extra_length = np.frombuffer(raw[info.header_offset + 26:info.header_offset + 30],
                                              dtype="<u2")
    data_start = info.header_offset + 30 + name_length + extra_length
    assert data_start % 64 == 0 and info.file_size == 5 * 3 * 4


def test_saving_twice_gives_identical_bytes(tmp_path):
    state = {"w": tg.randn(3, 3), "step": 1}
    save(state, tmp_path / "a.pt")
    save(state, tmp_path / "b.pt")
    assert (tmp_path / "a.pt").read_bytes() == (tmp_path / "b.pt").read_bytes()


def test_pickle_protocol(tmp_path):
    save({"w": tg.ones(2)}, tmp_path / "p4.pt", pickle_protocol=4)
    assert load(tmp_path / "p4.pt")["w"].tolist() == [1.0, 1.0]
    with pytest.raises(ValueError, match="pickle_protocol"):
        save(tg.ones(2), tmp_path / "p1.pt", pickle_protocol=1)


# -- atomic saving -----------------------------------------------------------------------------

def test_saved_file_has_normal_permissions(tmp_path):
    save(tg.tensor([1]), tmp_path / "x.pt")
    umask = os.umask(0o022)
    os.umask(umask)
    assert (tmp_path / "x.pt").stat().st_mode & 0o777 == 0o666 & ~umask


def test_failed_save_leaves_previous_file_and_no_temp_files(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.pt"
    save({"epoch": 1, "w": tg.ones(3)}, path)
    before = path.read_bytes()
    from tapegrad.serialization import torch_zip
    real_write_record = torch_zip._write_record
    calls = []

    def write_then_fail(archive, name, data):
        calls.append(name)
        if name.startswith("data/"):
            raise OSError("disk full (simulated)")
        real_write_record(archive, name, data)

    monkeypatch.setattr(torch_zip, "_write_record", write_then_fail)
    with pytest.raises(OSError, match="disk full"):
        save({"epoch": 2, "w": tg.zeros(3)}, path)
    assert calls[:2] == ["data.pkl", "byteorder"]  # it failed part-way, bytes already written
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt.pt"]
    monkeypatch.undo()
    assert load(path)["epoch"] == 1


def test_failed_replace_leaves_no_temp_files(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.pt"
    save(tg.ones(2), path)
    before = path.read_bytes()

    def fail(*args):
        raise KeyboardInterrupt  # even an interrupt at the last moment cleans up

    monkeypatch.setattr(serialization.atomic_file.os, "replace", fail)
    with pytest.raises(KeyboardInterrupt):
        save(tg.zeros(2), path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt.pt"]


def test_save_replaces_existing_file_and_follows_symlinks(tmp_path):
    real = tmp_path / "real.pt"
    link = tmp_path / "link.pt"
    save(tg.tensor([1]), real)
    link.symlink_to(real)
    save(tg.tensor([2]), link)
    assert link.is_symlink()
    assert load(real).tolist() == [2]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.pt", "real.pt"]


def test_save_into_missing_directory_fails_cleanly(tmp_path):
    with pytest.raises(FileNotFoundError):
        save(tg.tensor([1]), tmp_path / "missing" / "x.pt")
    assert list(tmp_path.iterdir()) == []


def test_pathlike_is_accepted(tmp_path):
    class MyPath:
        def __fspath__(self):
            return str(tmp_path / "custom.pt")

    save(tg.tensor([5]), MyPath())
    assert load(MyPath()).tolist() == [5]
