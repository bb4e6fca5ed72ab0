"""The process group: which processes take part, who this one is, and the backend they talk
through. ``init_process_group`` makes the one default group (PyTorch's "WORLD").

Rank and world size come from MPI. tapegrad's launcher (``python -m
tapegrad.distributed.run``) and ``mpiexec`` start the processes as one MPI job, and the
launcher also sets torchrun's variables (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, …); when
they are set, they must agree with MPI. Processes that torchrun started on its own are not
one MPI job (each would be a world of one), so that case gets an error that says how to
launch instead.
"""
import os
import sys
import time

INSTALL_HINT = ('tapegrad.distributed needs MPI: pip install "tapegrad[distributed]" (it brings '
                'mpi4py and the mpich wheel, with an mpiexec that works on any Linux machine, no '
                'root needed), or pip install mpi4py against your cluster\'s MPI')

BACKENDS = {"mpi": "mpi", "gloo": "mpi", "nccl": "nccl"}   # gloo: PyTorch's CPU name


class Backend(str):
    """PyTorch's backend names as constants: ``Backend.MPI``, ``Backend.GLOO``, ``Backend.NCCL``."""

    MPI, GLOO, NCCL = "mpi", "gloo", "nccl"


class _World:
    backend = None      # an MPIBackend or NCCLBackend; None before init_process_group
    name = None         # the name it was asked for ("gloo" stays "gloo")
    rank = -1
    size = -1
    local_rank = 0
    mpi = None          # mpi4py's COMM_WORLD (the NCCL backend sets up through it too)


def mpi_world():
    """mpi4py's COMM_WORLD (MPI starts here, on first use), or an error saying how to get it."""
    try:
        from mpi4py import MPI
    except ImportError as error:
        raise RuntimeError(f"could not import mpi4py ({error}); {INSTALL_HINT}") from None
    return MPI.COMM_WORLD


def _env_int(name):
    value = os.environ.get(name)
    if value in (None, ""):
        return None
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"the environment variable {name}={value!r} is not an integer") from None


def local_rank_of(comm):
    """This process's index among the processes of the job on the same machine: LOCAL_RANK
    (the launcher sets it), or else MPI's count of the processes sharing this machine."""
    local = _env_int("LOCAL_RANK")
    if local is not None:
        return local
    from mpi4py import MPI
    shared = comm.Split_type(MPI.COMM_TYPE_SHARED, key=comm.Get_rank())
    try:
        return shared.Get_rank()
    finally:
        shared.Free()


def init_process_group(backend=None, init_method=None, timeout=None, world_size=-1, rank=-1,
                       store=None, group_name="", pg_options=None, device_id=None):
    """Join the default process group, talking through ``backend``: ``"mpi"`` (or ``"gloo"``)
    for cpu tensors, ``"nccl"`` for cuda tensors; None picks ``"mpi"``.

    ``world_size`` and ``rank``, when given, must match MPI's. ``init_method``, ``timeout``,
    ``store`` and ``pg_options`` are accepted so that PyTorch scripts run, and not used:
    MPI has already brought the processes together.
    """
    if _World.backend is not None:
        raise RuntimeError("trying to initialize the default process group twice; call "
                           "destroy_process_group() first")
    name = "mpi" if backend is None else str(backend).lower()
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; tapegrad has 'mpi' (cpu tensors; 'gloo' "
                         f"is accepted as the same) and 'nccl' (cuda tensors)")
    comm = mpi_world()
    mpi_rank, mpi_size = comm.Get_rank(), comm.Get_size()
    for what, value, source in (("world_size", world_size, "argument"),
                                ("rank", rank, "argument"),
                                ("world_size", _env_int("WORLD_SIZE"), "WORLD_SIZE"),
                                ("rank", _env_int("RANK"), "RANK")):
        expected = mpi_size if what == "world_size" else mpi_rank
        if value is None or value == -1 or value == expected:
            continue
        if what == "world_size" and mpi_size == 1:
            raise RuntimeError(
                f"{source} says {what}={value}, but this process is alone in its MPI job: "
                f"tapegrad's processes talk through MPI, so they must be started together, "
                f"by python -m tapegrad.distributed.run --nproc-per-node N script.py (torchrun's "
                f"flags), or by mpiexec -n N python script.py")
        raise RuntimeError(f"{source} says {what}={value}, but MPI gives this process "
                           f"{what}={expected}")
    local_rank = local_rank_of(comm)
    if BACKENDS[name] == "mpi":
        from .mpi_backend import MPIBackend
        chosen = MPIBackend(comm)
    else:
        from ..backend import cuda as backend_cuda
        from .nccl_backend import NCCLBackend
        cupy = backend_cuda._import_cupy()
        chosen = NCCLBackend(comm, mpi_rank, mpi_size, local_rank, cupy)
    _World.backend, _World.name, _World.mpi = chosen, name, comm
    _World.rank, _World.size, _World.local_rank = mpi_rank, mpi_size, local_rank
    if mpi_size > 1 and sys.excepthook is sys.__excepthook__:
        sys.excepthook = _abort_the_job   # started by plain mpiexec: a raise must not hang


def _abort_the_job(kind, error, traceback):
    """An uncaught error ends every process of the MPI job, not this one alone (the others
    would wait forever in their next collective)."""
    sys.__excepthook__(kind, error, traceback)
    print(f"[rank {_World.rank}] ending every process of the job", file=sys.stderr, flush=True)
    # mpiexec forwards our output through a pipe and drops what it has not read when the job
    # is aborted: give it a moment, or the error itself may never reach the user.
    time.sleep(0.5)
    _World.mpi.Abort(1)


def destroy_process_group(group=None):
    """Leave the default process group (MPI itself stays up, so it can be made again)."""
    if _World.backend is not None:
        _World.backend.close()
    _World.backend, _World.name, _World.rank, _World.size = None, None, -1, -1


def is_initialized():
    return _World.backend is not None


def is_available():
    """True: the package is here (whether MPI is installed shows at init_process_group)."""
    return True


def is_mpi_available():
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return False
    return True


def is_gloo_available():
    return is_mpi_available()   # "gloo" is served by the MPI backend


def is_nccl_available():
    try:
        from cupy.cuda import nccl
    except ImportError:
        return False
    return bool(getattr(nccl, "available", True))


def is_torchelastic_launched():
    return "TORCHELASTIC_RUN_ID" in os.environ


def default_backend(op="this call"):
    if _World.backend is None:
        raise RuntimeError(f"{op}: the default process group has not been initialized; call "
                           f"tapegrad.distributed.init_process_group(backend) first")
    return _World.backend


def get_rank(group=None):
    """This process's rank, 0 … world_size - 1 (-1 before init_process_group, as PyTorch)."""
    _check_group(group)
    return _World.rank


def get_world_size(group=None):
    """The number of processes in the group (-1 before init_process_group, as PyTorch)."""
    _check_group(group)
    return _World.size


def get_backend(group=None):
    _check_group(group)
    default_backend("get_backend")
    return _World.name


def _check_group(group):
    if group is not None and group is not GroupMember.WORLD:
        raise NotImplementedError("tapegrad.distributed has only the default group (WORLD); "
                                  "new_group is not supported")


class GroupMember:
    """``GroupMember.WORLD``: the default group, the only one tapegrad has."""

    WORLD = object()
    NON_GROUP_MEMBER = object()
