"""``spawn(fn, args, nprocs)``: start ``nprocs`` processes running ``fn(i, *args)`` and wait.

Each child runs ``fn`` inside a wrapper that catches any exception and sends its formatted
traceback to the parent through a pipe. The parent waits on the children and on their
pipes together, so a traceback longer than a pipe's buffer is read while the child is still
writing it (waiting for the child to exit first would leave both waiting). At the first
failure it stops the others and raises ``ProcessRaisedException`` (or, for a child that died
without a Python exception, ``ProcessExitedException``) carrying the child's traceback.
"""
import multiprocessing
import multiprocessing.connection
import signal
import sys
import traceback


class ProcessException(Exception):
    def __init__(self, msg, error_index, pid):
        super().__init__(msg)
        self.msg, self.error_index, self.pid = msg, error_index, pid

    def __reduce__(self):
        return type(self), (self.msg, self.error_index, self.pid)


class ProcessRaisedException(ProcessException):
    """A child raised an exception; the message holds its traceback."""


class ProcessExitedException(ProcessException):
    """A child exited with a nonzero code or was killed by a signal."""

    def __init__(self, msg, error_index, error_pid, exit_code, signal_name=None):
        super().__init__(msg, error_index, error_pid)
        self.exit_code, self.signal_name = exit_code, signal_name

    def __reduce__(self):
        return (type(self), (self.msg, self.error_index, self.pid, self.exit_code,
                             self.signal_name))


def _wrap(fn, i, args, error_pipe):
    try:
        fn(i, *args)
    except KeyboardInterrupt:
        pass   # the parent stopped us
    except Exception:  # noqa: BLE001  (any error goes to the parent, with its traceback)
        error_pipe.send(traceback.format_exc())
        sys.exit(1)


class ProcessContext:
    """The started processes; ``join()`` waits for them and raises a child's error."""

    def __init__(self, processes, error_pipes):
        self.processes, self.error_pipes = processes, error_pipes
        self.sentinels = {p.sentinel: i for i, p in enumerate(processes)}
        self.unread = {pipe: i for i, pipe in enumerate(error_pipes)}
        self.errors = {}   # process index -> the traceback it sent

    def pids(self):
        return [p.pid for p in self.processes]

    def _read(self, pipe):
        i = self.unread.pop(pipe)
        try:
            self.errors[i] = pipe.recv()
        except EOFError:   # the child closed its end without sending: it had no error
            pass

    def join(self, timeout=None):
        """Wait up to ``timeout`` seconds; True when every process has finished cleanly."""
        if not self.sentinels:
            return True
        ready = multiprocessing.connection.wait(list(self.sentinels) + list(self.unread),
                                                timeout=timeout)
        failed = None
        for waited in ready:
            if waited in self.unread:
                self._read(waited)
                continue
            i = self.sentinels.pop(waited)
            process = self.processes[i]
            process.join()
            if process.exitcode != 0 and failed is None:
                failed = i
        if failed is None:
            return not self.sentinels
        for process in self.processes:   # one failed: stop the others
            if process.is_alive():
                process.terminate()
            process.join()
        self.sentinels = {}
        process, pipe = self.processes[failed], self.error_pipes[failed]
        if pipe in self.unread and pipe.poll():
            self._read(pipe)
        if failed not in self.errors:
            code = process.exitcode
            if code < 0:
                name = signal.Signals(-code).name
                raise ProcessExitedException(f"process {failed} terminated with signal {name}",
                                             failed, process.pid, code, name)
            raise ProcessExitedException(f"process {failed} terminated with exit code {code}",
                                         failed, process.pid, code)
        message = (f"\n\n-- Process {failed} terminated with the following error:\n"
                   + self.errors[failed])
        raise ProcessRaisedException(message, failed, process.pid)


def start_processes(fn, args=(), nprocs=1, join=True, daemon=False, start_method="spawn"):
    context = multiprocessing.get_context(start_method)
    processes, error_pipes = [], []
    for i in range(nprocs):
        reader, writer = context.Pipe(duplex=False)
        process = context.Process(target=_wrap, args=(fn, i, args, writer), daemon=daemon)
        process.start()
        writer.close()   # the child holds the writing end now: its exit ends the pipe
        processes.append(process)
        error_pipes.append(reader)
    result = ProcessContext(processes, error_pipes)
    if not join:
        return result
    while not result.join():
        pass


def spawn(fn, args=(), nprocs=1, join=True, daemon=False, start_method="spawn"):
    """Run ``fn(i, *args)`` for i in 0 … nprocs-1, each in a new process; with ``join``, wait
    for all of them and raise in the parent any error a child raised (with its traceback).
    Returns None when ``join``, else a ``ProcessContext`` to ``join()`` later."""
    return start_processes(fn, args, nprocs, join, daemon, start_method)
