"""benchmarks/models.py runs end to end (tiny sizes, one round, tapegrad only): every model
of its table builds and trains, and the memory and start-up children report. The numbers
themselves are measured by hand, never in tests."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "models.py"


def run(tmp_path, *arguments):
    out = tmp_path / "results.json"
    subprocess.run([sys.executable, str(SCRIPT), "--smoke", "--no-torch", "--json", str(out),
                    *arguments], check=True, capture_output=True, text=True,
                   env=os.environ.copy(), timeout=300)
    return json.loads(out.read_text())


def test_every_model_trains_in_the_timing_run(tmp_path):
    results = run(tmp_path, "--threads", "1", "--skip", "memory,startup")
    rows = results["time"]["1"]["workloads"]
    assert list(rows) == ["mlp128", "mlp16", "lenet", "conv", "rnn", "lstm", "cifar", "resnet",
                          "lstm_lm", "transformer", "mlp_adam"]
    assert all(row["ms"]["tapegrad"] > 0 for row in rows.values())


def test_memory_and_start_up_are_measured_in_their_own_processes(tmp_path):
    results = run(tmp_path, "--workloads", "cifar", "--skip", "time")
    assert results["memory"]["cifar"]["tapegrad"]["peak_mib"] > 0
    startup = results["startup"]["tapegrad"]
    assert startup["import_s"] > 0 and startup["first_step_s"] > 0


def test_the_avx2_run_tells_each_library_to_stay_within_avx2(tmp_path):
    results = run(tmp_path, "--workloads", "mlp16", "--threads", "1", "--skip", "memory,startup",
                  "--isa", "avx2")
    timing = results["time"]["1"]
    assert "numba target haswell" in timing["instructions"]
    assert "kernels Haswell" in timing["blas"] or "not an OpenBLAS" in timing["blas"]


def test_each_contender_is_timed_in_a_process_of_its_own(tmp_path):
    # tapegrad sets glibc's malloc thresholds at import (tapegrad/backend/heap.py): PyTorch is
    # timed without them, in a process that never imports tapegrad
    pytest.importorskip("torch")
    out = tmp_path / "results.json"
    subprocess.run([sys.executable, str(SCRIPT), "--smoke", "--json", str(out), "--workloads", "mlp16",
                    "--threads", "1", "--skip", "memory,startup"], check=True, capture_output=True,
                   text=True, env=os.environ.copy(), timeout=300)
    timing = json.loads(out.read_text())["time"]["1"]
    assert timing["libraries"] == {"tapegrad": ["tapegrad"], "PyTorch": ["torch"]}
    assert timing["workloads"]["mlp16"]["difference"] < 1e-3
