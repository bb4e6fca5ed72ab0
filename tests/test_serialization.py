"""tapegrad.save / tapegrad.load: round trips, refusing unsafe or corrupt files, atomic saving."""
import io
import json
import math
import os
import pickle
import zipfile

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import backend, serialization
from tapegrad.autograd.tensor import Tensor, wrap
from tapegrad.serialization import UnsafeOrCorruptFile, load, save


def assert_same_tensor(a, b):
    assert isinstance(b, Tensor)
    assert b.dtype is a.dtype
    assert tuple(b.shape) == tuple(a.shape)
    assert b.requires_grad == a.requires_grad
    assert b.is_leaf and b.grad_fn is None
    assert str(b.device) == "cpu"
    # Bit-identical, NaN payloads and -0.0 included.
    expected = np.ascontiguousarray(backend.to_numpy(a.array))
    assert b.array.tobytes() == expected.tobytes()


# -- round trips -------------------------------------------------------------------------------

@pytest.mark.parametrize("make", [
    lambda: tg.randn(3, 4),
    lambda: tg.randn(2, 5, dtype=tg.float64),
    lambda: tg.tensor([[1, -2, 3], [2**40, 0, -(2**62)]], dtype=tg.int64),
    lambda: tg.tensor([True, False, True]),
    lambda: tg.tensor(3.5),                                   # 0-d
    lambda: tg.zeros(0, 3),                                   # no elements
    lambda: tg.tensor([-0.0, math.nan, math.inf, 1e-45], dtype=tg.float32),
    lambda: tg.tensor([1.5, -2.25], dtype=tg.float16),
    lambda: tg.tensor([0, 255], dtype=tg.uint8),
], ids=["float32", "float64", "int64", "bool", "0-d", "empty", "special-floats", "float16",
        "uint8"])
def test_single_tensor_round_trip(tmp_path, make):
    x = make()
    save(x, tmp_path / "x.tg")
    assert_same_tensor(x, load(tmp_path / "x.tg"))


def test_non_contiguous_tensor(tmp_path):
    base = np.arange(12, dtype=np.float32).reshape(3, 4)
    x = wrap(base.T, backend.CPU)  # a transposed view: Fortran-ordered, not C-contiguous
    assert not x.array.flags.c_contiguous
    save(x, tmp_path / "x.tg")
    y = load(tmp_path / "x.tg")
    assert tuple(y.shape) == (4, 3)
    assert np.array_equal(y.array, base.T)
    assert y.array.flags.c_contiguous


def test_strided_slice(tmp_path):
    base = np.arange(20, dtype=np.int64)
    save(wrap(base[::3], backend.CPU), str(tmp_path / "x.tg"))  # str paths work too
    assert np.array_equal(load(str(tmp_path / "x.tg")).array, base[::3])


def test_requires_grad_is_restored(tmp_path):
    w = tg.randn(2, 3, requires_grad=True)
    b = tg.zeros(3)
    save({"w": w, "b": b}, tmp_path / "p.tg")
    loaded = load(tmp_path / "p.tg")
    assert loaded["w"].requires_grad and loaded["w"].is_leaf
    assert not loaded["b"].requires_grad
    assert_same_tensor(w, loaded["w"])


def test_loaded_tensor_is_independent_and_writable(tmp_path):
    x = tg.tensor([1.0, 2.0])
    save(x, tmp_path / "x.tg")
    y = load(tmp_path / "x.tg")
    assert y.array.flags.writeable
    y.array[0] = 7.0
    assert x.array[0] == 1.0


