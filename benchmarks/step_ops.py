"""Where a training step's time goes, tapegrad against PyTorch, op by op inside real steps.

Takes a workload of ``models.py`` (the same models, data and optimizers) and runs steps of
the two libraries alternately in one process. The CPU time of the calling thread
(``time.thread_time``: it leaves out waiting for a core, the better clock on a shared
machine) is summed per kind of op:

* tapegrad: its kernel entry points are wrapped (convolution forward, backward and weight
  gradient; batch norm's statistics, scale-and-shift and backward; relu's backward);
* PyTorch: forward hooks on the Conv2d and BatchNorm2d modules, and pre- and post-hooks
  on the autograd nodes of the same ops in each step's graph.

Everything else in a step (relu forward, additions, pooling, loss, the optimizer, the
engines' own work) is "rest". A kind's line is ms per step; the two columns measure the
same work (convolution backward includes the first layer's weight gradient in both).

    PYTHONPATH=. python benchmarks/step_ops.py                      # resnet, 1 thread
    PYTHONPATH=. python benchmarks/step_ops.py --workloads cifar --steps 20
"""
import argparse
import collections
import os
import sys
import time

KINDS = ("conv forward", "conv backward", "batchnorm forward", "batchnorm backward",
         "relu backward")


def parse():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", default="resnet", help="comma-separated models.py keys")
    parser.add_argument("--steps", type=int, default=10, help="timed steps of each (10)")
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads (1)")
    return parser.parse_args()


def wrap_tapegrad(totals):
    """Sum the CPU time of tapegrad's kernel entry points into ``totals`` by kind."""
    from tapegrad import kernels
    from tapegrad.kernels import fused
    entries = [(kernels, "conv_forward", "conv forward"),
               (kernels, "conv_backward", "conv backward"),
               (kernels, "conv_weight_grad", "conv backward"),
               (kernels, "conv_input_grad", "conv backward"),
               (kernels, "_relu_gradient", "relu backward"),
               (fused, "batch_norm_statistics", "batchnorm forward"),
               (fused, "scale_and_shift", "batchnorm forward"),
               (fused, "batch_norm_backward", "batchnorm backward")]
    for module, name, kind in entries:
        def timed(*args, _function=getattr(module, name), _kind=kind, **kwargs):
            start = time.thread_time()
            result = _function(*args, **kwargs)
            totals[_kind] += time.thread_time() - start
            return result
        setattr(module, name, timed)


def hook_torch(torch, contender, totals):
    """Sum the CPU time of PyTorch's convolutions, batch norms and relu backwards."""
    started = {}
    forward_kinds = {torch.nn.Conv2d: "conv forward", torch.nn.BatchNorm2d: "batchnorm forward"}

    def begin(key):
        started[key] = time.thread_time()

    def end(key, kind):
        totals[kind] += time.thread_time() - started[key]

    for module in contender.model.modules():
        kind = forward_kinds.get(type(module))
        if kind is not None:
            module.register_forward_pre_hook(lambda m, inputs: begin(id(m)))
            module.register_forward_hook(lambda m, inputs, out, kind=kind: end(id(m), kind))
    backward_kinds = {"ConvolutionBackward0": "conv backward",
                      "NativeBatchNormBackward0": "batchnorm backward",
                      "ReluBackward0": "relu backward"}
    loss = contender.loss

    def hooked_loss():
        """The loss, with timing hooks on the nodes of this step's graph."""
        value = loss()
        seen, stack = set(), [value.grad_fn]
        while stack:
            node = stack.pop()
            if node is None or node in seen:
                continue
            seen.add(node)
            kind = backward_kinds.get(type(node).__name__)
            if kind is not None:
                node.register_prehook(lambda grads, node=node: begin(id(node)))
                node.register_hook(lambda grads_in, grads_out, node=node, kind=kind:
                                   end(id(node), kind))
            stack.extend(f for f, _ in node.next_functions)
        return value
    contender.loss = hooked_loss


def main():
    args = parse()
    for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                     "NUMBA_NUM_THREADS"):
        os.environ[variable] = str(args.threads)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import models
    import tapegrad
    import torch
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    ours_totals, theirs_totals = collections.defaultdict(float), collections.defaultdict(float)
    wrap_tapegrad(ours_totals)
    s = models.sizes(False)
    for key in args.workloads.split(","):
        ours = models.Contender(tapegrad, key, s)
        theirs = models.Contender(torch, key, s, ours.weights())
        hook_torch(torch, theirs, theirs_totals)
        for _ in range(3):
            ours.step()
            theirs.step()
        ours_totals.clear()
        theirs_totals.clear()
        steps = {"tapegrad": 0.0, "PyTorch": 0.0}
        for _ in range(args.steps):
            for name, contender in (("tapegrad", ours), ("PyTorch", theirs)):
                start = time.thread_time()
                contender.step()
                steps[name] += time.thread_time() - start
        n = args.steps
        print(f"{models.WORKLOADS[key][0]}, {args.threads} thread(s), {n} steps each, "
              f"load average {os.getloadavg()[0]:.1f}; CPU ms per step")
        print("| op | tapegrad | PyTorch |\n|---|---:|---:|")
        for kind in KINDS:
            print(f"| {kind} | {1e3 * ours_totals[kind] / n:.2f} | "
                  f"{1e3 * theirs_totals[kind] / n:.2f} |")
        rest = [steps[name] - sum(totals.values())
                for name, totals in (("tapegrad", ours_totals), ("PyTorch", theirs_totals))]
        print(f"| rest | {1e3 * rest[0] / n:.2f} | {1e3 * rest[1] / n:.2f} |")
        print(f"| step | {1e3 * steps['tapegrad'] / n:.2f} | {1e3 * steps['PyTorch'] / n:.2f} |")


if __name__ == "__main__":
    main()
