"""examples/universal_approximation.py --quick: wider hidden layers fit sin(x) better."""
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_example(out):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    result = subprocess.run([sys.executable, "examples/universal_approximation.py", "--quick",
                             "--out", str(out)],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_quick_run_saves_the_fits_and_the_error_shrinks_with_width(tmp_path):
    stdout = run_example(tmp_path)
    for name in ["fits.png", "error.png"]:
        path = tmp_path / name
        assert path.is_file() and path.stat().st_size > 0, name
        assert f"saved {path}" in stdout
    # Rows: width, sin RMS error, sin max error, step RMS error, step max error.
    rows = re.findall(r"^\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)$", stdout,
                      flags=re.MULTILINE)
    errors = {int(width): [float(e) for e in rest] for width, *rest in rows}
    assert sorted(errors) == [1, 4, 16]
    assert errors[16][0] < errors[4][0] < errors[1][0]     # sin: RMS error falls with width
    assert errors[16][2] < errors[1][2]                    # the step too, from 1 to 16 units
    assert all(errors[w][3] >= 0.9 for w in errors)        # at a jump a continuous g errs by ~1
