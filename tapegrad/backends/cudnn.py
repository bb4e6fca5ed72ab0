"""``torch.backends.cudnn``: cuDNN's flags. tapegrad does not use cuDNN; its CUDA
convolutions are the kernels in ``tapegrad/kernels/cuda``, which are deterministic and need
no benchmarking, so the flags are read and written but select nothing."""

enabled = True          # PyTorch's defaults
benchmark = False
deterministic = False
allow_tf32 = True


def is_available():
    """False: tapegrad never calls cuDNN."""
    return False


def version():
    """None: no cuDNN is loaded."""
    return None


__all__ = ["allow_tf32", "benchmark", "deterministic", "enabled", "is_available", "version"]
