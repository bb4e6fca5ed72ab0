"""load(weights_only=True), the default: tensors, containers and plain values only, unless allowed."""
import dataclasses
import io
import os
import pickle

import pytest

import tapegrad as tg
from tapegrad import serialization
from tapegrad.serialization import (
    add_safe_globals,
    clear_safe_globals,
    get_safe_globals,
    get_unsafe_globals_in_checkpoint,
    load,
    safe_globals,
    save,
    torch_zip,
)


@dataclasses.dataclass
class Config:
    width: int
    name: str


@pytest.fixture(autouse=True)
def no_user_globals():
    clear_safe_globals()
    yield
    clear_safe_globals()


def checkpoint_file(path, pickle_bytes):
    """A PyTorch-format file whose data.pkl is ``pickle_bytes`` and that has no storages."""
    with open(path, "wb") as file:
        torch_zip.write(file, pickle_bytes, [])
    return path


class RunsCode:
    """Unpickling this runs ``os.system(command)``: what a malicious checkpoint does."""

    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


def test_a_checkpoint_whose_pickle_would_run_code_raises_and_runs_nothing(tmp_path):
    marker = tmp_path / "pwned"
    payload = pickle.dumps({"weight": [1.0], "extra": RunsCode(f"touch {marker}")}, protocol=2)
    path = checkpoint_file(tmp_path / "evil.pt", payload)
    with pytest.raises(pickle.UnpicklingError, match=rf"Weights only load failed.*"
                                                     rf"{os.system.__module__}\.system"):
        load(path)
    assert not marker.exists()
    assert get_unsafe_globals_in_checkpoint(path) == [f"{os.system.__module__}.system"]
    assert not marker.exists()   # listing the globals runs nothing either


def test_refusal_says_how_to_allow_the_global(tmp_path):
    save({"config": Config(3, "small"), "w": tg.ones(2)}, tmp_path / "c.pt")
    name = f"{__name__}.Config"
    with pytest.raises(pickle.UnpicklingError) as refused:
        load(tmp_path / "c.pt")
    message = str(refused.value)
    assert name in message and "weights_only=False" in message
    assert f"add_safe_globals([{name}])" in message and f"safe_globals([{name}])" in message
    assert get_unsafe_globals_in_checkpoint(tmp_path / "c.pt") == [name]


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_unsafe_globals_are_found_whatever_the_pickle_protocol(tmp_path, protocol):
    save({"config": Config(3, "small"), "module": tg.nn.Linear(2, 2), "again": Config(4, "x")},
         tmp_path / "c.pt", pickle_protocol=protocol)
    assert get_unsafe_globals_in_checkpoint(tmp_path / "c.pt") == [
        f"{__name__}.Config", "tapegrad.nn.modules.linear.Linear"]
    with safe_globals([Config, tg.nn.Linear]):
        loaded = load(tmp_path / "c.pt")
    assert loaded["again"] == Config(4, "x") and isinstance(loaded["module"], tg.nn.Linear)


def test_safe_globals_context_manager_allows_inside_the_block_only(tmp_path):
    save({"config": Config(3, "small")}, tmp_path / "c.pt")
    with safe_globals([Config]):
        assert load(tmp_path / "c.pt")["config"] == Config(3, "small")
        assert get_safe_globals() == [Config]
        assert get_unsafe_globals_in_checkpoint(tmp_path / "c.pt") == []
    assert get_safe_globals() == []
    with pytest.raises(pickle.UnpicklingError):
        load(tmp_path / "c.pt")


def test_add_safe_globals_allows_until_cleared(tmp_path):
    save(Config(1, "a"), tmp_path / "c.pt")
    add_safe_globals([Config])
    assert load(tmp_path / "c.pt") == Config(1, "a")
    clear_safe_globals()
    with pytest.raises(pickle.UnpicklingError):
        load(tmp_path / "c.pt")


def test_a_global_can_be_allowed_under_the_name_the_file_uses(tmp_path):
    save(Config(1, "a"), tmp_path / "c.pt")
    data = (tmp_path / "c.pt").read_bytes()
    with io.BytesIO(data) as buffer:
        add_safe_globals([(Config, f"{__name__}.Config")])
        assert load(buffer) == Config(1, "a")
    with pytest.raises(TypeError, match="module.name"):
        add_safe_globals([(Config,)])


def test_weights_only_false_loads_a_trusted_file_fully(tmp_path):
    save({"config": Config(2, "b")}, tmp_path / "c.pt")
    assert load(tmp_path / "c.pt", weights_only=False)["config"] == Config(2, "b")
    with pytest.raises(TypeError, match="weights_only"):
        load(tmp_path / "c.pt", weights_only="yes")


def test_a_file_cannot_change_tapegrads_own_objects(tmp_path):
    # GLOBAL torch.float32 (tapegrad.float32, one object for the whole program), then BUILD
    # with a state that would overwrite its fields.
    forged = (b"\x80\x02ctorch\nfloat32\n" + pickle.dumps((None, {"itemsize": 3}), protocol=2)[2:-1]
              + b"b.")
    path = checkpoint_file(tmp_path / "forged.pt", forged)
    with pytest.raises(pickle.UnpicklingError, match="sets attributes on a tapegrad.dtypes.dtype"):
        load(path)
    assert tg.float32.itemsize == 4


def test_state_dict_metadata_is_allowed(tmp_path):
    """PyTorch's state dicts carry ``_metadata`` on the OrderedDict, set by BUILD."""
    state = tg.nn.Linear(2, 2).state_dict()
    state._metadata = {"": {"version": 1}}
    save(state, tmp_path / "s.pt")
    assert load(tmp_path / "s.pt")._metadata == {"": {"version": 1}}


def test_torch_objects_other_than_tensors_are_refused_even_when_trusted(tmp_path):
    forged = b"\x80\x02ctorch.nn.modules.linear\nLinear\n)\x81."
    path = checkpoint_file(tmp_path / "module.pt", forged)
    with pytest.raises(pickle.UnpicklingError, match="torch.nn.modules.linear.Linear"):
        load(path)
    with pytest.raises(serialization.UnsafeOrCorruptFile, match="state_dict"):
        load(path, weights_only=False)   # tapegrad never imports torch to rebuild it
