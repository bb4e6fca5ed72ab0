"""The rules of cupy that tapegrad's cuda path must respect, checked on the array module in use.

On a GPU this is cupy itself; elsewhere it is the fake cupy, and these tests show that the
fake enforces each rule (so that the rest of tests/cuda, run on it, would catch a tapegrad
operation that breaks one).
"""
import numpy as np
import pytest

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
    with pytest.raises(TypeError):   # atomic adds exist for some dtypes only: not int64
        xp.add.at(xp.zeros(3, dtype="int64"), xp.asarray([0, 0]), xp.ones(2, dtype="int64"))
    out = xp.zeros(3)
    xp.add.at(out, xp.asarray([0, 0, 2]), xp.ones(3))   # float64 has one
    assert out.get().tolist() == [2.0, 0.0, 1.0]
    assert not hasattr(xp, "errstate")


def test_an_array_lives_on_a_device_and_copy_moves_it_to_the_current_one(xp):
    a = xp.arange(3.0)
    assert a.device.id == 0 and xp.cuda.runtime.getDevice() == 0
    if xp.cuda.runtime.getDeviceCount() > 1:
        with xp.cuda.Device(1):
            assert xp.asarray(a) is a   # asarray does not move an array...
            moved = a.copy()            # ...copy() does
        assert moved.device.id == 1 and moved.get().tolist() == [0.0, 1.0, 2.0]