def test_nested_checkpoint_round_trip(tmp_path):
    w = tg.randn(4, 3, requires_grad=True)
    checkpoint = {
        "epoch": 7,
        "best_loss": 0.125,
        "lr": 1e-3,
        "nan_metric": math.nan,
        "inf_metric": -math.inf,
        "big": 2**70,
        "done": False,
        "note": "réseau ✓ \"quoted\"",
        "scheduler": None,
        "model": {"layers.0.weight": w, "layers.0.bias": tg.zeros(4)},
        "optimizer": {
            "state": {0: {"step": 3, "exp_avg": tg.ones(4, 3)}, 1: {"step": 3}},
            "param_groups": [{"lr": 0.01, "betas": (0.9, 0.999), "params": [0, 1]}],
        },
        "history": [1, 2.5, "three", None, True, (4, (5, [6]))],
        "empty": {"dict": {}, "list": [], "tuple": ()},
    }
    save(checkpoint, tmp_path / "ckpt.tg")
    loaded = load(tmp_path / "ckpt.tg")

    assert list(loaded) == list(checkpoint)  # key order survives
    assert loaded["epoch"] == 7 and type(loaded["epoch"]) is int
    assert loaded["best_loss"] == 0.125 and type(loaded["best_loss"]) is float
    assert loaded["lr"] == 1e-3
    assert math.isnan(loaded["nan_metric"]) and loaded["inf_metric"] == -math.inf
    assert loaded["big"] == 2**70
    assert loaded["done"] is False and loaded["scheduler"] is None
    assert loaded["note"] == checkpoint["note"]
    assert_same_tensor(w, loaded["model"]["layers.0.weight"])
    assert_same_tensor(checkpoint["model"]["layers.0.bias"], loaded["model"]["layers.0.bias"])

    state = loaded["optimizer"]["state"]
    assert list(state) == [0, 1] and all(type(k) is int for k in state)  # int keys stay ints
    assert state[1] == {"step": 3}
    assert_same_tensor(checkpoint["optimizer"]["state"][0]["exp_avg"], state[0]["exp_avg"])
    group = loaded["optimizer"]["param_groups"][0]
    assert group["betas"] == (0.9, 0.999) and type(group["betas"]) is tuple
    assert group["params"] == [0, 1] and type(group["params"]) is list

    history = loaded["history"]
    assert history == [1, 2.5, "three", None, True, (4, (5, [6]))]
    assert type(history[5]) is tuple and type(history[5][1]) is tuple
    assert type(history[5][1][1]) is list
    assert history[4] is True
    assert loaded["empty"] == {"dict": {}, "list": [], "tuple": ()}
    assert type(loaded["empty"]["tuple"]) is tuple


def test_plain_values_at_the_top(tmp_path):
    for value in [None, 3, "text", (1, 2), [], {"a": (tg.tensor([1]),)}]:
        save(value, tmp_path / "v.tg")
        loaded = load(tmp_path / "v.tg")
        assert type(loaded) is type(value)
    assert load(tmp_path / "v.tg")["a"][0].array.tolist() == [1]


def test_same_tensor_twice(tmp_path):
    x = tg.randn(3)
    save([x, x], tmp_path / "x.tg")
    a, b = load(tmp_path / "x.tg")
    assert_same_tensor(x, a)
    assert_same_tensor(x, b)


def test_map_location(tmp_path):
    x = tg.randn(2, requires_grad=True)
    save(x, tmp_path / "x.tg")
    for location in [None, "cpu", tg.device("cpu")]:
        y = load(tmp_path / "x.tg", map_location=location)
        assert str(y.device) == "cpu" and y.requires_grad and y.is_leaf
    with pytest.raises(TypeError, match="map_location"):
        load(tmp_path / "x.tg", map_location=3)


class FakeGpuArray:
    """Just enough of a cupy array for save(): the host copy comes from .get()."""

    def __init__(self, host):
        self.host = host
        self.shape, self.dtype, self.ndim = host.shape, host.dtype, host.ndim

    def get(self):
        return self.host.copy()


def test_tensor_saved_from_gpu_loads_on_cpu(tmp_path):
    host = np.arange(6, dtype=np.float32).reshape(2, 3)
    x = wrap(FakeGpuArray(host), tg.device("cuda:1"), requires_grad=True)
    save({"x": x}, tmp_path / "gpu.tg")
    with zipfile.ZipFile(tmp_path / "gpu.tg") as archive:
        assert json.loads(archive.read("index.json"))["root"]["items"][0][1]["device"] == "cuda:1"
    y = load(tmp_path / "gpu.tg")["x"]
    assert str(y.device) == "cpu" and isinstance(y.array, np.ndarray)
    assert np.array_equal(y.array, host) and y.requires_grad


