"""examples/second_derivatives.py --quick: Hessian-vector products, Newton, a gradient penalty."""
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_second_derivatives_quick_checks_hvp_newton_and_penalty_and_saves_figures(tmp_path):
    result = subprocess.run([sys.executable, "examples/second_derivatives.py", "--quick",
                             "--out", str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                            timeout=120, env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for name in ("newton_vs_gd.png", "gradient_penalty.png"):
        assert (tmp_path / name).stat().st_size > 0, name
    # H·v from double backward matches the formula and the row-by-row Hessian to rounding,
    # and finite differences of gradients to their own truncation error.
    errors = [float(e) for e in re.findall(r"max \|H.*?\s([\d.]+e[+-]\d+)$", out, re.M)]
    assert len(errors) == 4, out
    assert max(errors[0], errors[1], errors[3]) < 1e-12 and errors[2] < 1e-7, out
    # Newton reaches the minimum of Rosenbrock in 6 steps; gradient descent does not.
    newton_final = float(re.search(r"^\s+6\s+\S+\s+\S+\s+(\S+)$", out, re.M).group(1))
    assert newton_final < 1e-15, out
    gd_final = float(re.search(r"after \d+ steps: f = (\S+)", out).group(1))
    assert gd_final > 1e-3, out
    # The penalty's gradient reaches every weight except the last bias, and is right.
    assert "4.bias     None" in out and "0.weight   None" not in out
    autograd, finite = re.search(r"autograd (\S+), finite differences (\S+)", out).groups()
    assert abs(float(autograd) - float(finite)) < 1e-7
    assert "∇ₓD.requires_grad = False" in out
    # A few critic steps already pull the penalty down.
    penalties = [float(p) for p in re.findall(r" P ([\d.]+), mean", out)]
    assert penalties[-1] < 0.5 * penalties[0], out
