"""tapegrad.safetensors: safetensors.torch's four functions, and files PyTorch shares both ways."""
import json
import struct

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import nn
from tapegrad import safetensors as st

ALL_DTYPES = [tg.float32, tg.float64, tg.float16, tg.int64, tg.int32, tg.int16, tg.int8,
              tg.uint8, tg.bool]


def some_tensors():
    tensors = {f"t.{d.name}": (tg.arange(6) % 3).reshape(2, 3).to(d) for d in ALL_DTYPES}
    tensors["scalar"] = tg.tensor(2.5)
    tensors["empty"] = tg.zeros(0, 4)
    return tensors


def assert_same(loaded, tensors):
    assert set(loaded) == set(tensors)
    for name, tensor in tensors.items():
        assert loaded[name].dtype is tensor.dtype and loaded[name].shape == tensor.shape
        assert np.array_equal(loaded[name].numpy(), tensor.numpy())
        assert loaded[name].array.flags.writeable


def test_file_round_trip_every_dtype(tmp_path):
    tensors = some_tensors()
    st.save_file(tensors, tmp_path / "w.safetensors", metadata={"format": "pt"})
    assert_same(st.load_file(tmp_path / "w.safetensors"), tensors)


def test_bytes_round_trip_and_metadata_in_the_header():
    tensors = some_tensors()
    data = st.save(tensors, metadata={"epoch": "3"})
    header = json.loads(data[8:8 + struct.unpack("<Q", data[:8])[0]])
    assert header["__metadata__"] == {"epoch": "3"}
    assert header["t.float32"]["dtype"] == "F32" and header["t.float32"]["shape"] == [2, 3]
    assert_same(st.load(data), tensors)


def test_tg_load_recognises_safetensors_by_content(tmp_path):
    st.save_file({"w": tg.ones(2, 2)}, tmp_path / "weights.bin")
    loaded = tg.load(tmp_path / "weights.bin", map_location="cpu")
    assert loaded["w"].tolist() == [[1.0, 1.0], [1.0, 1.0]]


def test_state_dict_round_trip_gives_the_same_model(tmp_path):
    tg.manual_seed(0)
    source = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4), nn.Linear(4, 2))
    st.save_file(source.state_dict(), tmp_path / "m.safetensors")
    target = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4), nn.Linear(4, 2))
    target.load_state_dict(st.load_file(tmp_path / "m.safetensors"))
    x = tg.randn(5, 3)
    assert np.array_equal(target(x).detach().numpy(), source(x).detach().numpy())


def test_non_contiguous_and_shared_tensors_are_refused_as_in_safetensors_torch(tmp_path):
    x = tg.randn(3, 4)
    with pytest.raises(ValueError, match="non contiguous tensor: `t`.*contiguous"):
        st.save({"t": x.T})
    with pytest.raises(RuntimeError, match=r"share memory.*\['a', 'b'\]"):
        st.save_file({"a": x, "b": x[1]}, tmp_path / "s.safetensors")
    assert not (tmp_path / "s.safetensors").exists()
    assert st.load(st.save({"t": x.T.contiguous()}))["t"].tolist() == x.T.tolist()


def test_misuse_is_named():
    with pytest.raises(ValueError, match="Key `w` is invalid.*list"):
        st.save({"w": [1.0]})
    with pytest.raises(TypeError, match="metadata"):
        st.save({"w": tg.ones(1)}, metadata={"epoch": 3})
    with pytest.raises(TypeError, match="bytes"):
        st.load("weights.safetensors")
    with pytest.raises(ValueError, match="not an intact .safetensors"):
        st.load(b"\x05\x00\x00\x00\x00\x00\x00\x00{\"a\":")


def test_a_dtype_tapegrad_lacks_is_named(tmp_path):
    header = json.dumps({"w": {"dtype": "BF16", "shape": [1], "data_offsets": [0, 2]}}).encode()
    data = struct.pack("<Q", len(header)) + header + b"\x00\x00"
    with pytest.raises(TypeError, match="'w' as BF16"):
        st.load(data)
    (tmp_path / "bf16.safetensors").write_bytes(data)
    with pytest.raises(TypeError, match="'w' as BF16"):
        st.load_file(tmp_path / "bf16.safetensors")


def test_files_cross_with_pytorch_both_ways(tmp_path):
    torch = pytest.importorskip("torch", reason="comparing with PyTorch needs torch (CPU)")
    safetensors_torch = pytest.importorskip("safetensors.torch")
    tensors = some_tensors()
    st.save_file(tensors, tmp_path / "tapegrad.safetensors")
    in_torch = safetensors_torch.load_file(tmp_path / "tapegrad.safetensors")
    for name, tensor in tensors.items():
        assert np.array_equal(in_torch[name].numpy(), tensor.numpy())

    torch.manual_seed(0)
    source = torch.nn.Linear(3, 2)
    safetensors_torch.save_file(source.state_dict(), tmp_path / "torch.safetensors")
    model = nn.Linear(3, 2)
    model.load_state_dict(st.load_file(tmp_path / "torch.safetensors"))
    x = np.ones((1, 3), np.float32)
    np.testing.assert_allclose(model(tg.tensor(x)).detach().numpy(),
                               source(torch.from_numpy(x)).detach().numpy(), rtol=1e-6)
    assert tg.load(tmp_path / "torch.safetensors")["weight"].tolist() == \
        source.weight.detach().tolist()
