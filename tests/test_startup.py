"""`import tapegrad` loads only what every program needs: the optional parts (plots, ONNX,
TensorBoard, MPI, progress bars) load on first use, and PyTorch never."""
import os
import subprocess
import sys

DEFERRED = ("matplotlib", "onnx", "onnxruntime", "tensorboard", "mpi4py", "tqdm", "torch",
            "PIL")


def test_importing_tapegrad_leaves_the_optional_packages_unloaded():
    code = ("import sys, tapegrad\n"
            f"loaded = [name for name in {DEFERRED!r} if name in sys.modules]\n"
            "print(','.join(loaded))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=os.environ.copy(), check=True)
    assert result.stdout.strip() == "", f"import tapegrad loaded {result.stdout.strip()}"
