"""benchmarks/gpu.py runs end to end in --smoke (the CUDA kernels in numba's simulator, tiny
shapes, the cpu): its conv kernels agree with the reference and both models train. The GPU
figures themselves are measured by hand on a GPU, never in tests."""
import json
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu.py"


def test_the_smoke_run_checks_the_kernels_and_trains_both_models(tmp_path):
    out = tmp_path / "results.json"
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    subprocess.run([sys.executable, str(SCRIPT), "--smoke", "--no-implicit", "--json", str(out)],
                   check=True, capture_output=True, text=True, env=env, timeout=300)
    results = json.loads(out.read_text())
    assert results["device"].startswith("cpu (--smoke")
    passes = [row["pass"] for row in results["conv2d"]]
    assert passes == ["forward", "input gradient", "weight gradient", "forward + backward"]
    for row in results["conv2d"][:3]:
        assert row["im2col"] > 0
        if "im2col error" in row:   # with PyTorch installed: compared with its conv2d
            assert row["im2col error"] < 1e-5
    assert [row["model"] for row in results["training"]] == ["LeNet-5", "ResNet-8"]
    assert all(row["tapegrad"] > 0 for row in results["training"])
