"""Files written by torch.save load in tapegrad (without torch), and tapegrad's files load in PyTorch."""
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import nn
from tapegrad.serialization import UnsafeOrCorruptFile

torch = pytest.importorskip("torch", reason="comparing with PyTorch's files needs torch (CPU)")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

DTYPES = [(torch.float32, tg.float32), (torch.float64, tg.float64), (torch.float16, tg.float16),
          (torch.int64, tg.int64), (torch.int32, tg.int32), (torch.int16, tg.int16),
          (torch.int8, tg.int8), (torch.uint8, tg.uint8), (torch.bool, tg.bool)]


def torch_net():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(2, 4, 3, padding=1), torch.nn.BatchNorm2d(4),
                               torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(4 * 5 * 5, 3))


def tapegrad_net():
    return nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                         nn.Flatten(), nn.Linear(4 * 5 * 5, 3))


def trained_a_little(net):
    """Running statistics that are not the defaults, so the buffers matter."""
    net.train()
    with torch.no_grad():
        net(torch.randn(8, 2, 5, 5) * 3 + 1)
    return net.eval()


def test_a_pytorch_state_dict_gives_the_same_outputs_in_tapegrad(tmp_path):
    source = trained_a_little(torch_net())
    torch.save(source.state_dict(), tmp_path / "m.pt")
    model = tapegrad_net().eval()
    result = model.load_state_dict(tg.load(tmp_path / "m.pt"))
    assert not result.missing_keys and not result.unexpected_keys
    x = np.random.default_rng(0).standard_normal((3, 2, 5, 5)).astype(np.float32)
    expected = source(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(model(tg.tensor(x)).detach().numpy(), expected, rtol=1e-5,
                               atol=1e-5)


def test_a_tapegrad_state_dict_gives_the_same_outputs_in_pytorch(tmp_path):
    model = tapegrad_net()
    model.train()
    model(tg.randn(8, 2, 5, 5))
    model.eval()
    tg.save(model.state_dict(), tmp_path / "m.pt")
    target = torch_net().eval()
    target.load_state_dict(torch.load(tmp_path / "m.pt", weights_only=True))
    x = np.random.default_rng(1).standard_normal((3, 2, 5, 5)).astype(np.float32)
    np.testing.assert_allclose(target(torch.from_numpy(x)).detach().numpy(),
                               model(tg.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("torch_dtype, dtype", DTYPES, ids=[str(d[1]) for d in DTYPES])
def test_every_dtype_crosses_both_ways_with_values_shapes_and_strides(tmp_path, torch_dtype,
                                                                      dtype):
    values = (torch.arange(24) % 7 - 3).to(torch_dtype).reshape(2, 3, 4)
    torch.save({"x": values, "t": values.transpose(0, 2), "s": values[:, 1:, ::2]},
               tmp_path / "torch.pt")
    loaded = tg.load(tmp_path / "torch.pt")
    for name in ("x", "t", "s"):
        expected = torch.load(tmp_path / "torch.pt")[name]
        assert loaded[name].dtype is dtype and tuple(loaded[name].shape) == tuple(expected.shape)
        assert np.array_equal(loaded[name].numpy(), expected.numpy())
        assert loaded[name].array.strides == tuple(s * dtype.itemsize for s in expected.stride())
    assert np.shares_memory(loaded["x"].array, loaded["t"].array)

    tg.save(loaded, tmp_path / "tapegrad.pt")
    back = torch.load(tmp_path / "tapegrad.pt", weights_only=True)
    for name in ("x", "t", "s"):
        assert back[name].dtype == torch_dtype
        assert np.array_equal(back[name].numpy(), loaded[name].numpy())
        assert back[name].stride() == torch.load(tmp_path / "torch.pt")[name].stride()
    assert back["t"].untyped_storage().data_ptr() == back["x"].untyped_storage().data_ptr()


def test_parameters_requires_grad_and_containers_from_pytorch(tmp_path):
    checkpoint = {"p": torch.nn.Parameter(torch.ones(2)), "g": torch.zeros(3, requires_grad=True),
                  "epoch": 4, "lr": [0.1, 0.01], "name": "run", "nested": ({"a": (1, 2)},),
                  "dtype": torch.float16, "size": torch.Size([2, 3]), "device": torch.device("cpu")}
    torch.save(checkpoint, tmp_path / "c.pt")
    loaded = tg.load(tmp_path / "c.pt")
    assert type(loaded["p"]) is nn.Parameter and loaded["p"].requires_grad
    assert loaded["g"].requires_grad and loaded["g"].is_leaf
    assert loaded["epoch"] == 4 and loaded["lr"] == [0.1, 0.01] and loaded["name"] == "run"
    assert loaded["nested"] == ({"a": (1, 2)},)
    assert loaded["dtype"] is tg.float16 and loaded["size"] == tg.Size([2, 3])
    assert loaded["device"] == tg.device("cpu")


def test_tapegrad_parameters_and_optimizer_states_load_in_pytorch(tmp_path):
    model = nn.Linear(3, 2)
    optimizer = tg.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(tg.ones(1, 3)).sum().backward()
    optimizer.step()
    tg.save({"p": model.weight, "optimizer": optimizer.state_dict()}, tmp_path / "o.pt")
    loaded = torch.load(tmp_path / "o.pt", weights_only=True)
    assert isinstance(loaded["p"], torch.nn.Parameter) and loaded["p"].requires_grad
    assert loaded["optimizer"]["param_groups"][0]["lr"] == 0.1
    buffer = loaded["optimizer"]["state"][0]["momentum_buffer"]
    assert np.array_equal(buffer.numpy(), optimizer.state_dict()["state"][0]["momentum_buffer"]
                          .numpy())


def test_loading_a_pytorch_file_never_imports_torch(tmp_path):
    torch.save(torch_net().state_dict(), tmp_path / "m.pt")
    script = ("import sys, tapegrad as tg; d = tg.load(sys.argv[1]); "
              "assert 'torch' not in sys.modules, 'torch was imported'; print(len(d))")
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path / "m.pt")],
                          capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, PYTHONPATH=ROOT + os.pathsep
                                   + os.environ.get("PYTHONPATH", "")))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(len(torch_net().state_dict()))


