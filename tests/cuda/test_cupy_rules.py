"""The rules of cupy that tapegrad's cuda path must respect, checked on the array module in use.

On a GPU this is cupy itself; elsewhere it is the fake cupy, and these tests show that the
fake enforces each rule (so that the rest of tests/cuda, run on it, would catch a tapegrad
operation that breaks one).
"""
import numpy as np
import pytest

import tapegrad as tg
from tapegrad import backend

from tapegrad.backend import cuda as backend_cuda

pytestmark = pytest.mark.cuda


@pytest.fixture
def xp():
    """The cupy module itself (real or fake), not tapegrad's namespace over it."""
    return backend_cuda.array_module(0)


def test_a_device_array_never_turns_into_a_numpy_array_implicitly(xp):
    a = xp.arange(3.0)
    with pytest.raises(TypeError):
        np.asarray(a)
    with pytest.raises(TypeError):
        np.concatenate([a, np.ones(2)])
    assert a.get().tolist() == [0.0, 1.0, 2.0] and isinstance(xp.asnumpy(a), np.ndarray)


def test_a_numpy_array_never_meets_a_device_array_in_arithmetic(xp):
    a = xp.arange(3.0)
    for mix in (lambda: a + np.ones(3), lambda: np.ones(3) * a, lambda: xp.maximum(a, np.ones(3)),
                lambda: xp.where(a > 1, a, np.zeros(3))):
        with pytest.raises(TypeError):
            mix()
    assert (a * np.float32(2)).get().tolist() == [0.0, 2.0, 4.0]   # numpy scalars are fine
    assert (a + 1).get().tolist() == [1.0, 2.0, 3.0]


def test_tapegrads_numba_cpu_kernels_refuse_a_device_array(xp):
    from tapegrad.kernels.cpu.index_add import index_add
    out, src = xp.zeros((1, 3, 1)), xp.ones((1, 2, 1))
    with pytest.raises(Exception, match="(?i)type|implicit|unsupported"):
        index_add(out, np.array([0, 2]), src)


def test_reductions_and_integer_indexing_give_0d_device_arrays(xp):
    a = xp.arange(6.0).reshape(2, 3)
    for value in (a.sum(), a.max(), a[1, 2], xp.linalg.norm(a)):
        assert isinstance(value, xp.ndarray) and value.ndim == 0
    assert float(a.sum()) == 15.0 and int(a.argmax()) == 5


def test_cupys_api_differs_from_numpys_here(xp):
    a = xp.arange(8.0)
    with pytest.raises(TypeError):   # as_strided has no writeable argument
        xp.lib.stride_tricks.as_strided(a, shape=(2, 2), strides=(16, 8), writeable=False)
    out = xp.zeros(3)
    xp.add.at(out, xp.asarray([0, 0, 2]), xp.ones(3))   # float64 has one
    assert out.get().tolist() == [2.0, 0.0, 1.0]
    assert not hasattr(xp, "errstate")


def test_unravel_index_and_polygamma_want_device_arrays_not_python_ints(xp):
    # cupy hands unravel_index's indices to numpy's can_cast (which refuses a Python int),
    # and its polygamma calls n.astype: tapegrad passes arrays to both
    import cupyx.scipy.special
    with pytest.raises(TypeError):
        xp.unravel_index(5, (2, 3))
    assert [int(i) for i in xp.unravel_index(xp.asarray(5), (2, 3))] == [1, 2]
    x = xp.asarray([0.5, 2.0])
    with pytest.raises(AttributeError):
        cupyx.scipy.special.polygamma(1, x)
    trigamma = cupyx.scipy.special.polygamma(xp.asarray(1), x)
    assert np.allclose(trigamma.get(), [4.934802200544679, 0.6449340668482264])


def test_tapegrads_scatter_add_gives_numpys_sums_in_every_dtype():
    # CUDA has atomic additions for a few dtypes only (cupy before 14 refuses int64):
    # tapegrad's add_at widens the others, so repeated positions add up in any dtype
    cpu, gpu = tg.device("cpu").xp, tg.device("cuda").xp
    for dtype in ("int8", "int16", "uint8", "int64", "float16", "float32", "float64"):
        out, positions, values = np.zeros(3, dtype), np.array([0, 0, 2, 0]), np.arange(1, 5)
        on_gpu = gpu.asarray(out)
        gpu.add_at(on_gpu, gpu.asarray(positions), gpu.asarray(values.astype(dtype)))
        cpu.add_at(out, positions, values.astype(dtype))
        assert backend.to_numpy(on_gpu).tolist() == out.tolist() == [7, 0, 3], dtype


def test_an_array_lives_on_a_device_and_copy_moves_it_to_the_current_one(xp):
    a = xp.arange(3.0)
    assert a.device.id == 0 and xp.cuda.runtime.getDevice() == 0
    if xp.cuda.runtime.getDeviceCount() > 1:
        with xp.cuda.Device(1):
            assert xp.asarray(a) is a   # asarray does not move an array...
            moved = a.copy()            # ...copy() does
        assert moved.device.id == 1 and moved.get().tolist() == [0.0, 1.0, 2.0]
