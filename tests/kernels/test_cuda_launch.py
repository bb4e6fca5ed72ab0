"""How tapegrad launches a numba.cuda kernel (tapegrad/kernels/cuda/launch.py), checked with
a stand-in kernel: the parts that need no GPU."""
import warnings

import pytest
from numba.core.errors import NumbaPerformanceWarning

import tapegrad as tg
from tapegrad.kernels.cuda import launch


class WarningKernel:
    """Stands in for a compiled kernel: records its launch shape and warns as numba does of
    a grid smaller than the GPU."""

    def __init__(self):
        self.launches = []

    def __getitem__(self, shape):
        def run(*args):
            self.launches.append((shape, args))
            warnings.warn("Grid size 1 will likely result in GPU under-utilization due to low "
                          "occupancy.", NumbaPerformanceWarning)
        return run


def test_a_small_grid_launches_without_numbas_occupancy_warning():
    kernel = WarningKernel()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        launch.run(kernel, tg.device("cpu").xp, 1, 32, 7)
    assert kernel.launches == [((1, 32), (7,))]


def test_other_warnings_of_a_launch_still_reach_the_caller():
    class Loud(WarningKernel):
        def __getitem__(self, shape):
            return lambda *args: warnings.warn("something else", UserWarning)
    with pytest.warns(UserWarning, match="something else"):
        launch.run(Loud(), tg.device("cpu").xp, 1, 32)


def test_nothing_is_launched_over_an_empty_range():
    kernel = WarningKernel()
    launch.launch(kernel, tg.device("cpu").xp, 0, 1.0)
    assert kernel.launches == []
