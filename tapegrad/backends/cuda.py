"""``torch.backends.cuda``: switches for the CUDA math libraries (TF32 in cuBLAS, reduced
precision in half-precision products). tapegrad's matrix products on a GPU are cupy's, in
the tensors' own dtype, so the flags are kept for scripts that set or read them and change
nothing."""
import importlib.util
from types import SimpleNamespace


def is_built():
    """True when tapegrad can compute on CUDA here: cupy is installed (a GPU may still be
    missing: ``tapegrad.cuda.is_available()`` says)."""
    return importlib.util.find_spec("cupy") is not None


matmul = SimpleNamespace(allow_tf32=False,   # PyTorch's defaults
                         allow_fp16_reduced_precision_reduction=True,
                         allow_bf16_reduced_precision_reduction=True)

__all__ = ["is_built", "matmul"]
