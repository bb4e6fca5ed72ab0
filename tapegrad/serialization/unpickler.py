"""Reading a checkpoint's pickle: which globals it may name, and where its storages come from.

Every global the pickle names goes through ``find_class``. The names PyTorch and tapegrad
write for tensors, storages, dtypes, devices and state dicts are looked up in ``KNOWN``
(never imported: tapegrad never imports torch). With ``weights_only=True`` (the default),
the only other names allowed are those in ``safe_globals.py``; any other name stops the load
before it is called, so a file cannot run code. With ``weights_only=False`` other names are
imported and called, exactly as ``pickle.load`` would: only for files you trust.

BUILD (setting attributes on a rebuilt object) is allowed by weights-only loading on state
dicts' OrderedDicts and on allowed classes only; elsewhere it could change tapegrad's own
objects (the dtype ``tapegrad.float32`` is one object shared by the whole program).
"""
import collections
import pickle

from .. import dtypes
from ..nn.parameter import Parameter
from . import rebuild, safe_globals, torch_names
from .rebuild import UnsafeOrCorruptFile, UnsupportedDtype

# The globals weights-only loading always allows, and what each stands for here.
KNOWN = {
    "torch._utils._rebuild_tensor_v2": rebuild.rebuild_tensor_v2,
    "torch._utils._rebuild_tensor": rebuild.rebuild_tensor,
    "torch._utils._rebuild_parameter": rebuild.rebuild_parameter,
    "torch._utils._rebuild_parameter_with_state": rebuild.rebuild_parameter_with_state,
    "torch._tensor._rebuild_from_type_v2": rebuild.rebuild_from_type_v2,
    "torch.Tensor": rebuild.TENSOR_TYPE,
    "torch.nn.parameter.Parameter": Parameter,
    "torch.Size": rebuild.make_size,
    "torch.device": rebuild.make_device,
    "collections.OrderedDict": collections.OrderedDict,
    "collections.Counter": collections.Counter,
    "builtins.set": set,
    "builtins.frozenset": frozenset,
    "builtins.bytearray": rebuild.make_bytearray,
    "builtins.complex": complex,
    "_codecs.encode": rebuild.encode_bytes,
}
for _name, _storage_type in torch_names.STORAGE_TYPES.items():
    KNOWN[f"torch.{_name}"] = _storage_type
    KNOWN[f"torch.cuda.{_name}"] = _storage_type  # how files from PyTorch < 1.6 name GPU storages
for _dtype, _name in torch_names.DTYPE_NAMES.items():
    KNOWN[f"torch.{_name}"] = _dtype

# BUILD may set attributes on these (state dicts carry their ``_metadata`` that way).
_BUILDABLE = (collections.OrderedDict, collections.Counter)


class WeightsOnlyRefusal(pickle.UnpicklingError):
    """The file names a global that weights-only loading does not allow."""


# The pure-Python unpickler lets a subclass restrict single opcodes (BUILD, below); the C one
# does not. Checkpoint pickles are small (the tensors' bytes are elsewhere), so speed is no issue.
class CheckpointUnpickler(pickle._Unpickler):
    """Unpickles a checkpoint's pickle; ``load_storage(dtype, key, location, numel)`` gives storages."""

    dispatch = dict(pickle._Unpickler.dispatch)

    def __init__(self, file, weights_only, load_storage):
        super().__init__(file, encoding="utf-8")
        self.weights_only = weights_only
        self.load_storage = load_storage

    def find_class(self, module, name):
        full_name = safe_globals.full_name(module, name)
        if full_name in KNOWN:
            return KNOWN[full_name]
        if full_name in torch_names.MISSING:
            raise UnsupportedDtype(
                f"the file holds {full_name} data, a dtype tapegrad does not have (it has "
                f"{', '.join(d.name for d in dtypes.ALL)}); convert those tensors in PyTorch "
                f"(e.g. tensor.float()) and save them again")
        allowed = safe_globals.user_allowed(full_name)
        if allowed is not None:
            return allowed
        if self.weights_only:
            raise WeightsOnlyRefusal(_refusal_message(full_name))
        if module == "torch" or module.startswith("torch."):
            raise UnsafeOrCorruptFile(
                f"the file holds PyTorch's {full_name}, which tapegrad cannot rebuild (tapegrad "
                f"reads PyTorch's tensors, not its other objects, and never imports torch); save "
                f"a state_dict() in PyTorch and load that into a tapegrad model instead")
        return super().find_class(module, name)

    def persistent_load(self, pid):
        # ('storage', type, key, location, numel); files from before PyTorch 1.6 add a
        # sixth entry, None unless the storage is a view of another (PyTorch < 0.4).
        if not (isinstance(pid, tuple) and pid[:1] == ("storage",)
                and (len(pid) == 5 or (len(pid) == 6 and pid[5] is None))):
            raise UnsafeOrCorruptFile(f"unknown persistent id {pid!r:.200}")
        _, storage_type, key, location, numel = pid[:5]
        if not isinstance(storage_type, torch_names.StorageType):
            raise UnsafeOrCorruptFile(f"a storage has the type {storage_type!r:.80}")
        if not (isinstance(key, str) and isinstance(location, str) and isinstance(numel, int)
                and not isinstance(numel, bool) and numel >= 0):
            raise UnsafeOrCorruptFile(f"a storage is described as {pid!r:.200}")
        return self.load_storage(storage_type.dtype, key, location, numel)

    def load_build(self):
        target = self.stack[-2]  # BUILD pops the state above the object it is for
        if self.weights_only and not (
                type(target) in _BUILDABLE
                or safe_globals.user_allowed(_class_name(type(target))) is type(target)):
            raise WeightsOnlyRefusal(
                f"Weights only load failed: the file sets attributes on a "
                f"{_class_name(type(target))} object, which weights_only=True does not allow")
        super().load_build()

    dispatch[pickle.BUILD[0]] = load_build


def _class_name(cls):
    return f"{cls.__module__}.{cls.__qualname__}"


def _refusal_message(full_name):
    return (f"Weights only load failed: the file names the global {full_name}, which "
            f"weights_only=True does not allow (it admits tensors, containers, numbers, strings "
            f"and globals you allow). If you trust this file, load it with weights_only=False "
            f"(which can run code hidden in it), or allow this global with "
            f"tapegrad.serialization.add_safe_globals([{full_name}]) or within "
            f"`with tapegrad.serialization.safe_globals([{full_name}]):`.")


def is_known(full_name):
    """True when weights-only loading allows ``full_name`` without being told to."""
    return full_name in KNOWN or safe_globals.user_allowed(full_name) is not None

