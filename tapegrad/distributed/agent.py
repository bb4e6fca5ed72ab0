"""What each process of a launched job runs first: ``python -m tapegrad.distributed.agent
[--module] script args…`` (the launcher puts it in front of your script).

1. It joins the MPI job and learns its rank, the world size, its rank on this machine and
   which machine it is on, and sets torchrun's environment variables to them (``RANK``,
   ``WORLD_SIZE``, ``LOCAL_RANK``, ``LOCAL_WORLD_SIZE``, ``GROUP_RANK``, ``NODE_RANK``,
   ``MASTER_ADDR``, ``MASTER_PORT``), so PyTorch scripts that read them work unchanged.
2. It runs the script as ``__main__``, in this process.
3. If the script raises (or exits with a non-zero status), it prints the error with its
   rank and aborts the whole MPI job. Without this, the other processes would wait forever
   in their next collective for a process that is gone.
"""
import os
import runpy
import sys
import traceback


def _node_rank(comm, local):
    """Which machine this is: machines numbered by their lowest rank (0, 1, …)."""
    from mpi4py import MPI
    leaders = comm.Split(0 if local.Get_rank() == 0 else MPI.UNDEFINED, key=comm.Get_rank())
    index = leaders.Get_rank() if leaders != MPI.COMM_NULL else None
    if leaders != MPI.COMM_NULL:
        leaders.Free()
    return local.bcast(index, root=0)


def set_environment(comm):
    """torchrun's environment variables, from MPI's view of the job."""
    from mpi4py import MPI
    local = comm.Split_type(MPI.COMM_TYPE_SHARED, key=comm.Get_rank())
    node = _node_rank(comm, local)
    nodes = comm.allreduce(1 if local.Get_rank() == 0 else 0)
    values = {"RANK": comm.Get_rank(), "WORLD_SIZE": comm.Get_size(),
              "LOCAL_RANK": local.Get_rank(), "LOCAL_WORLD_SIZE": local.Get_size(),
              "GROUP_RANK": node, "NODE_RANK": node, "GROUP_WORLD_SIZE": nodes,
              "ROLE_RANK": comm.Get_rank(), "ROLE_WORLD_SIZE": comm.Get_size()}
    local.Free()
    os.environ.update({name: str(value) for name, value in values.items()})
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ.setdefault("MASTER_PORT", "29500")


def _traceback_of_script(error):
    """The traceback from the script's first frame on (this file's and runpy's left out)."""
    tb = error.__traceback__
    while tb is not None and (tb.tb_frame.f_code.co_filename in (__file__, runpy.__file__)
                              or tb.tb_frame.f_code.co_filename.startswith("<frozen runpy")):
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(error), error, tb))


def run(argv):
    module = argv[:1] == ["--module"]
    if module:
        argv = argv[1:]
    if not argv:
        raise SystemExit("usage: python -m tapegrad.distributed.agent [--module] script args…")
    from mpi4py import MPI
    comm = MPI.COMM_WORLD
    set_environment(comm)
    sys.argv = list(argv)
    status = 0
    try:
        if module:
            runpy.run_module(argv[0], run_name="__main__", alter_sys=True)
        else:
            sys.path.insert(0, os.path.dirname(os.path.abspath(argv[0])))
            runpy.run_path(argv[0], run_name="__main__")
    except SystemExit as exit:
        status = exit.code if isinstance(exit.code, int) else (0 if exit.code is None else 1)
        if exit.code not in (None, 0) and not isinstance(exit.code, int):
            print(exit.code, file=sys.stderr)
    except BaseException as error:  # noqa: BLE001  (any failure must end the whole job)
        print(f"[rank {comm.Get_rank()}] the script raised:\n{_traceback_of_script(error)}",
              file=sys.stderr, end="")
        status = 1
    if status != 0:
        print(f"[rank {comm.Get_rank()}] exited with status {status}; ending every process "
              f"of the job", file=sys.stderr)
        sys.stdout.flush()
        sys.stderr.flush()
        comm.Abort(status)
    return 0


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