def test_a_whole_pytorch_module_is_refused_with_advice(tmp_path):
    torch.save(torch.nn.Linear(2, 2), tmp_path / "whole.pt")
    with pytest.raises(pickle.UnpicklingError, match="torch.nn.modules.linear.Linear"):
        tg.load(tmp_path / "whole.pt")
    with pytest.raises(UnsafeOrCorruptFile, match="state_dict"):
        tg.load(tmp_path / "whole.pt", weights_only=False)


def test_numpy_arrays_saved_by_pytorch(tmp_path):
    torch.save({"a": np.arange(4)}, tmp_path / "n.pt")
    assert tg.serialization.get_unsafe_globals_in_checkpoint(tmp_path / "n.pt")[0].endswith(
        "multiarray._reconstruct")
    assert tg.load(tmp_path / "n.pt", weights_only=False)["a"].tolist() == [0, 1, 2, 3]


def test_pytorchs_legacy_format_loads_on_the_cpu(tmp_path):
    x = torch.arange(6.0).reshape(2, 3)
    torch.save({"x": x, "t": x.T, "i": torch.tensor([1, 2]), "p": torch.nn.Parameter(x[0]),
                "empty": torch.zeros(0)}, tmp_path / "old.pt",
               _use_new_zipfile_serialization=False)
    loaded = tg.load(tmp_path / "old.pt")
    assert loaded["x"].tolist() == x.tolist() and loaded["t"].tolist() == x.T.tolist()
    assert np.shares_memory(loaded["x"].array, loaded["t"].array)
    assert loaded["i"].dtype is tg.int64 and type(loaded["p"]) is nn.Parameter
    assert loaded["p"].tolist() == [0.0, 1.0, 2.0] and tuple(loaded["empty"].shape) == (0,)
    with pytest.raises(NotImplementedError, match="legacy format load on the cpu only"):
        tg.load(tmp_path / "old.pt", map_location="cuda:0")


def test_pytorchs_legacy_format_keeps_the_safety_rules(tmp_path):
    torch.save(torch.nn.Linear(2, 2), tmp_path / "whole.pt", _use_new_zipfile_serialization=False)
    assert tg.serialization.get_unsafe_globals_in_checkpoint(tmp_path / "whole.pt") == [
        "torch.nn.modules.linear.Linear"]
    with pytest.raises(pickle.UnpicklingError, match="torch.nn.modules.linear.Linear"):
        tg.load(tmp_path / "whole.pt")
    torch.save({"w": torch.ones(3), "n": 5}, tmp_path / "old.pt",
               _use_new_zipfile_serialization=False)
    data = (tmp_path / "old.pt").read_bytes()
    for cut in range(len(data)):
        (tmp_path / "cut.pt").write_bytes(data[:cut])
        with pytest.raises(UnsafeOrCorruptFile):
            tg.load(tmp_path / "cut.pt")


def test_pytorch_files_map_too(tmp_path):
    values = torch.arange(40.0).reshape(5, 8)
    torch.save({"x": values, "t": values.T}, tmp_path / "m.pt")
    loaded = tg.load(tmp_path / "m.pt", mmap=True)
    assert isinstance(loaded["x"].array.base, np.memmap)
    assert loaded["t"].tolist() == values.T.tolist()
    tg.save(loaded, tmp_path / "again.pt")
    assert torch.load(tmp_path / "again.pt", mmap=True)["t"].tolist() == values.T.tolist()


def test_map_location_on_a_pytorch_file(tmp_path):
    torch.save({"x": torch.arange(6.0).reshape(2, 3)}, tmp_path / "x.pt")
    seen = []
    loaded = tg.load(tmp_path / "x.pt", map_location=lambda s, loc: seen.append(loc))
    assert seen == ["cpu"] and loaded["x"].tolist() == [[0, 1, 2], [3, 4, 5]]
    assert tg.load(tmp_path / "x.pt", map_location=tg.device("cpu"))["x"].device == tg.device(
        "cpu")
