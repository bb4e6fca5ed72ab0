"""PyTorch's names for the things a checkpoint holds, and tapegrad's objects for them.

A pickle refers to functions and classes by name ("module.name"), so a file written by
``torch.save`` says ``torch._utils._rebuild_tensor_v2`` where it means "rebuild a tensor",
and ``torch.FloatStorage`` where it means "float32 memory". tapegrad writes those same
names (so PyTorch can read its files) and, when reading, looks each name up in the table
below instead of importing it (so tapegrad never needs, or imports, torch).
"""
from .. import dtypes


class TorchName:
    """A stand-in that pickles as the global ``module.name`` (see ``pickler.py``)."""

    __slots__ = ("module", "name")

    def __init__(self, module, name):
        self.module = module
        self.name = name

    def __repr__(self):
        return f"{self.module}.{self.name}"

    def __call__(self, *args):
        # pickle only writes callables as the function of a reduction; this one is never called.
        raise TypeError(f"{self!r} is a name to write into a pickle, not a function")


class StorageType:
    """What ``torch.FloatStorage`` and its siblings stand for in a checkpoint: a dtype."""

    __slots__ = ("dtype", "torch_name")

    def __init__(self, dtype, torch_name):
        self.dtype = dtype
        self.torch_name = torch_name

    def __repr__(self):
        return f"torch.{self.torch_name}"


# The typed storage classes PyTorch names in every checkpoint, by tapegrad dtype.
STORAGE_NAMES = {
    dtypes.float32: "FloatStorage", dtypes.float64: "DoubleStorage",
    dtypes.float16: "HalfStorage", dtypes.int64: "LongStorage", dtypes.int32: "IntStorage",
    dtypes.int16: "ShortStorage", dtypes.int8: "CharStorage", dtypes.uint8: "ByteStorage",
    dtypes.bool_: "BoolStorage",
}
STORAGE_TYPES = {name: StorageType(dtype, name) for dtype, name in STORAGE_NAMES.items()}

# PyTorch's dtype names for tapegrad's dtypes (``torch.float32`` pickles as "torch float32").
DTYPE_NAMES = {dtype: ("bool" if dtype is dtypes.bool_ else dtype.name) for dtype in dtypes.ALL}

# PyTorch's names for kinds of data tapegrad does not have (its dtypes and storage types),
# so that loading one can say which it is.
MISSING = {f"torch.{name}" for name in (
    "bfloat16", "complex32", "complex64", "complex128", "uint16", "uint32", "uint64",
    "float8_e4m3fn", "float8_e5m2", "qint8", "quint8", "qint32", "quint4x2", "quint2x4",
    "BFloat16Storage", "ComplexFloatStorage", "ComplexDoubleStorage", "QInt8Storage",
    "QUInt8Storage", "QInt32Storage", "QUInt4x2Storage", "QUInt2x4Storage")}
MISSING |= {name.replace("torch.", "torch.cuda.") for name in MISSING if name.endswith("Storage")}

# Stand-ins for writing; their names are the ones the reader maps back below.
REBUILD_TENSOR_V2 = TorchName("torch._utils", "_rebuild_tensor_v2")
REBUILD_PARAMETER = TorchName("torch._utils", "_rebuild_parameter")
SIZE = TorchName("torch", "Size")
DEVICE = TorchName("torch", "device")
STORAGE = {dtype: TorchName("torch", name) for dtype, name in STORAGE_NAMES.items()}
DTYPE = {dtype: TorchName("torch", name) for dtype, name in DTYPE_NAMES.items()}
