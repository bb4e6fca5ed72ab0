"""Truncated, damaged and forged files: a clear UnsafeOrCorruptFile naming the file, nothing else."""
import pickle
import struct
import zipfile

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.serialization import (
    UnsafeOrCorruptFile,
    load,
    save,
    torch_names,
    torch_zip,
)
from tapegrad.serialization.pickler import SavedStorage, pickle_checkpoint
from tapegrad.serialization.torch_names import STORAGE


def test_truncated_file_is_refused_with_a_clear_error(tmp_path):
    path = tmp_path / "ckpt.pt"
    save({"w": tg.randn(50, 50), "epoch": 3}, path)
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    with pytest.raises(UnsafeOrCorruptFile, match=r"cannot load '.*ckpt\.pt'.*truncated"):
        load(path)


def test_every_truncation_and_bit_flip_is_refused_cleanly(tmp_path):
    """Whatever is wrong with a file, load raises UnsafeOrCorruptFile and nothing else."""
    path = tmp_path / "small.pt"
    save({"w": tg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True), "step": (1, [2])}, path)
    data = path.read_bytes()
    # every cut in the last records and the zip's directory, every 7th before
    for cut in sorted(set(range(0, len(data), 7)) | set(range(len(data) - 200, len(data)))):
        path.write_bytes(data[:cut])
        with pytest.raises(UnsafeOrCorruptFile):
            load(path)
    rng = np.random.default_rng(0)
    for position in rng.choice(len(data), size=min(len(data), 300), replace=False):
        corrupt = bytearray(data)
        corrupt[position] ^= 0x41
        path.write_bytes(bytes(corrupt))
        try:
            load(path)  # a flip in a field zipfile ignores (padding, a timestamp) is harmless
        except UnsafeOrCorruptFile:
            pass
    assert sorted(p.name for p in tmp_path.iterdir()) == ["small.pt"]


@pytest.mark.parametrize("content, message", [
    (b"", "empty"),
    (np.random.default_rng(1).integers(1, 256, 4096, dtype=np.uint8).tobytes(),
     "neither a PyTorch or tapegrad checkpoint.*nor a .safetensors file"),
    (pickle.dumps({"w": [1.0]}, protocol=2), "bare pickle.*not a checkpoint"),
], ids=["empty", "noise", "bare-pickle"])
def test_files_that_are_no_checkpoint_are_refused(tmp_path, content, message):
    path = tmp_path / "file.bin"
    path.write_bytes(content)
    with pytest.raises(UnsafeOrCorruptFile, match=rf"file\.bin.*{message}"):
        load(path)


class Forged:
    """Pickles as ``_rebuild_tensor_v2(storage, *layout)``: a tensor description written by hand."""

    def __init__(self, storage, layout):
        self.storage, self.layout = storage, layout

    def __reduce__(self):
        return (torch_names.REBUILD_TENSOR_V2, (self.storage, *self.layout))


class LyingStorage(SavedStorage):
    """A storage whose description claims a billion elements."""

    numel = 10**9


def forged_file(path, layout, storage=None):
    storage = storage or SavedStorage("0", tg.float32, "cpu", np.zeros(4, np.float32))
    pickled, _ = pickle_checkpoint(Forged(storage, layout))
    with open(path, "wb") as file:
        torch_zip.write(file, pickled, [storage])
    return path


def test_a_hand_forged_description_loads_when_it_is_valid(tmp_path):
    path = forged_file(tmp_path / "ok.pt", (1, (2, 1), (1, 2), False, None, None))
    assert load(path).tolist() == [[0.0], [0.0]]


@pytest.mark.parametrize("args, message", [
    ((0, (3, 3), (3, 1), False, None, None), "reaches element 8 of storage '0', which has only 4"),
    ((3, (2,), (1,), False, None, None), "reaches element 4"),
    ((-1, (2,), (1,), False, None, None), "invalid layout"),
    ((0, (2,), (-1,), False, None, None), "invalid layout"),
    ((0, (2, 2), (1,), False, None, None), "invalid layout"),
    ((9, (0,), (1,), False, None, None), "past the end"),
    ((0, (2,), (1,), "yes", None, None), "requires_grad must be True or False"),
], ids=["too-far", "offset", "negative-offset", "negative-stride", "rank-mismatch",
        "empty-past-end", "bad-flag"])
def test_a_tensor_reaching_outside_its_storage_is_refused(tmp_path, args, message):
    path = forged_file(tmp_path / "forged.pt", args)
    with pytest.raises(UnsafeOrCorruptFile, match=rf"forged\.pt.*{message}"):
        load(path)


def test_an_integer_tensor_marked_requires_grad_is_refused(tmp_path):
    storage = SavedStorage("0", tg.int64, "cpu", np.zeros(2, np.int64))
    path = forged_file(tmp_path / "int.pt", (0, (2,), (1,), True, None, None), storage)
    with pytest.raises(UnsafeOrCorruptFile, match="int64 tensor is marked requires_grad"):
        load(path)


