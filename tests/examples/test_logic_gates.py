"""examples/logic_gates.py --quick: a line separates AND and OR, not XOR; an MLP does all three."""
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_example(out):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    result = subprocess.run([sys.executable, "examples/logic_gates.py", "--quick",
                             "--out", str(out)],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_quick_run_saves_the_contours_and_shows_xor_needs_a_hidden_layer(tmp_path):
    stdout = run_example(tmp_path)
    for name in ["decision_contours.png", "loss.png"]:
        path = tmp_path / name
        assert path.is_file() and path.stat().st_size > 0, name
        assert f"saved {path}" in stdout
    assert "AND learned by linear" in stdout
    assert "OR learned by linear" in stdout
    assert "XOR NOT learned by linear" in stdout
    for gate in ["AND", "OR", "XOR"]:
        assert f"{gate} learned by mlp" in stdout
