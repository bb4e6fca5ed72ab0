"""``spawn(fn, args, nprocs)``: start ``nprocs`` processes running ``fn(i, *args)`` and wait.

Each child runs ``fn`` inside a wrapper that catches any exception and sends its formatted
traceback to the parent through a queue. The parent waits on all children; at the first
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


def _wrap(fn, i, args, error_queue):
    try:
        fn(i, *args)
    except KeyboardInterrupt:
        pass   # the parent stopped us
    except Exception:  # noqa: BLE001  (any error goes to the parent, with its traceback)
        error_queue.put(traceback.format_exc())
        sys.exit(1)


class ProcessContext:
    """The started processes; ``join()`` waits for them and raises a child's error."""

    def __init__(self, processes, error_queues):
        self.processes, self.error_queues = processes, error_queues
        self.sentinels = {p.sentinel: i for i, p in enumerate(processes)}

    def pids(self):
        return [p.pid for p in self.processes]

    def join(self, timeout=None):
        """Wait up to ``timeout`` seconds; True when every process has finished cleanly."""
        if not self.sentinels:
            return True
        ready = multiprocessing.connection.wait(self.sentinels.keys(), timeout=timeout)
        failed = None
        for sentinel in ready:
            i = self.sentinels.pop(sentinel)
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
        process = self.processes[failed]
        queue = self.error_queues[failed]
        if queue.empty():
            code = process.exitcode
            if code < 0:
                name = signal.Signals(-code).name
                raise ProcessExitedException(f"process {failed} terminated with signal {name}",
                                             failed, process.pid, code, name)
            raise ProcessExitedException(f"process {failed} terminated with exit code {code}",
                                         failed, process.pid, code)
        message = f"\n\n-- Process {failed} terminated with the following error:\n" + queue.get()
        raise ProcessRaisedException(message, failed, process.pid)


def start_processes(fn, args=(), nprocs=1, join=True, daemon=False, start_method="spawn"):
    context = multiprocessing.get_context(start_method)
    processes, error_queues = [], []
    for i in range(nprocs):
        error_queue = context.SimpleQueue()
        process = context.Process(target=_wrap, args=(fn, i, args, error_queue), daemon=daemon)
        process.start()
        processes.append(process)
        error_queues.append(error_queue)
    result = ProcessContext(processes, error_queues)
    if not join:
        return result
    while not result.join():
        pass


def spawn(fn, args=(), nprocs=1, join=True, daemon=False, start_method="spawn"):
    """Run ``fn(i, *args)`` for i in 0 … nprocs-1, each in a new process; with ``join``, wait
    for all of them and raise in the parent any error a child raised (with its traceback).
    Returns None when ``join``, else a ``ProcessContext`` to ``join()`` later."""
    return start_processes(fn, args, nprocs, join, daemon, start_method)
