"""Computing without numpy's floating-point warnings, cheaply.

``with quiet(xp):`` lets the cpu backend compute inf and nan (log of 0, 1/0, exp
overflowing) without numpy's RuntimeWarning; cupy never warns, so there it does nothing.
The contract's ``xp.errstate(all="ignore")`` does this too but costs a few microseconds per
use, as much as a small operation itself. Since numpy 2 the error state is a context variable,
and setting that variable directly to a state made once costs a tenth of a microsecond,
so that is what ``quiet`` does where numpy has it (and uses ``numpy.errstate`` where not).
"""
from contextlib import nullcontext

try:
    from numpy._core._ufunc_config import _extobj_contextvar
    from numpy._core.umath import _make_extobj
    _IGNORE_ALL = _make_extobj(all="ignore")
except ImportError:   # an older numpy
    _extobj_contextvar = None


class _Quiet:
    """numpy's error state set to "ignore" for the duration of a ``with``."""

    __slots__ = ("token",)

    def __enter__(self):
        self.token = _extobj_contextvar.set(_IGNORE_ALL)

    def __exit__(self, *error):
        _extobj_contextvar.reset(self.token)


def quiet(xp):
    """A context in which the backend namespace ``xp`` computes inf and nan without warnings."""
    if xp.is_gpu:   # cupy never warns
        return nullcontext()
    if _extobj_contextvar is None:
        return xp.errstate(all="ignore")
    return _Quiet()


def silence_floating_point_warnings_inside_tapegrad():
    """numpy's RuntimeWarnings (inf - inf, 0·inf, an overflow) raised by tapegrad's own
    operations are dropped, as PyTorch computes inf and nan silently. A warnings filter costs
    nothing until a warning is raised, unlike ``quiet`` around every operation, and it
    matches only warnings attributed to tapegrad's modules: numpy in your own code still
    warns as it always has."""
    import warnings
    warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"tapegrad(\.|$)")
