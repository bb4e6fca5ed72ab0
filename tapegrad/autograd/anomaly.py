"""Anomaly detection: find the first operation that turns finite numbers into NaN or ∞.

A NaN in a loss is reported far from where it was born: ``log(0)`` five layers down
becomes ``nan`` everywhere after it. With anomaly mode on (``detect_anomaly()`` or
``set_detect_anomaly(True)``):

* every operation remembers the line of *your* code that called it;
* the first forward operation whose result has a NaN or an infinity although its inputs
  were finite raises at once, naming the operation, your line, and its inputs;
* the first backward function that returns a NaN or an infinity raises, naming its
  operation and the forward line that created it;
* in-place changes remember their line, so the in-place version error can name it.

With anomaly mode off, each operation pays one flag check and nothing else.
"""
import functools
import linecache
import os
import sys

_enabled = False
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


class AnomalyError(RuntimeError):
    """An operation produced a NaN or an infinity (raised only in anomaly mode)."""


def is_anomaly_enabled():
    return _enabled


def _set(mode):
    global _enabled
    _enabled = bool(mode)


class detect_anomaly:
    """Context manager (and decorator) that turns anomaly mode on inside it."""

    def __init__(self, check_nan=True):
        self.check_nan = check_nan

    def __enter__(self):
        self._previous = _enabled
        _set(self.check_nan)
        return self

    def __exit__(self, *exc_info):
        _set(self._previous)
        return False

    def __call__(self, function):
        @functools.wraps(function)
        def run_with_anomaly_detection(*args, **kwargs):
            with detect_anomaly(self.check_nan):
                return function(*args, **kwargs)
        return run_with_anomaly_detection


class set_detect_anomaly:
    """``set_detect_anomaly(True)`` switches anomaly mode on now (and off again at the end
    of a ``with`` block, if used as one)."""

    def __init__(self, mode):
        self._previous = _enabled
        _set(mode)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        _set(self._previous)
        return False


class Where:
    """A line of the user's code: file, line number, function and source text."""

    __slots__ = ("filename", "lineno", "function", "source")

    def __init__(self, filename, lineno, function):
        self.filename, self.lineno, self.function = filename, lineno, function
        self.source = linecache.getline(filename, lineno).strip()

    def __str__(self):
        text = f'File "{self.filename}", line {self.lineno}, in {self.function}'
        return text + (f"\n    {self.source}" if self.source else "")


def user_frame():
    """Where the user's code called into tapegrad: the innermost frame outside the package."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame = frame.f_back
    if frame is None:
        return None
    return Where(frame.f_code.co_filename, frame.f_lineno, frame.f_code.co_name)


def _describe(array):
    """Shape, dtype and value range of an array, for the report."""
    xp = _xp_of(array)
    if array.size == 0 or array.dtype.kind not in "fiub":
        return f"shape {tuple(array.shape)}, {array.dtype}"
    values = array.astype("float64") if array.dtype.kind != "f" else array
    finite = values[xp.isfinite(values)]
    span = (f"values in [{float(finite.min()):.6g}, {float(finite.max()):.6g}]"
            if finite.size else "no finite values")
    bad = int(values.size - finite.size)
    return (f"shape {tuple(array.shape)}, {array.dtype}, {span}"
            + (f", {bad} NaN/inf" if bad else ""))


def _xp_of(array):
    from ..backend import device_of_array
    return device_of_array(array).xp


def _is_finite(array):
    if array.dtype.kind != "f":
        return True
    return bool(_xp_of(array).isfinite(array).all())


def check_forward(op, result, inputs):
    """Raise if ``op`` made a NaN or an infinity out of finite inputs."""
    if not hasattr(result, "dtype") or _is_finite(result):
        return
    input_arrays = [t.array for t in inputs if t is not None]
    if not all(_is_finite(a) for a in input_arrays):
        return  # the non-finite value came in from outside; it was reported where it was born
    where = user_frame()
    lines = [f"anomaly: '{op}' produced NaN or infinity from finite inputs",
             f"at {where}" if where else "",
             f"  result: {_describe(result)}"]
    lines += [f"  input {i}: {_describe(a)}" for i, a in enumerate(input_arrays)]
    raise AnomalyError("\n".join(line for line in lines if line))


def check_backward(node, gradients):
    """Raise if the backward of ``node`` returned a NaN or an infinity."""
    for index, g in enumerate(gradients):
        if g is not None and not _is_finite(g.array):
            created = (f"\n'{node.op}' was created at {node.anomaly_trace}"
                       if node.anomaly_trace else "")
            raise AnomalyError(
                f"anomaly: the backward of '{node.op}' produced NaN or infinity in the gradient "
                f"for its input {index} ({_describe(g.array)}){created}")
