"""``DistributedDataParallel``: data-parallel training, one process per model replica.

Every process holds the same model and trains on its own slice of each batch. After
backward, each parameter's gradient is averaged over the processes, so every process takes
the same optimizer step and the replicas stay identical: the step equals a single process's
step on the whole batch (when the slices are equally large and the loss is a mean).

How the averaging overlaps backward (the design of PyTorch's DDP, after Horovod's):

* at construction, rank 0's parameters and buffers are broadcast, so all replicas start
  equal; the parameters are grouped into *buckets* of about ``bucket_cap_mb`` megabytes,
  in reverse order of registration, roughly the order backward finishes them; after the
  first backward the buckets are made again in the order the gradients really arrived
  (rank 0's order, so that every process has the same buckets);
* a post-accumulate-grad hook on each parameter copies its finished gradient into its
  bucket's flat buffer; when the last gradient of a bucket arrives, the bucket's
  all_reduce starts (nonblocking), while backward goes on computing earlier layers;
* when the last bucket has started, the hook waits for all of them, divides by the
  number of processes, and copies the averages back into the ``.grad`` tensors.

``no_sync()`` skips the averaging (gradients accumulate locally; the next synchronised
backward averages the sum). ``find_unused_parameters=True`` walks the graph after forward
to find parameters this step does not use, so their buckets do not wait for them.
"""
import contextlib
import time

from ...autograd import grad_mode
from ...autograd.tape import AccumulateGrad
from ...autograd.tensor import Tensor, wrap
from ..module import Module


class _Bucket:
    """Parameters whose gradients travel in one all_reduce, through one flat buffer."""

    def __init__(self, params, xp):
        self.params = params
        self.offsets, total = [], 0
        for p in params:
            self.offsets.append(total)
            total += p.numel()
        self.flat = xp.zeros(total, dtype=params[0].array.dtype)
        self.pending = len(params)   # gradients still to arrive this backward
        self.work = None


