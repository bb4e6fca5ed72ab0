"""Random bit generators per device: numpy's PCG64 on the cpu, cupy's on a GPU."""
import numpy


def new_bit_generator(device, seed):
    """A generator for ``device`` seeded with ``seed``: numpy's on cpu, cupy's on cuda."""
    return device.xp.default_rng(seed)


def entropy_seed():
    """A fresh 63-bit seed from the operating system (for ``Generator.seed()``)."""
    return int(numpy.random.SeedSequence().entropy % (2 ** 63))
