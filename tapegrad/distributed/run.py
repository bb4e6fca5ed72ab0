"""The launcher, with torchrun's flags, over ``mpiexec``:

    python -m tapegrad.distributed.run --nproc-per-node 2 train.py --epochs 3
    python -m tapegrad.distributed.run --nnodes 2 --nproc-per-node 4 --hostfile hosts train.py

It starts ``nproc-per-node × nnodes`` processes as one MPI job, each running
``tapegrad.distributed.agent`` in front of the script (the agent sets ``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK`` … and aborts the job when its script fails). The launcher
forwards SIGINT, SIGTERM and SIGHUP to mpiexec, kills the whole job if it has not ended a
few seconds later, and exits with the job's status: 0 when every process succeeded.

With ``--hostfile`` the processes go to the machines it lists, in your MPI's format
(MPICH: ``host:slots`` per line; Open MPI: ``host slots=N``). Every machine needs the same
Python environment at the same path, and mpiexec must reach them by ssh without a password.
"""
import argparse
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time

from .process_group import INSTALL_HINT

GRACE_SECONDS = 5.0     # after forwarding a signal, how long the job may take to end
FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def parser():
    p = argparse.ArgumentParser(
        prog="python -m tapegrad.distributed.run",
        description="Start a script on several processes (and machines) as one MPI job, with "
                    "torchrun's flags and environment variables.")
    p.add_argument("--nproc-per-node", "--nproc_per_node", default="1",
                   help="processes per machine: a number, 'cpu' (one per core) or 'gpu'/'auto' "
                        "(one per GPU, else 1)")
    p.add_argument("--nnodes", default="1", help="number of machines (M, or M:M)")
    p.add_argument("--hostfile", help="the machines, in your MPI's hostfile format (needed "
                                      "with --nnodes > 1)")
    p.add_argument("--node-rank", "--node_rank", type=int, default=0,
                   help="accepted for torchrun's sake; must be 0 (mpiexec starts every machine "
                        "from this one)")
    p.add_argument("--master-addr", "--master_addr", default="127.0.0.1",
                   help="put in MASTER_ADDR (MPI does the rendezvous itself)")
    p.add_argument("--master-port", "--master_port", type=int, default=29500,
                   help="put in MASTER_PORT")
    p.add_argument("--standalone", action="store_true", help="accepted; a no-op here")
    for ignored in ("--rdzv-backend", "--rdzv_backend", "--rdzv-endpoint", "--rdzv_endpoint",
                    "--rdzv-id", "--rdzv_id"):
        p.add_argument(ignored, help=argparse.SUPPRESS)
    p.add_argument("--max-restarts", "--max_restarts", type=int, default=0,
                   help="must be 0: a failed job ends (it is not restarted)")
    p.add_argument("-m", "--module", action="store_true",
                   help="run the script argument as a module (python -m)")
    p.add_argument("--mpiexec", help="the mpiexec to use (default: the one next to this "
                                     "Python, else the first on PATH)")
    p.add_argument("--mpiexec-args", default="",
                   help="extra arguments for mpiexec, as one string")
    p.add_argument("script", help="the training script (or module, with -m)")
    p.add_argument("script_args", nargs=argparse.REMAINDER)
    return p


def processes_per_node(value):
    if value == "cpu":
        return os.cpu_count() or 1
    if value in ("gpu", "auto"):
        from ..backend import cuda
        return cuda.device_count() or 1
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        raise SystemExit(f"--nproc-per-node must be a positive number, 'cpu', 'gpu' or 'auto', "
                         f"got {value!r}")
    return n


def node_count(value):
    low, _, high = value.partition(":")
    try:
        low, high = int(low), int(high or low)
    except ValueError:
        raise SystemExit(f"--nnodes must be a number (or M:M), got {value!r}") from None
    if low != high or low < 1:
        raise SystemExit(f"--nnodes {value}: elastic ranges are not supported; give one number")
    return low