@pytest.mark.cuda
@pytest.mark.skipif(not tg.cuda.is_available(), reason="needs a CUDA GPU")
def test_real_gpu_tensor_round_trip(tmp_path):
    x = tg.randn(3, 4, device="cuda", requires_grad=True)
    save({"x": x}, tmp_path / "gpu.tg")
    on_cpu = load(tmp_path / "gpu.tg")["x"]
    assert str(on_cpu.device) == "cpu" and on_cpu.requires_grad and on_cpu.is_leaf
    assert on_cpu.array.tobytes() == backend.to_numpy(x.array).tobytes()
    on_gpu = load(tmp_path / "gpu.tg", map_location="cuda:0")["x"]
    assert str(on_gpu.device) == "cuda:0" and on_gpu.requires_grad and on_gpu.is_leaf
    assert backend.to_numpy(on_gpu.array).tobytes() == on_cpu.array.tobytes()


def test_file_objects(tmp_path):
    buffer = io.BytesIO()
    save({"x": tg.tensor([1.0, 2.0])}, buffer)
    buffer.seek(0)
    assert load(buffer)["x"].array.tolist() == [1.0, 2.0]
    with open(tmp_path / "x.tg", "wb") as file:
        save(tg.tensor([3]), file)
    with open(tmp_path / "x.tg", "rb") as file:
        assert load(file).array.tolist() == [3]
    with pytest.raises(TypeError, match="path or"):
        save(tg.tensor([1]), 42)
    with pytest.raises(TypeError, match="path or"):
        load(42)


def test_file_layout_and_index(tmp_path):
    """The format is what the module docstring promises, so other tools can read it."""
    x = tg.randn(2, 3, requires_grad=True)
    save({"x": x, "n": 1}, tmp_path / "x.tg")
    with zipfile.ZipFile(tmp_path / "x.tg") as archive:
        assert archive.namelist() == ["index.json", "tensors/0.npy"]
        assert all(info.compress_type == zipfile.ZIP_STORED for info in archive.infolist())
        index = json.loads(archive.read("index.json"))
        array = np.load(io.BytesIO(archive.read("tensors/0.npy")), allow_pickle=False)
    assert index["format"] == "tapegrad.save" and index["version"] == 1
    assert index["root"] == {"kind": "dict", "items": [
        ["x", {"kind": "tensor", "file": "tensors/0.npy", "dtype": "float32", "shape": [2, 3],
               "requires_grad": True, "device": "cpu"}],
        ["n", 1]]}
    assert array.tobytes() == x.array.tobytes()


def test_saving_twice_gives_identical_bytes(tmp_path):
    state = {"w": tg.randn(3, 3), "step": 1}
    save(state, tmp_path / "a.tg")
    save(state, tmp_path / "b.tg")
    assert (tmp_path / "a.tg").read_bytes() == (tmp_path / "b.tg").read_bytes()


def test_saved_file_has_normal_permissions(tmp_path):
    save(tg.tensor([1]), tmp_path / "x.tg")
    umask = os.umask(0o022)
    os.umask(umask)
    assert (tmp_path / "x.tg").stat().st_mode & 0o777 == 0o666 & ~umask


# -- unsupported objects -----------------------------------------------------------------------

@pytest.mark.parametrize("bad, type_name", [
    ({1, 2}, "set"),
    (object(), "object"),
    (lambda: 0, "function"),
    (np.zeros(2), "ndarray"),
    (np.float32(1.0), "float32"),
    (b"bytes", "bytes"),
])
def test_unsupported_object_names_type_and_place(tmp_path, bad, type_name):
    state = {"epoch": 1, "layers": [tg.zeros(1), tg.zeros(1), bad]}
    with pytest.raises(TypeError, match=rf"{type_name}.*obj\['layers'\]\[2\]"):
        save(state, tmp_path / "x.tg")
    assert list(tmp_path.iterdir()) == []  # nothing was created


def test_unsupported_dict_key(tmp_path):
    with pytest.raises(TypeError, match=r"obj\['opt'\] has the key \(1, 2\) of type tuple"):
        save({"opt": {(1, 2): 3}}, tmp_path / "x.tg")
    with pytest.raises(TypeError, match="bool"):
        save({True: 3}, tmp_path / "x.tg")
    assert list(tmp_path.iterdir()) == []


