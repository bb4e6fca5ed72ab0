"""Where does a training step spend its time? ``tapegrad.autograd.profile()``.

    with tg.autograd.profile() as prof:
        loss = loss_fn(model(x), y)
        loss.backward()
    print(prof)          # a table per operation: calls, forward and backward time

While the block runs, the profile watches the tape: it is an observer of ``record``
(see ``tape.py``), so it sees every operation that is recorded, whichever way it was
called (a method, ``tg.``, ``F.linear``'s ``addmm``, a layer's convolution), and the
engine times each backward function (``engine.run``). Nothing is swapped or patched;
outside a profile block operations cost nothing extra.

An operation's forward time is the time since the previous event (the block's start,
the previous operation, the end of a backward): operations report themselves when they
finish, so the Python that prepares an operation's arguments counts toward it. Work
outside the tape that would otherwise land on the next operation reports itself with
``mark``: an optimizer's ``step`` and ``zero_grad`` are rows of their own, and each
``Module`` call closes the time since the last operation as "(between operations)" (the
data loading, logging and other Python of a step).
Operations run by a backward function count toward that backward, not as forwards.
"""
import time

from . import tape

active = None  # the running profile, read by the engine


# The row for time no operation can claim: the Python between a step's operations (data,
# logging, your own code) up to the next layer's call.
BETWEEN_OPERATIONS = "(between operations)"


def mark(name):
    """Code outside the tape (an optimizer's step) has just finished: while a profile runs,
    its time since the previous event is a row ``name`` of its own."""
    if active is not None:
        active._observe(name, (), (), None, None)


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
        self._depth = 0        # > 0 while the engine runs backward functions
        self._last = None      # when the previous event ended

    # -- collecting ---------------------------------------------------------------------
    def _entry(self, name):
        entry = self.stats.get(name)
        if entry is None:
            entry = self.stats[name] = OperationStats()
        return entry

    def _observe(self, op, inputs, outputs, node, attrs):
        """The tape's observer: one recorded forward operation has just finished."""
        if self._depth or (attrs is not None and attrs.get("overwrites")):
            return   # inside a backward, or an in-place write of a result already counted
        now = time.perf_counter()
        entry = self._entry(op)
        entry.calls += 1
        entry.forward_seconds += now - self._last
        self._last = now

    def run_backward(self, node, call):
        """Called by the engine around each backward function (in ``engine.run``)."""
        start = time.perf_counter()
        try:
            return call()
        finally:
            entry = self._entry(node.op)
            entry.backward_calls += 1
            self._last = time.perf_counter()
            entry.backward_seconds += self._last - start

    # -- installing the observer ------------------------------------------------------------
    def __enter__(self):
        global active
        if active is not None:
            raise RuntimeError("profile(): a profile is already running")
        active = self
        self._last = time.perf_counter()
        tape.add_observer(self._observe)
        return self

    def __exit__(self, *exc_info):
        global active
        tape.remove_observer(self._observe)
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
        width = max([16] + [len(name) + 1 for name, _ in rows])
        lines = [f"{'operation':<{width}}{'calls':>7}{'forward ms':>12}{'backward calls':>16}"
                 f"{'backward ms':>13}{'total ms':>10}{'share':>8}"]
        for name, s in rows:
            lines.append(f"{name:<{width}}{s.calls:>7}{s.forward_seconds * 1e3:>12.3f}"
                         f"{s.backward_calls:>16}{s.backward_seconds * 1e3:>13.3f}"
                         f"{s.total_seconds * 1e3:>10.3f}{s.total_seconds / total:>8.1%}")
        return "\n".join(lines)

    def __str__(self):
        return self.table()