def find_mpiexec(explicit=None):
    """The mpiexec to start the job with, or a SystemExit that says how to install one."""
    if explicit:
        found = shutil.which(explicit)
        if found is None:
            raise SystemExit(f"--mpiexec {explicit}: no such program")
        return found
    beside_python = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    if os.access(beside_python, os.X_OK):
        return beside_python
    found = shutil.which("mpiexec") or shutil.which("mpirun")
    if found is None:
        raise SystemExit(f"error: mpiexec was not found (next to {sys.executable} or on PATH). "
                         f"tapegrad starts its processes through MPI; {INSTALL_HINT}")
    return found


def flavour(mpiexec):
    """'openmpi' or 'hydra' (MPICH, Intel MPI, MVAPICH): their flags for hosts differ."""
    try:
        text = subprocess.run([mpiexec, "--version"], capture_output=True, text=True,
                              timeout=20, check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        text = ""
    return "openmpi" if ("Open MPI" in text or "OpenRTE" in text) else "hydra"


def command(args, mpiexec, kind):
    per_node = processes_per_node(args.nproc_per_node)
    nodes = node_count(args.nnodes)
    if args.node_rank != 0:
        raise SystemExit("--node-rank must be 0: run the launcher once, on one machine; mpiexec "
                         "starts the processes on every machine of the --hostfile")
    if args.max_restarts != 0:
        raise SystemExit("--max-restarts must be 0: tapegrad ends a failed job instead of "
                         "restarting it")
    if nodes > 1 and not args.hostfile:
        raise SystemExit(f"--nnodes {nodes} needs --hostfile, a file naming the machines")
    if args.hostfile and not os.path.exists(args.hostfile):
        raise SystemExit(f"--hostfile {args.hostfile}: no such file")
    cmd = [mpiexec, "-n", str(per_node * nodes)]
    if kind == "openmpi":
        cmd += ["--oversubscribe"] if not args.hostfile else []
        if args.hostfile:
            cmd += ["--hostfile", args.hostfile, "--map-by", f"ppr:{per_node}:node"]
        cmd += ["-x", "PYTHONPATH", "-x", "MASTER_ADDR", "-x", "MASTER_PORT"]
    elif args.hostfile:
        cmd += ["-f", args.hostfile, "-ppn", str(per_node)]
    cmd += shlex.split(args.mpiexec_args)
    cmd += [sys.executable, "-u", "-m", "tapegrad.distributed.agent"]
    cmd += (["--module"] if args.module else []) + [args.script] + list(args.script_args)
    return cmd


def run_job(cmd, env=None):
    """Run the mpiexec command line; forward signals; never leave processes behind."""
    job = subprocess.Popen(cmd, env=env, start_new_session=True)   # its own process group
    stopping = []

    def forward(signum, frame):
        stopping.append(time.monotonic())
        try:
            job.send_signal(signum)
        except ProcessLookupError:
            pass
    previous = {s: signal.signal(s, forward) for s in FORWARDED}
    try:
        while True:
            try:
                status = job.wait(timeout=0.2)
                break
            except subprocess.TimeoutExpired:
                if stopping and time.monotonic() - stopping[0] > GRACE_SECONDS:
                    _kill_group(job.pid)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        _kill_group(job.pid)   # anything of the job still alive
    return 128 - status if status < 0 else status


def _kill_group(pgid):
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def main(argv=None):
    args = parser().parse_args(argv)
    try:
        import mpi4py  # noqa: F401  (each process needs it; say so before starting them)
    except ImportError:
        raise SystemExit(f"error: mpi4py is not installed; {INSTALL_HINT}") from None
    mpiexec = find_mpiexec(args.mpiexec)
    cmd = command(args, mpiexec, flavour(mpiexec))
    env = dict(os.environ, MASTER_ADDR=args.master_addr, MASTER_PORT=str(args.master_port))
    return run_job(cmd, env)


if __name__ == "__main__":
    sys.exit(main())