class DistributedDataParallel(Module):
    """``DistributedDataParallel(module, device_ids=None, output_device=None, dim=0,
    broadcast_buffers=True, process_group=None, bucket_cap_mb=None,
    find_unused_parameters=False, ...)``: ``module`` with its gradients averaged over
    the processes of the group; ``module`` stays reachable as ``.module``."""

    def __init__(self, module, device_ids=None, output_device=None, dim=0, broadcast_buffers=True,
                 init_sync=True, process_group=None, bucket_cap_mb=None,
                 find_unused_parameters=False, check_reduction=False,
                 gradient_as_bucket_view=False, static_graph=False):
        super().__init__()
        from ... import distributed
        self._dist = distributed
        if not distributed.is_initialized():
            raise RuntimeError("DistributedDataParallel needs the default process group: call "
                               "tapegrad.distributed.init_process_group(backend) first")
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel wraps a Module, got {type(module).__name__}")
        params = [p for p in module.parameters() if p.requires_grad]
        if not params:
            raise RuntimeError("DistributedDataParallel is not needed when a module has no "
                               "parameter that requires gradient")
        device = params[0].device
        for name, p in module.named_parameters():
            if p.device != device:
                raise ValueError(f"DistributedDataParallel needs the module on one device; "
                                 f"{name} is on {p.device}, others on {device}")
        if device.type == "cpu" and device_ids is not None:
            raise ValueError(f"device_ids must be None for a module on the cpu, got {device_ids}")
        if device.type == "cuda" and device_ids is not None and list(device_ids) != [device.index
                                                                                   or 0]:
            raise ValueError(f"device_ids={device_ids}, but the module is on {device}; pass "
                             f"[its device index] (one device per process)")
        self.module = module
        self.device_ids = device_ids
        self.broadcast_buffers = broadcast_buffers
        self.find_unused_parameters = find_unused_parameters
        self.bucket_bytes_cap = int((25 if bucket_cap_mb is None else bucket_cap_mb) * 2 ** 20)
        self.require_backward_grad_sync = True
        self.comm_wait_seconds = 0.0   # time backward spent blocked on the all_reduces
        self._world = distributed.get_world_size(process_group)
        if init_sync:
            self._broadcast_state(include_parameters=True)
        self._params = params
        self._set_buckets(list(reversed(params)))
        self._rebuilt = False      # buckets remade in the order of the first backward
        self._started = 0          # buckets whose all_reduce has started this backward
        self._ready = set()        # ids of the parameters whose gradient is in its bucket
        self._finished = False     # this forward's gradients have been averaged
        self._in_flight = []       # the Works of the buckets whose all_reduce is under way
        self._unused_here = set()  # ids of the parameters this forward did not use
        self._expect_sync = False  # a forward ran with sync on: its backward must average
        self._handles = [p.register_post_accumulate_grad_hook(self._gradient_ready)
                         for p in params]

    # -- construction ------------------------------------------------------------------------
    def _broadcast_state(self, include_parameters):
        """Rank 0's values of the buffers (and parameters) into every process's."""
        with grad_mode.no_grad():
            tensors = list(self.module.parameters()) if include_parameters else []
            tensors += [b for b in self.module.buffers() if b is not None]
            for t in tensors:
                self._dist.broadcast(t.detach(), src=0)

    def _set_buckets(self, ordered):
        """Buckets of consecutive parameters of ``ordered``, of one dtype, up to the cap each."""
        buckets, current, size = [], [], 0
        xp = ordered[0].device.xp
        for p in ordered:
            nbytes = p.numel() * p.element_size()
            if current and (size + nbytes > self.bucket_bytes_cap or p.dtype != current[0].dtype):
                buckets.append(_Bucket(current, xp))
                current, size = [], 0
            current.append(p)
            size += nbytes
        buckets.append(_Bucket(current, xp))
        self._buckets = buckets
        self._slot = {id(p): (b, i) for b in buckets for i, p in enumerate(b.params)}
        self._arrival = []         # the parameters in the order their gradients arrive

    # -- forward -----------------------------------------------------------------------------
    def forward(self, *inputs, **kwargs):
        if self._expect_sync and self._ready and not self._finished:
            missing = [name for name, p in self.module.named_parameters()
                       if id(p) in self._slot and id(p) not in self._ready]
            raise RuntimeError(
                f"DistributedDataParallel: the previous backward did not produce gradients for "
                f"{', '.join(missing[:8])}{' …' if len(missing) > 8 else ''}, so their averaging "
                f"never finished. If the forward does not use every parameter, construct "
                f"DistributedDataParallel with find_unused_parameters=True")
        sync = grad_mode.is_grad_enabled() and self.require_backward_grad_sync
        if sync and self.broadcast_buffers:
            self._broadcast_state(include_parameters=False)
        self._reset_buckets()
        self._expect_sync = sync
        output = self.module(*inputs, **kwargs)
        if sync and self.find_unused_parameters:
            used = _leaves_reached_from(output)
            self._unused_here = {id(p) for b in self._buckets for p in b.params
                                 if id(p) not in used}
            for p in [p for b in self._buckets for p in b.params if id(p) in self._unused_here]:
                self._mark_ready(p, gradient=None)
        return output

    def _reset_buckets(self):
        for b in self._buckets:
            b.pending, b.work = len(b.params), None
        self._started = 0
        self._ready = set()
        self._finished = False
        self._in_flight = []

    # -- backward: the hooks -----------------------------------------------------------------
    def _gradient_ready(self, param):
        if not (self.require_backward_grad_sync and self._expect_sync):
            return   # no_sync(), or a backward through a forward that ran outside DDP's sync
        if id(param) in self._ready or self._finished:
            raise RuntimeError("DistributedDataParallel: a second backward through one forward "
                               "(its gradients were averaged already); run the forward again "
                               "for each backward, or use no_sync() for all but the last")
        self._mark_ready(param, param.grad)

    def _mark_ready(self, param, gradient):
        bucket, index = self._slot[id(param)]
        self._ready.add(id(param))
        if not self._rebuilt:
            self._arrival.append(param)
        start, n = bucket.offsets[index], param.numel()
        if gradient is None:
            bucket.flat[start:start + n] = 0
        else:
            bucket.flat[start:start + n] = gradient.array.reshape(-1)
        bucket.pending -= 1
        if bucket.pending == 0:
            self._start_full_buckets(param.device)
        # Let MPI move the transfers in flight along (it progresses inside MPI calls only).
        self._in_flight = [w for w in self._in_flight if not w.is_completed()]

    def _start_full_buckets(self, device):
        """Start the all-reduce of each full bucket, in bucket order. Collectives pair up by
        the order they are called in, not by what they carry, so every process must start
        bucket k before bucket k + 1, whichever filled first here (with
        find_unused_parameters, each process may fill them in another order)."""
        while self._started < len(self._buckets) and self._buckets[self._started].pending == 0:
            bucket = self._buckets[self._started]
            bucket.work = self._dist.all_reduce(wrap(bucket.flat, device), async_op=True)
            self._in_flight.append(bucket.work)
            self._started += 1
        if self._started == len(self._buckets):
            self._finish_backward()

    def _finish_backward(self):
        """All buckets are on their way: wait, average, and put the averages into .grad."""
        begin = time.perf_counter()
        for b in self._buckets:
            b.work.wait()
        self.comm_wait_seconds += time.perf_counter() - begin
        used_anywhere = self._used_anywhere() if self.find_unused_parameters else None
        for b in self._buckets:
            if self._world > 1:
                b.flat /= self._world
            for p, start in zip(b.params, b.offsets):
                if used_anywhere is not None and id(p) not in used_anywhere:
                    continue   # no process used it: its .grad stays as it was (None, usually)
                average = b.flat[start:start + p.numel()].reshape(p.array.shape)
                if p._grad is None:
                    p._grad = wrap(average.copy(), p.device)
                else:
                    p._grad.array[...] = average
                    p._grad._version_counter.bump("DistributedDataParallel")
        self._finished = True
        if not self._rebuilt:
            self._rebuild_buckets()

    def _rebuild_buckets(self):
        """Buckets in the order this backward delivered the gradients (rank 0's order)."""
        self._rebuilt = True
        position = {id(p): i for i, p in enumerate(self._params)}
        order = wrap(self._params[0].device.xp.asarray(
            [position[id(p)] for p in self._arrival], dtype="int64"), self._params[0].device)
        self._dist.broadcast(order, src=0)
        self._set_buckets([self._params[i] for i in order.tolist()])

    def _used_anywhere(self):
        """The parameters some process used this step (one small all_reduce of flags)."""
        params = [p for b in self._buckets for p in b.params]
        xp = params[0].device.xp
        flags = xp.asarray([0 if id(p) in self._unused_here else 1 for p in params],
                           dtype="int32")
        self._dist.all_reduce(wrap(flags, params[0].device))
        return {id(p) for p, f in zip(params, flags.tolist()) if f > 0}

    @contextlib.contextmanager
    def no_sync(self):
        """Inside: backward accumulates gradients locally, without averaging them."""
        previous = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = previous


def _leaves_reached_from(output):
    """ids of the leaf tensors that backward from ``output`` (any nest of tensors) reaches."""
    stack, seen, leaves = [], set(), set()

    def add_tensors(value):
        if isinstance(value, Tensor):
            if value.grad_fn is not None:
                stack.append(value.grad_fn)
            elif value._requires_grad:
                leaves.add(id(value))
        elif isinstance(value, (list, tuple)):
            for v in value:
                add_tensors(v)
        elif isinstance(value, dict):
            for v in value.values():
                add_tensors(v)
    add_tensors(output)
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        if isinstance(node, AccumulateGrad):
            leaves.add(id(node.variable))
        for edge in node.next_edges:
            if edge is not None:
                stack.append(edge[0])
    return leaves
