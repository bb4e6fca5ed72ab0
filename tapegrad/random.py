"""Reproducible randomness: ``tg.manual_seed(n)`` and ``tg.Generator``.

Every random draw in tapegrad (``randn``, initialisation, dropout, data shuffling)
takes a Generator, or uses the default one that ``manual_seed`` reseeds. A Generator
keeps one bit generator per device, all started from its seed.
"""
from . import backend
from .backend.random import entropy_seed, new_bit_generator

DEFAULT_SEED = 67280421310721  # PyTorch's default cpu seed: runs are repeatable even unseeded


class Generator:
    """A source of random numbers; ``Generator().manual_seed(n)`` as in PyTorch."""

    def __init__(self, device="cpu"):
        self.device = backend.as_device(device)
        self._seed = DEFAULT_SEED
        self._device_type_seeds = {}   # a seed one device type was given on its own
        self._bit_generators = {}

    def manual_seed(self, seed):
        self._seed = self._checked(seed)
        self._device_type_seeds = {}
        self._bit_generators = {}
        return self

    def _manual_seed_device_type(self, device_type, seed):
        """Reseed the draws on devices of one type ("cuda") only (``torch.cuda.manual_seed``)."""
        self._device_type_seeds[device_type] = self._checked(seed)
        self._bit_generators = {d: rng for d, rng in self._bit_generators.items()
                                if d.type != device_type}

    @staticmethod
    def _checked(seed):
        seed = int(seed)
        if not -0x8000_0000_0000_0000 <= seed <= 0xffff_ffff_ffff_ffff:
            raise RuntimeError(f"manual_seed: seed must be within [-0x8000_0000_0000_0000, "
                               f"0xffff_ffff_ffff_ffff], got {seed}")
        if seed < 0:  # PyTorch's rule for negative seeds
            seed = 0xffff_ffff_ffff_ffff + seed
        return seed

    def seed(self):
        """Reseed from the operating system's entropy and return the new seed."""
        self.manual_seed(entropy_seed())
        return self._seed

    def initial_seed(self):
        return self._seed

    def for_device(self, device):
        """The bit generator that draws numbers directly on ``device``."""
        device = backend.as_device(device)
        rng = self._bit_generators.get(device)
        if rng is None:
            seed = self._device_type_seeds.get(device.type, self._seed)
            rng = self._bit_generators[device] = new_bit_generator(device, seed)
        return rng

    def get_state(self):
        return {"seed": self._seed,
                "cpu": self.for_device("cpu").bit_generator.state}

    def set_state(self, state):
        self.manual_seed(state["seed"])
        self.for_device("cpu").bit_generator.state = state["cpu"]
        return self


default_generator = Generator()


def manual_seed(seed):
    """Reseed the default generator on every device, so every random draw repeats."""
    return default_generator.manual_seed(seed)


def seed():
    return default_generator.seed()


def initial_seed():
    return default_generator.initial_seed()


def rng_for(device, generator=None):
    """The backend generator that draws for ``device``: from ``generator`` or the default."""
    if generator is not None and not isinstance(generator, Generator):
        raise TypeError(f"generator must be a tapegrad.Generator (or None), got "
                        f"{type(generator).__name__} {generator!r}")
    return (generator or default_generator).for_device(device)
