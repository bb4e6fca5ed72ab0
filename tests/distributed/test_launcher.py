"""The launcher: a failing rank ends the job at once, with its error shown; signals reach
the job; the mpiexec command line; the error when mpiexec is missing."""
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from tapegrad.distributed import run

from .launch import RANKS, REPO, launch, needs_mpi


def test_a_rank_that_raises_ends_every_rank_quickly_with_its_error_shown():
    begin = time.monotonic()
    result = launch("failing.py", 2, timeout=60)
    took = time.monotonic() - begin
    assert result.returncode != 0
    assert "ValueError: rank 1 found a broken batch" in result.stderr
    assert "[rank 1]" in result.stderr and "failing.py" in result.stderr
    assert "the barrier returned" not in result.stdout
    assert took < 30, f"the job took {took:.0f} s to end"


def test_under_plain_mpiexec_an_uncaught_error_still_ends_the_job():
    # Without the launcher's agent, init_process_group's excepthook aborts the MPI job.
    needs_mpi()
    env = dict(os.environ, PYTHONPATH=str(REPO), OPENBLAS_NUM_THREADS="1")
    begin = time.monotonic()
    result = subprocess.run([run.find_mpiexec(), "-n", "2", sys.executable,
                             str(RANKS / "failing.py")], env=env, capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode != 0 and "ValueError: rank 1 found a broken batch" in result.stderr
    assert "[rank 1] ending every process of the job" in result.stderr
    assert time.monotonic() - begin < 30


def test_sigterm_to_the_launcher_ends_the_job_and_leaves_no_process():
    needs_mpi()
    env = dict(os.environ, PYTHONPATH=str(REPO), OPENBLAS_NUM_THREADS="1")
    launcher = subprocess.Popen(
        [sys.executable, "-m", "tapegrad.distributed.run", "--nproc-per-node", "2",
         str(RANKS / "sleeper.py")], env=env, stdout=subprocess.PIPE, text=True)
    try:
        reports = []
        while len(reports) < 2:   # "rank R pid P env RANK WORLD_SIZE LOCAL_RANK", one per rank
            line = launcher.stdout.readline()
            assert line, "the job ended before every rank reported"
            reports += re.findall(r"rank (\d) pid (\d+) env (\d) (\d) (\d)", line)
        pids = [int(pid) for _, pid, _, _, _ in reports]
        assert sorted((r, rank, local) for r, _, rank, _, local in reports) == [
            ("0", "0", "0"), ("1", "1", "1")]                    # RANK and LOCAL_RANK
        assert {size for _, _, _, size, _ in reports} == {"2"}   # WORLD_SIZE
        launcher.send_signal(signal.SIGTERM)
        status = launcher.wait(timeout=30)
    finally:
        if launcher.poll() is None:
            launcher.kill()
    assert status != 0
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in pids), f"ranks {pids} outlived the launcher"


def _alive(pid):
    """Running (a zombie, ended but not yet reaped by its new parent, counts as ended)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
    except OSError:   # no /proc: ask the kernel
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True


def test_mpiexec_command_line_for_one_machine_and_for_a_hostfile(tmp_path):
    hosts = tmp_path / "hosts"
    hosts.write_text("node1:4\nnode2:4\n")
    args = run.parser().parse_args(["--nproc-per-node", "4", "--nnodes", "2", "--hostfile",
                                    str(hosts), "train.py", "--lr", "0.1"])
    cmd = run.command(args, "/bin/mpiexec", "hydra")
    assert cmd[:7] == ["/bin/mpiexec", "-n", "8", "-f", str(hosts), "-ppn", "4"]
    assert cmd[-4:] == ["tapegrad.distributed.agent", "train.py", "--lr", "0.1"]
    cmd = run.command(args, "/bin/mpiexec", "openmpi")
    assert "--hostfile" in cmd and "ppr:4:node" in cmd
    one = run.parser().parse_args(["--nproc_per_node=2", "-m", "pkg.train"])
    cmd = run.command(one, "/bin/mpiexec", "hydra")
    assert cmd[:3] == ["/bin/mpiexec", "-n", "2"] and cmd[-2:] == ["--module", "pkg.train"]


def test_misuse_of_the_launcher_is_named():
    two_nodes = run.parser().parse_args(["--nnodes", "2", "train.py"])
    with pytest.raises(SystemExit, match="--hostfile"):
        run.command(two_nodes, "mpiexec", "hydra")
    with pytest.raises(SystemExit, match="positive"):
        run.command(run.parser().parse_args(["--nproc-per-node", "0", "t.py"]), "m", "hydra")
    with pytest.raises(SystemExit, match="elastic"):
        run.command(run.parser().parse_args(["--nnodes", "1:4", "t.py"]), "m", "hydra")


def test_a_missing_mpiexec_gets_an_error_that_says_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    with pytest.raises(SystemExit) as raised:
        run.find_mpiexec()
    message = str(raised.value)
    assert "mpiexec was not found" in message and 'pip install "tapegrad[distributed]"' in message