def test_a_known_global_called_with_wrong_arguments_is_refused(tmp_path):
    path = tmp_path / "args.pt"
    with open(path, "wb") as file:   # OrderedDict(1, 2, 3)
        torch_zip.write(file, b"\x80\x02ccollections\nOrderedDict\nK\x01K\x02K\x03\x87R.", [])
    with pytest.raises(UnsafeOrCorruptFile, match=r"args\.pt.*pickle is damaged \(TypeError"):
        load(path)


def test_a_storage_record_of_the_wrong_size_is_refused(tmp_path):
    storage = LyingStorage("0", tg.float32, "cpu", np.zeros(2, np.float32))
    path = forged_file(tmp_path / "short.pt", (0, (2,), (1,), False, None, None), storage)
    with pytest.raises(UnsafeOrCorruptFile, match=r"holds 8 bytes.*1000000000 elements"):
        load(path)   # refused before allocating 4 GB


def test_a_missing_storage_record_is_refused(tmp_path):
    path = tmp_path / "missing.pt"
    save(tg.ones(3), path)
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(tmp_path / "cut.pt", "w") as target:
        for name in source.namelist():
            if name != "archive/data/0":
                target.writestr(name, source.read(name))
    with pytest.raises(UnsafeOrCorruptFile, match="storage '0', which is not in the archive"):
        load(tmp_path / "cut.pt")


@pytest.mark.parametrize("name", ["../evil/data.pkl", "/abs/data.pkl", "a/../../x"])
def test_unsafe_member_names_are_refused(tmp_path, name):
    path = tmp_path / "evil.pt"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(name, b"\x80\x02N.")
    with pytest.raises(UnsafeOrCorruptFile, match="unsafe name"):
        load(path)


def test_compressed_records_are_refused(tmp_path):
    path = tmp_path / "deflated.pt"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("archive/data.pkl", b"\x80\x02N.")
    with pytest.raises(UnsafeOrCorruptFile, match="is compressed"):
        load(path)


def test_a_zip_that_is_no_checkpoint_is_refused(tmp_path):
    np.savez(tmp_path / "arrays.npz", a=np.zeros(3))
    with pytest.raises(UnsafeOrCorruptFile, match=r"arrays\.npz.*no data\.pkl and no index"):
        load(tmp_path / "arrays.npz")


def test_a_damaged_pickle_is_refused(tmp_path):
    path = tmp_path / "bad.pt"
    with open(path, "wb") as file:
        torch_zip.write(file, b"\x80\x02}q\x00(X\x01\x00\x00\x00a", [])   # stops mid-dict
    with pytest.raises(UnsafeOrCorruptFile, match=r"bad\.pt.*pickle is damaged"):
        load(path)


def test_an_unknown_persistent_id_is_refused(tmp_path):
    path = tmp_path / "pid.pt"
    with open(path, "wb") as file:
        torch_zip.write(file, b"\x80\x02X\x03\x00\x00\x00abcQ.", [])
    with pytest.raises(UnsafeOrCorruptFile, match="unknown persistent id 'abc'"):
        load(path)


def test_dtypes_tapegrad_lacks_are_named(tmp_path):
    path = tmp_path / "bf16.pt"
    with open(path, "wb") as file:
        torch_zip.write(file, b"\x80\x02ctorch\nBFloat16Storage\n.", [])
    with pytest.raises(TypeError, match="torch.BFloat16Storage.*tapegrad does not have"):
        load(path)


def test_truncated_safetensors_is_refused(tmp_path):
    path = tmp_path / "w.safetensors"
    tg.safetensors.save_file({"w": tg.randn(10)}, path)
    data = path.read_bytes()
    path.write_bytes(data[:-5])
    with pytest.raises(UnsafeOrCorruptFile, match=r"w\.safetensors"):
        load(path)
    header_length = struct.unpack("<Q", data[:8])[0]
    path.write_bytes(data[:8 + header_length // 2])
    with pytest.raises(UnsafeOrCorruptFile, match=r"w\.safetensors"):
        load(path)


def test_storage_type_constants_cover_every_dtype():
    assert set(STORAGE) == set(tg.dtypes.ALL)


@pytest.mark.parametrize("pickled", [
    b"\x80\x02ctorch\nTensor\n\x8a\x06\x00\x00\x00\x00\x00\x01\x85R.",     # Tensor(2**40)
    b"\x80\x02cbuiltins\nbytearray\n\x8a\x06\x00\x00\x00\x00\x00\x01\x85R.",  # bytearray(2**40)
], ids=["Tensor(2**40)", "bytearray(2**40)"])
def test_a_forged_call_that_would_allocate_terabytes_is_refused(tmp_path, pickled):
    path = tmp_path / "huge.pt"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", pickled)
        archive.writestr("archive/version", "3\n")
    with pytest.raises(UnsafeOrCorruptFile, match="huge.pt"):
        load(path)