def test_container_holding_itself(tmp_path):
    loop = [1]
    loop.append(loop)
    with pytest.raises(TypeError, match=r"obj\[1\]: it contains itself"):
        save(loop, tmp_path / "x.tg")
    assert list(tmp_path.iterdir()) == []


# -- refusing unsafe or corrupt files ----------------------------------------------------------

def test_pickle_file_is_refused(tmp_path):
    path = tmp_path / "model.pt"
    with open(path, "wb") as file:
        pickle.dump({"w": [1.0, 2.0]}, file)
    with pytest.raises(UnsafeOrCorruptFile, match=r"model\.pt.*pickle file.*arbitrary code"):
        load(path)


def test_torch_style_zip_checkpoint_is_refused(tmp_path):
    path = tmp_path / "model.pt"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", pickle.dumps({"w": 1}))
        archive.writestr("archive/version", "3\n")
    with pytest.raises(UnsafeOrCorruptFile, match=r"model\.pt.*PyTorch checkpoint.*pickled"):
        load(path)


def test_truncated_file_is_refused(tmp_path):
    path = tmp_path / "ckpt.tg"
    save({"w": tg.randn(50, 50), "epoch": 3}, path)
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    with pytest.raises(UnsafeOrCorruptFile, match=r"ckpt\.tg.*not a zip archive.*truncated"):
        load(path)


def test_every_truncation_and_bit_flip_is_refused_cleanly(tmp_path):
    """Whatever is wrong with a file, load raises UnsafeOrCorruptFile and nothing else."""
    path = tmp_path / "small.tg"
    save({"w": tg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True), "step": (1, [2])}, path)
    data = path.read_bytes()
    for cut in range(len(data)):
        path.write_bytes(data[:cut])
        with pytest.raises(UnsafeOrCorruptFile):
            load(path)
    rng = np.random.default_rng(0)
    for position in rng.choice(len(data), size=min(len(data), 300), replace=False):
        corrupt = bytearray(data)
        corrupt[position] ^= 0x41
        path.write_bytes(bytes(corrupt))
        try:
            load(path)  # a flip in a field zipfile ignores (e.g. a timestamp) is harmless
        except UnsafeOrCorruptFile:
            pass
    assert sorted(p.name for p in tmp_path.iterdir()) == ["small.tg"]


def test_random_bytes_are_refused(tmp_path):
    path = tmp_path / "noise.bin"
    noise = np.random.default_rng(1).integers(0, 256, size=4096, dtype=np.uint8).tobytes()
    assert noise[0] != 0x80  # so it cannot look like a pickle
    path.write_bytes(noise)
    with pytest.raises(UnsafeOrCorruptFile, match=r"noise\.bin.*not a zip archive"):
        load(path)


def test_empty_file_is_refused(tmp_path):
    (tmp_path / "empty.tg").write_bytes(b"")
    with pytest.raises(UnsafeOrCorruptFile, match="not a zip archive"):
        load(tmp_path / "empty.tg")


def write_zip(path, members, index=None):
    """A zip made by hand: ``members`` maps names to bytes; ``index`` is dumped as index.json."""
    with zipfile.ZipFile(path, "w") as archive:
        if index is not None:
            archive.writestr("index.json", json.dumps(index))
        for name, data in members.items():
            archive.writestr(name, data)


def npy_bytes(array):
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def tensor_index(file, dtype="float32", shape=(2,)):
    return {"format": "tapegrad.save", "version": 1,
            "root": {"kind": "tensor", "file": file, "dtype": dtype, "shape": list(shape),
                     "requires_grad": False, "device": "cpu"}}


