"""tapegrad: a deep-learning library you can read end to end.

``import tapegrad as tg`` gives PyTorch's names: ``tg.tensor``, ``tg.randn``,
``tg.no_grad``, ``tg.exp`` … See README.md for a tour.
"""
from . import accelerator, autograd, backend, backends, cuda, data, dtypes, random, utils
from .autograd import Size, Tensor, enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .autograd.ops import top_level_functions as _top_level_functions
from .autograd.tensor import is_tensor
from .backend import device
from .creation import (arange, as_tensor, empty, empty_like, eye, from_numpy, full, full_like,
                       linspace, ones, ones_like, rand, rand_like, randint, randn, randn_like,
                       randperm, tensor, zeros, zeros_like, set_default_device,
                       get_default_device)
from .creation import (BoolTensor, ByteTensor, CharTensor, DoubleTensor, FloatTensor,  # (legacy)
                       HalfTensor, IntTensor, LongTensor, ShortTensor, set_default_tensor_type)
from .dtypes import (bool_ as bool, float16, float32, float64, get_default_dtype, finfo,
                     iinfo, int8, int16, int32, int64, set_default_dtype, uint8)
from .random import Generator, initial_seed, manual_seed, seed
from . import linalg, safetensors, serialization
from .serialization import load, save

from . import nn, optim  # noqa: E402  (they build on the names above)
from . import explain, training  # noqa: E402  (and these on nn and optim)
from . import onnx  # noqa: E402  (export/import; the onnx package itself loads on first use)
from . import distributions, multiprocessing  # noqa: E402  (built on nn's functions and Parameter)
from . import distributed  # noqa: E402  (mpi4py and cupy load only at init_process_group)

half, float, double = float16, float32, float64
short, int, long = int16, int32, int64

# The operations, with PyTorch's names: tg.add, tg.exp, tg.sum, tg.matmul, … (each
# operation declares whether it is one: autograd/ops/declare.py)
globals().update(_top_level_functions())
from . import functional  # noqa: E402  (torch.functional: einsum, split, …)

__version__ = "0.1.0"
