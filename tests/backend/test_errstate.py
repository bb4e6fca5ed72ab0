"""backend/errstate.py: ``quiet(xp)`` silences numpy's floating-point warnings for the
duration of a ``with`` and restores the caller's own error state afterwards."""
import warnings

import numpy as np
import pytest

from tapegrad.backend import CPU
from tapegrad.backend.errstate import quiet

xp = CPU.xp


def runtime_warnings(fn):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fn()
    return [w for w in caught if issubclass(w.category, RuntimeWarning)]


def test_inside_quiet_numpy_computes_inf_and_nan_silently():
    def compute():
        with quiet(xp):
            assert np.log(np.zeros(1))[0] == -np.inf
            assert np.isnan(np.sqrt(-np.ones(1))[0])
            assert np.exp(np.full(1, 1000.0))[0] == np.inf
    assert not runtime_warnings(compute)


def test_the_callers_error_state_comes_back_even_after_an_error():
    with np.errstate(divide="raise"):
        with pytest.raises(ValueError):
            with quiet(xp):
                np.log(np.zeros(1))
                raise ValueError("leaving the block by an exception")
        assert np.geterr()["divide"] == "raise"
        with pytest.raises(FloatingPointError):
            np.log(np.zeros(1))
    assert runtime_warnings(lambda: np.log(np.zeros(1)))


def test_quiet_blocks_nest():
    with quiet(xp):
        with quiet(xp):
            pass
        assert not runtime_warnings(lambda: np.log(np.zeros(1)))
    assert runtime_warnings(lambda: np.log(np.zeros(1)))


def test_a_gpu_backend_gets_a_context_that_does_nothing():
    class GPUNamespace:
        is_gpu = True
    with quiet(GPUNamespace()):
        pass


def test_tapegrads_operations_compute_inf_and_nan_without_warnings_but_numpy_still_warns():
    # In a script of its own, as a user runs one (pytest would reset the warning filters
    # that importing tapegrad installs when its collection ends).
    import subprocess
    import sys
    script = """
import warnings
import numpy as np
import tapegrad as tg
infinity = tg.tensor([float("inf")])
infinity - infinity, tg.tensor([0.0]) * infinity, tg.tensor([1e38]) * 10
print("tapegrad done", flush=True)
np.array([1.0]) / 0
"""
    result = subprocess.run([sys.executable, "-W", "default", "-c", script], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "tapegrad done" in result.stdout
    warnings_seen = [line for line in result.stderr.splitlines() if "RuntimeWarning" in line]
    assert len(warnings_seen) == 1 and "divide by zero" in warnings_seen[0], result.stderr
