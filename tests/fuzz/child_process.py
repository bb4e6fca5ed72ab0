"""Programs run in a child process, so that a crash in native code ends one program, not the run.

A kernel that writes out of bounds (PyTorch's or tapegrad's) corrupts the heap, and the
process dies later, often in another program. Run in the fuzzer's own process, that
ends a ten-minute run with nothing but the last checkpoint. Here a forked child runs the
programs, one seed per request over a pipe; when it dies, the seed it was running
becomes a ``crash`` finding, named by the innermost Python frame that ``faulthandler``
wrote as it died (which library was running), and a new child goes on from the next seed.
A child that answers nothing for ``HANG_SECONDS`` (a deadlock: waiting uses no CPU time,
so the per-program CPU limit never fires) is killed and its seed is a ``hang`` finding.
"""
import faulthandler
import multiprocessing
import os
import re
import signal
import tempfile
import traceback

from .libraries import Finding

HANG_SECONDS = 300


class FuzzerError(RuntimeError):
    """An exception the fuzzer's own code raised in the child, with its traceback."""


class ChildRunner:
    """``runner(seed) -> (findings, description)``, the program run by ``run_one(seed)`` in
    a forked child, restarted after it dies. ``close()`` ends the child."""

    def __init__(self, run_one):
        self.run_one = run_one
        self.child = None
        self.connection = None
        self.trace_path = None

    def __call__(self, seed):
        if self.child is None:
            self._start()
        self.connection.send(seed)
        if not self.connection.poll(HANG_SECONDS):
            self._forget_child()
            return [Finding("hang", "?", f"the program answered nothing for {HANG_SECONDS} s",
                            seed)], None
        try:
            answer = self.connection.recv()
        except EOFError:   # the child died while running the program
            return [self._finding_for_the_death_of_the_child(seed)], None
        if isinstance(answer, FuzzerError):
            raise answer   # (a bug of the fuzzer's own ends the run, as it would in-process)
        return answer

    def close(self):
        if self.child is not None:
            self.connection.send(None)
            self.child.join(timeout=10)
            self._forget_child()

    def _start(self):
        descriptor, self.trace_path = tempfile.mkstemp(prefix="fuzz-crash-", suffix=".txt")
        os.close(descriptor)
        ours, theirs = multiprocessing.get_context("fork").Pipe()
        self.child = multiprocessing.get_context("fork").Process(
            target=_serve, args=(theirs, self.run_one, self.trace_path), daemon=True)
        self.child.start()
        theirs.close()   # (so that the child's death reads as end of file here)
        self.connection = ours

    def _finding_for_the_death_of_the_child(self, seed):
        self.child.join(timeout=10)
        code = self.child.exitcode
        with open(self.trace_path) as file:
            trace = file.read()
        self._forget_child()
        how = (signal.Signals(-code).name if code is not None and code < 0
               else f"exit status {code}")
        place, function = innermost_frame(trace)
        return Finding("crash", function, f"the process died of {how} in {place}", seed)

    def _forget_child(self):
        self.connection.close()
        if self.child.is_alive():
            self.child.kill()
            self.child.join()
        os.unlink(self.trace_path)
        self.child = self.connection = self.trace_path = None


def _serve(connection, run_one, trace_path):
    trace = open(trace_path, "w")
    faulthandler.enable(file=trace)
    while True:
        seed = connection.recv()
        if seed is None:
            return
        try:
            answer = run_one(seed)
        except Exception:
            answer = FuzzerError(f"the fuzzer raised at seed {seed}:\n{traceback.format_exc()}")
        connection.send(answer)


def innermost_frame(trace):
    """(``package/file.py:line``, function) of the first frame ``faulthandler`` wrote (the
    most recent call), the path cut to start at the package (torch/, tapegrad/, tests/)."""
    match = re.search(r'File "([^"]*)", line (\d+) in (\S+)', trace)
    if match is None:
        return "native code with no Python frame", "?"
    path, line, function = match.groups()
    package = re.search(r"(?:^|/)((?:torch|tapegrad|tests|numpy|numba)/.*)$", path)
    return f"{package.group(1) if package else path}:{line}", function
