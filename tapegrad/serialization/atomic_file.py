"""Writing a file atomically: it appears complete or not at all.

The data goes to a temporary file next to the target, is flushed to disk, and only then
renamed over the target, so a crash mid-save never leaves a half-written checkpoint and
an existing file is only replaced by a complete one.
"""
import contextlib
import os
import tempfile


@contextlib.contextmanager
def atomic_write(path):
    """``with atomic_write(path) as file:`` write binary data; the file replaces ``path`` at the end."""
    # Write through a symlink (as open() would) instead of replacing the link itself.
    path = os.path.realpath(os.fspath(path))
    directory, base = os.path.split(path)
    # The temporary file must be in the same directory: os.replace is only atomic within
    # one file system.
    fd, temp_path = tempfile.mkstemp(dir=directory, prefix=f".{base}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as file:
            yield file
            file.flush()
            os.fsync(file.fileno())  # the data must be on disk before the name points at it
        # mkstemp creates files readable only by their owner; give the file the permissions
        # open() would have given it.
        os.chmod(temp_path, 0o666 & ~_current_umask())
        os.replace(temp_path, path)
    except BaseException:
        try:
            os.unlink(temp_path)
        except FileNotFoundError:
            pass
        raise


def _current_umask():
    # Python can only read the umask by setting it; set a common safe value for the instant
    # in between, in case another thread creates a file right then.
    umask = os.umask(0o022)
    os.umask(umask)
    return umask
