"""Files written by earlier tapegrad versions (a zip of .npy files and a JSON index) still load."""
import io
import json
import zipfile

import numpy as np
import pytest

from tapegrad.serialization import UnsafeOrCorruptFile, load


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


def test_nested_old_file_loads(tmp_path):
    path = tmp_path / "old.tg"
    write_zip(path, {"tensors/0.npy": npy_bytes(np.arange(6, dtype=np.int64).reshape(2, 3))},
              {"format": "tapegrad.save", "version": 1, "root": {"kind": "dict", "items": [
                  ["epoch", 3], ["loss", {"kind": "float", "value": "nan"}],
                  ["state", {"kind": "tuple", "items": [{"kind": "list", "items": [1, None]}, {
                      "kind": "tensor", "file": "tensors/0.npy", "dtype": "int64",
                      "shape": [2, 3], "requires_grad": False, "device": "cpu"}]}]]}})
    loaded = load(path, map_location="cpu")
    assert loaded["epoch"] == 3 and loaded["loss"] != loaded["loss"]
    assert loaded["state"][0] == [1, None] and type(loaded["state"]) is tuple
    assert loaded["state"][1].tolist() == [[0, 1, 2], [3, 4, 5]]
