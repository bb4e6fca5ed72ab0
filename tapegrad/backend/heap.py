"""glibc's malloc asked to keep freed memory for the next training step.

A training step allocates the same arrays every step and frees them again: activations,
gradients, im2col's columns. glibc's malloc serves a request above its *mmap threshold*
with a fresh mapping from the kernel and unmaps it when it is freed, and it hands the top of
its heap back to the kernel once more than its *trim threshold* is free there. Memory handed
back costs a page fault per 4 KiB page when it is touched again, in the next step.

glibc moves both thresholds itself: each time a mapped block is freed, the mmap threshold
rises to that block's size (at most 32 MiB on 64-bit systems) and the trim threshold to twice
that. Which blocks it sees freed first depends on the order in which threads freed them, so
two runs of one script can settle differently: measured on a 2-core AMD EPYC (LeNet-5,
batch 64, 2 threads), some processes settled with no page faults at all, others with 1,304
faults and 2.5–4.5 ms of kernel time in every step (8.8–11.5 ms a step, against 5.2–7.4 in
processes alternating with them that had the thresholds fixed). The CIFAR CNN faulted
3,014 pages a step (70 ms a step against 49), the Transformer 4,898.

So ``keep_freed_memory`` fixes both thresholds where glibc's own rule ends: blocks up to
32 MiB come from the heap, and up to 64 MiB of freed heap stays with the process in each of
its malloc arenas (the main one, and those of threads that allocate: the pool's). Peak
memory does not change (the maximum resident size of each benchmark model was the same
with and without); what changes is that freed memory is kept instead of returned. The
setting is the process's, as glibc's own variables are: a user who sets
``MALLOC_MMAP_THRESHOLD_`` or ``MALLOC_TRIM_THRESHOLD_`` (or either in ``GLIBC_TUNABLES``)
keeps theirs, and on another C library nothing is changed.
"""
import ctypes
import os

MMAP_THRESHOLD = 32 << 20   # glibc's largest automatic mmap threshold on 64-bit systems
TRIM_THRESHOLD = 2 * MMAP_THRESHOLD   # twice it, as glibc's automatic rule sets it

_M_TRIM_THRESHOLD = -1   # mallopt's parameter numbers, from glibc's <malloc.h>
_M_MMAP_THRESHOLD = -3

_USERS_SETTINGS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")
_USERS_TUNABLES = ("glibc.malloc.mmap_threshold", "glibc.malloc.trim_threshold")


def set_by_user(environ):
    """Whether the environment already sets either of glibc's malloc thresholds."""
    tunables = environ.get("GLIBC_TUNABLES", "")
    return (any(name in environ for name in _USERS_SETTINGS)
            or any(name in tunables for name in _USERS_TUNABLES))


def glibc():
    """The running process's C library if it is glibc (which has ``mallopt``), else None."""
    try:
        if not os.confstr("CS_GNU_LIBC_VERSION"):
            return None
        return ctypes.CDLL(None)
    except (AttributeError, ValueError, OSError):   # no confstr, no such name, no libc
        return None


def keep_freed_memory(libc=None, environ=None):
    """Fix glibc's mmap and trim thresholds at 32 and 64 MiB unless the user set them.

    Returns whether they were set. ``libc`` and ``environ`` default to the process's own.
    """
    environ = os.environ if environ is None else environ
    if set_by_user(environ):
        return False
    libc = glibc() if libc is None else libc
    if libc is None or not hasattr(libc, "mallopt"):
        return False
    # mallopt returns 1 on success; a 32-bit glibc refuses 32 MiB, and then neither is set
    if libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) != 1:
        return False
    return libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