def test_path_traversal_member_is_refused(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    path = work / "evil.tg"
    write_zip(path, {"../x.npy": npy_bytes(np.zeros(2, np.float32))}, tensor_index("../x.npy"))
    with pytest.raises(UnsafeOrCorruptFile, match=r"evil\.tg.*unsafe name '\.\./x\.npy'"):
        load(path)
    assert not (tmp_path / "x.npy").exists()
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["evil.tg", "work"]


def test_absolute_member_name_is_refused(tmp_path):
    path = tmp_path / "evil.tg"
    write_zip(path, {"/tmp/x.npy": npy_bytes(np.zeros(2, np.float32))},
              tensor_index("/tmp/x.npy"))
    with pytest.raises(UnsafeOrCorruptFile, match=r"unsafe name '/tmp/x\.npy'"):
        load(path)


def test_zip_without_index_is_refused(tmp_path):
    path = tmp_path / "arrays.npz"
    np.savez(path, a=np.zeros(3))
    with pytest.raises(UnsafeOrCorruptFile, match=r"arrays\.npz.*no index\.json"):
        load(path)


def test_member_not_in_index_is_refused(tmp_path):
    path = tmp_path / "extra.tg"
    write_zip(path, {"tensors/0.npy": npy_bytes(np.zeros(2, np.float32)),
                     "payload.sh": b"rm -rf /"}, tensor_index("tensors/0.npy"))
    with pytest.raises(UnsafeOrCorruptFile, match=r"not in the index: \['payload\.sh'\]"):
        load(path)


def test_index_naming_a_missing_member_is_refused(tmp_path):
    path = tmp_path / "missing.tg"
    write_zip(path, {}, tensor_index("tensors/0.npy"))
    with pytest.raises(UnsafeOrCorruptFile, match=r"refers to 'tensors/0\.npy'.*not in the arch"):
        load(path)


def test_object_dtype_npy_is_refused(tmp_path):
    path = tmp_path / "objects.tg"
    objects = np.array([{"a": 1}, None], dtype=object)
    write_zip(path, {"tensors/0.npy": npy_bytes(objects)}, tensor_index("tensors/0.npy"))
    with pytest.raises(UnsafeOrCorruptFile, match=r"tensors/0\.npy.*object dtype"):
        load(path)


def test_npy_disagreeing_with_index_is_refused(tmp_path):
    path = tmp_path / "liar.tg"
    write_zip(path, {"tensors/0.npy": npy_bytes(np.zeros(10**6, np.float64))},
              tensor_index("tensors/0.npy", dtype="float32", shape=(2,)))
    with pytest.raises(UnsafeOrCorruptFile, match="but the index says float32 of shape"):
        load(path)


def test_npy_promising_more_data_than_the_file_holds_is_refused(tmp_path):
    path = tmp_path / "huge.tg"
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": (10**12,)})
    write_zip(path, {"tensors/0.npy": header.getvalue() + bytes(16)},
              tensor_index("tensors/0.npy", dtype="float64", shape=(10**12,)))
    with pytest.raises(UnsafeOrCorruptFile, match="header promises 8000000000000 bytes"):
        load(path)  # refused before trying to allocate 8 TB


def test_hand_made_file_loads(tmp_path):
    """Any zip tool plus numpy can write the format; Fortran-ordered .npy files are fine too."""
    path = tmp_path / "hand.tg"
    fortran = np.asfortranarray(np.arange(6, dtype=np.float64).reshape(2, 3))
    write_zip(path, {"w.npy": npy_bytes(fortran)},
              {"format": "tapegrad.save", "version": 1,
               "root": {"kind": "dict", "items": [[0, {
                   "kind": "tensor", "file": "w.npy", "dtype": "float64", "shape": [2, 3],
                   "requires_grad": True, "device": "cuda:3"}]]}})
    w = load(path)[0]
    assert np.array_equal(w.array, fortran) and w.requires_grad and str(w.device) == "cpu"


def test_compressed_member_is_refused(tmp_path):
    path = tmp_path / "deflated.tg"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("index.json", json.dumps(tensor_index("tensors/0.npy")))
        archive.writestr("tensors/0.npy", npy_bytes(np.zeros(2, np.float32)))
    with pytest.raises(UnsafeOrCorruptFile, match="is compressed"):
        load(path)


@pytest.mark.parametrize("index, message", [
    ({"format": "something.else", "version": 1, "root": None}, "does not say format"),
    ({"format": "tapegrad.save", "version": 99, "root": None}, "version 99.*newer"),
    ({"format": "tapegrad.save", "version": 1}, "unexpected keys"),
    ({"format": "tapegrad.save", "version": 1, "root": {"kind": "set", "items": []}},
     "malformed at root: unknown kind 'set'"),
    ({"format": "tapegrad.save", "version": 1, "root": {"kind": "list"}},
     "malformed at root: a list node has the keys"),
    ({"format": "tapegrad.save", "version": 1,
      "root": {"kind": "dict", "items": [["a", {"kind": "list", "items": 5}]]}},
     r"malformed at root\['a'\]: 'items' is not a list"),
    ({"format": "tapegrad.save", "version": 1, "root": {"kind": "dict", "items": [[[1], 2]]}},
     "must be a \\[key, value\\] pair"),
    ({"format": "tapegrad.save", "version": 1, "root": {"kind": "dict", "items": [[1, 2], [1, 3]]}},
     "key 1 appears twice"),
    ({"format": "tapegrad.save", "version": 1, "root": [1, 2]}, "expected a value or an object"),
    ({"format": "tapegrad.save", "version": 1, "root": {"kind": "float", "value": "1e999"}},
     "bad float"),
    (tensor_index("tensors/0.npy", dtype="object"), "unknown dtype 'object'"),
    (tensor_index("tensors/0.npy", shape=(-1,)), "shape must be a list of non-negative"),
], ids=lambda value: value if isinstance(value, str) else None)
def test_malformed_index_is_refused(tmp_path, index, message):
    path = tmp_path / "bad.tg"
    write_zip(path, {}, index)
    with pytest.raises(UnsafeOrCorruptFile, match=rf"bad\.tg.*{message}"):
        load(path)


def test_index_that_is_not_json_is_refused(tmp_path):
    path = tmp_path / "bad.tg"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("index.json", b'{"format": NaN')
    with pytest.raises(UnsafeOrCorruptFile, match="index.json is not valid JSON"):
        load(path)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("index.json", b"[" * 100_000 + b"]" * 100_000)
    with pytest.raises(UnsafeOrCorruptFile, match="index.json"):
        load(path)


# -- atomic saving -----------------------------------------------------------------------------

def test_failed_save_leaves_previous_file_and_no_temp_files(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.tg"
    save({"epoch": 1, "w": tg.ones(3)}, path)
    before = path.read_bytes()

    calls = []

    def write_half_then_fail(file, array, allow_pickle=True):
        calls.append(array.shape)
        if len(calls) == 2:
            raise OSError("disk full (simulated)")
        file.write(b"\x93NUMPY partial")

    monkeypatch.setattr(np.lib.format, "write_array", write_half_then_fail)
    with pytest.raises(OSError, match="disk full"):
        save({"epoch": 2, "w": tg.zeros(3), "b": tg.zeros(2)}, path)
    assert len(calls) == 2  # it failed part-way, with bytes already written

    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt.tg"]
    monkeypatch.undo()
    assert load(path)["epoch"] == 1


def test_failed_replace_leaves_no_temp_files(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.tg"
    save(tg.ones(2), path)
    before = path.read_bytes()

    def fail(*args):
        raise KeyboardInterrupt  # even an interrupt at the last moment cleans up

    monkeypatch.setattr(serialization.os, "replace", fail)
    with pytest.raises(KeyboardInterrupt):
        save(tg.zeros(2), path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt.tg"]


def test_save_replaces_existing_file_and_follows_symlinks(tmp_path):
    real = tmp_path / "real.tg"
    link = tmp_path / "link.tg"
    save(tg.tensor([1]), real)
    link.symlink_to(real)
    save(tg.tensor([2]), link)
    assert link.is_symlink()
    assert load(real).array.tolist() == [2]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.tg", "real.tg"]


def test_save_into_missing_directory_fails_cleanly(tmp_path):
    with pytest.raises(FileNotFoundError):
        save(tg.tensor([1]), tmp_path / "missing" / "x.tg")
    assert list(tmp_path.iterdir()) == []


def test_pathlike_is_accepted(tmp_path):
    class MyPath:
        def __fspath__(self):
            return str(tmp_path / "custom.tg")

    save(tg.tensor([5]), MyPath())
    assert load(MyPath()).array.tolist() == [5]
