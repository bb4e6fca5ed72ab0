"""examples/custom_function.py --quick: a hand-written SiLU Function, checked and trained."""
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_custom_function_quick_checks_catches_the_bug_trains_and_saves_figures(tmp_path):
    result = subprocess.run([sys.executable, "examples/custom_function.py", "--quick", "--out",
                             str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                            timeout=120, env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for name in ("silu_derivatives.png", "training.png"):
        assert (tmp_path / name).stat().st_size > 0, name
    # The right backward passes both checks on every input; the planted bug is caught.
    assert out.count("gradcheck True, gradgradcheck True") == 4, out
    assert "Jacobian mismatch for input 0" in out
    assert "WrongSiLU passes gradcheck: False" in out
    assert "leaves one node, SiLUBackward" in out
    # Autograd's derivatives equal the formulas to float64 rounding.
    errors = re.findall(r"max \|autograd − formula\| ([\d.e+-]+)", out)
    assert len(errors) == 2 and all(float(e) < 1e-12 for e in errors), out
    # The MLP with the Function learns: the data's variance is about 0.45, its noise 0.01.
    final = float(re.search(r"final training loss ([\d.]+)", out).group(1))
    assert final < 0.1, out
