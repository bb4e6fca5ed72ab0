"""glibc's malloc thresholds: fixed at import so freed arrays are reused without page faults."""
import os
import subprocess
import sys
import textwrap

import pytest

from tapegrad.backend import heap


class RecordingLibc:
    """A C library whose ``mallopt`` records its calls and answers ``answers`` in turn."""

    def __init__(self, answers=(1, 1)):
        self.calls = []
        self.answers = list(answers)

    def mallopt(self, parameter, value):
        self.calls.append((parameter, value))
        return self.answers.pop(0)


def test_the_thresholds_are_fixed_where_glibcs_own_rule_ends():
    libc = RecordingLibc()
    assert heap.keep_freed_memory(libc, environ={}) is True
    assert libc.calls == [(-3, 32 * 2**20), (-1, 64 * 2**20)]   # M_MMAP_THRESHOLD, M_TRIM_THRESHOLD


@pytest.mark.parametrize("environ", [
    {"MALLOC_TRIM_THRESHOLD_": "131072"},
    {"MALLOC_MMAP_THRESHOLD_": "0"},
    {"GLIBC_TUNABLES": "glibc.malloc.arena_max=2:glibc.malloc.trim_threshold=0"},
    {"GLIBC_TUNABLES": "glibc.malloc.mmap_threshold=65536"},
])
def test_a_threshold_the_user_set_is_kept(environ):
    libc = RecordingLibc()
    assert heap.keep_freed_memory(libc, environ=environ) is False
    assert libc.calls == []


def test_other_tunables_do_not_count_as_the_users_thresholds():
    libc = RecordingLibc()
    assert heap.keep_freed_memory(libc, environ={"GLIBC_TUNABLES": "glibc.malloc.arena_max=2"})
    assert len(libc.calls) == 2


def test_when_glibc_refuses_the_mmap_threshold_neither_is_set():
    libc = RecordingLibc(answers=[0])   # a 32-bit glibc: at most 512 KiB
    assert heap.keep_freed_memory(libc, environ={}) is False
    assert libc.calls == [(-3, 32 * 2**20)]


def test_a_c_library_without_mallopt_is_left_alone():
    assert heap.keep_freed_memory(object(), environ={}) is False


_PROBE = textwrap.dedent("""
    import resource
    import numpy
    import tapegrad

    def a_round_of_arrays():   # 100 arrays of 256 KiB, as a step's activations, then freed
        arrays = [numpy.ones(65536, dtype=numpy.float32) for _ in range(100)]
        del arrays

    a_round_of_arrays()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    a_round_of_arrays()
    print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
""")


def page_faults_of_a_second_round(**environ):
    env = {name: value for name, value in os.environ.items()
           if not name.startswith("MALLOC_") and name != "GLIBC_TUNABLES"}
    result = subprocess.run([sys.executable, "-c", _PROBE], env={**env, **environ},
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return int(result.stdout.split()[-1])


@pytest.mark.skipif(heap.glibc() is None, reason="glibc's malloc only")
def test_after_import_a_second_round_of_arrays_reuses_the_first_rounds_memory():
    # 25 MiB freed and allocated again: 6,400 pages if glibc had handed them back
    assert page_faults_of_a_second_round() < 200
    # with the user's own (low) trim threshold glibc hands them back, and they fault in again
    assert page_faults_of_a_second_round(MALLOC_TRIM_THRESHOLD_="131072") > 3000
