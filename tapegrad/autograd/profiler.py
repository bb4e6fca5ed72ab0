"""Where does a training step spend its time? ``tapegrad.autograd.profile()``.

    with tg.autograd.profile() as prof:
        loss = loss_fn(model(x), y)
        loss.backward()
    print(prof)          # a table per operation: calls, forward and backward time

While the block runs, every operation (each function of ``autograd/ops``, and the
Tensor methods and ``tg.`` names bound to it) is swapped for a timed wrapper, and the
engine times each backward function; on exit everything is put back, so outside a
profile block operations cost nothing extra. Only the outermost call is counted: an
operation that calls others internally (``var`` calls ``mean``) counts once.
"""
import sys
import time

import tapegrad

from . import ops
from .tensor import Tensor

active = None  # the running profile, read by the engine


class OperationStats:
    __slots__ = ("calls", "forward_seconds", "backward_calls", "backward_seconds")

    def __init__(self):
        self.calls = self.backward_calls = 0
        self.forward_seconds = self.backward_seconds = 0.0

    @property
    def total_seconds(self):
        return self.forward_seconds + self.backward_seconds


class profile:
    """Context manager that counts and times every operation, forward and backward."""

    def __init__(self):
        self.stats = {}
        self._depth = 0
        self._swapped = []

    # -- collecting ---------------------------------------------------------------------
    def _entry(self, name):
        entry = self.stats.get(name)
        if entry is None:
            entry = self.stats[name] = OperationStats()
        return entry

    def _timed(self, name, function):
        def timed_operation(*args, **kwargs):
            if self._depth:  # called from inside another operation or a backward
                return function(*args, **kwargs)
            self._depth += 1
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                entry = self._entry(name)
                entry.calls += 1
                entry.forward_seconds += time.perf_counter() - start
                self._depth -= 1
        timed_operation.__wrapped__ = function
        return timed_operation

    def run_backward(self, node, call):
        """Called by the engine around each backward function (inside ``backward_pass``)."""
        start = time.perf_counter()
        try:
            return call()
        finally:
            entry = self._entry(node.op)
            entry.backward_calls += 1
            entry.backward_seconds += time.perf_counter() - start

    # -- swapping the operations in and out ------------------------------------------------
    def __enter__(self):
        global active
        if active is not None:
            raise RuntimeError("profile(): a profile is already running")
        originals = {}
        for op in ops.OPERATIONS.values():
            originals.setdefault(op.function, op.name)
        wrappers = {function: self._timed(name, function) for function, name in originals.items()}
        places = [sys.modules[function.__module__] for function in originals] + [tapegrad]
        for place in places:
            for attribute, value in list(vars(place).items()):
                if callable(value) and value in wrappers:
                    self._swap(place, attribute, wrappers[value])
        for attribute, value in list(vars(Tensor).items()):
            if callable(value) and value in wrappers:
                self._swap(Tensor, attribute, wrappers[value])
            elif isinstance(value, property) and value.fget in wrappers:  # x.T, x.mT
                self._swap(Tensor, attribute, property(wrappers[value.fget]))
        active = self
        return self

    def _swap(self, place, attribute, replacement):
        self._swapped.append((place, attribute, getattr(place, attribute)))
        setattr(place, attribute, replacement)

    def __exit__(self, *exc_info):
        global active
        for place, attribute, original in reversed(self._swapped):
            setattr(place, attribute, original)
        self._swapped = []
        active = None
        return False

    # -- reporting -------------------------------------------------------------------------
    def table(self, sort_by="total", limit=None):
        """The statistics as a text table, slowest first."""
        keys = {"total": lambda item: item[1].total_seconds,
                "forward": lambda item: item[1].forward_seconds,
                "backward": lambda item: item[1].backward_seconds,
                "calls": lambda item: item[1].calls}
        rows = sorted(self.stats.items(), key=keys[sort_by], reverse=True)[:limit]
        total = sum(s.total_seconds for s in self.stats.values()) or 1.0
        lines = [f"{'operation':<16}{'calls':>7}{'forward ms':>12}{'backward calls':>16}"
                 f"{'backward ms':>13}{'total ms':>10}{'share':>8}"]
        for name, s in rows:
            lines.append(f"{name:<16}{s.calls:>7}{s.forward_seconds * 1e3:>12.3f}"
                         f"{s.backward_calls:>16}{s.backward_seconds * 1e3:>13.3f}"
                         f"{s.total_seconds * 1e3:>10.3f}{s.total_seconds / total:>8.1%}")
        return "\n".join(lines)

    def __str__(self):
        return self.table()

