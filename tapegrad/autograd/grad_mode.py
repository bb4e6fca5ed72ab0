"""Whether operations are recorded on the tape: no_grad, enable_grad, set_grad_enabled.

Each is a context manager and a decorator. Inside ``no_grad()`` operations compute
their values and record nothing, which is how evaluation and optimizer steps run.
"""
import functools

_enabled = True


def is_grad_enabled():
    return _enabled


def _set_enabled(mode):
    global _enabled
    _enabled = bool(mode)


class _GradMode:
    """Sets grad mode on entry and restores the previous mode on exit."""

    mode = True

    def __enter__(self):
        self._previous = _enabled
        _set_enabled(self.mode)
        return self

    def __exit__(self, *exc_info):
        _set_enabled(self._previous)
        return False

    def __call__(self, function):
        mode = self.mode

        @functools.wraps(function)
        def run_in_mode(*args, **kwargs):
            previous = _enabled
            _set_enabled(mode)
            try:
                return function(*args, **kwargs)
            finally:
                _set_enabled(previous)

        return run_in_mode


class no_grad(_GradMode):
    """Compute without recording: results have no grad_fn and require no grad."""

    mode = False


class enable_grad(_GradMode):
    """Record again, e.g. inside a function decorated with ``no_grad``."""

    mode = True


class set_grad_enabled(_GradMode):
    """``set_grad_enabled(False)`` is ``no_grad()``. Unlike the others it acts at once when
    called, as in PyTorch, so it also works as a plain function call."""

    def __init__(self, mode):
        self.mode = bool(mode)
        self._previous = _enabled
        _set_enabled(self.mode)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        _set_enabled(self._previous)
        return False

    def __call__(self, function):
        _set_enabled(self._previous)  # used as a decorator: the mode applies inside calls only
        return super().__call__(function)
