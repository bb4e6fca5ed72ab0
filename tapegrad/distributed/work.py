"""``Work``: the handle a collective returns with ``async_op=True``.

The collective has been started (MPI's nonblocking call, or NCCL's kernel queued on its own
stream); ``wait()`` blocks until the result is in the output tensors, and only then is it
safe to read them.
"""


class Work:
    """``work.wait()`` finishes the collective; ``work.is_completed()`` asks without blocking."""

    def __init__(self, wait, test=None, finish=None, keep_alive=()):
        self._wait = wait                 # blocks until the transfer is done
        self._test = test                 # True once it is done (None: done after _wait)
        self._finish = finish             # what to do afterwards (AVG's division, copies out)
        self._keep_alive = keep_alive     # buffers the transfer reads or writes
        self._done = False

    def wait(self, timeout=None):
        if not self._done:
            self._wait()
            self._complete()
        return True

    def is_completed(self):
        if not self._done and self._test is not None and self._test():
            self._complete()
        return self._done

    def is_success(self):
        return self.is_completed()

    def _complete(self):
        self._done = True
        if self._finish is not None:
            self._finish()
        self._keep_alive = ()


def completed():
    """A Work with nothing left to do (what a world of one process returns, for instance)."""
    work = Work(lambda: None)
    work._done = True
    return work


def divide_in_place(array, n):
    """array ← array / n, in its own memory (AVG is a SUM followed by this)."""
    array /= n
