"""Fused operations against the compositions they replace and against PyTorch, 1 thread.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=1 python benchmarks/fused.py

Each line is forward + backward of one operation (median of interleaved repeats, µs):
the fused operation (what nn.functional now records), the composition of tensor
operations it replaced, and torch.nn.functional's, side by side in one process.
"""
import os
import platform
import timeit

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

import tapegrad as tg  # noqa: E402
import tapegrad.nn.functional as F  # noqa: E402
from tapegrad.autograd.ops import activation, normalization, recurrent  # noqa: E402

torch.set_num_threads(1)
rng = np.random.default_rng(0)


def pair(*shape):
    a = rng.normal(size=shape).astype(np.float32)
    return tg.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)


def step(fn, *leaves):
    def run():
        for t in leaves:
            t.grad = None
        out = fn()
        out = out if not isinstance(out, tuple) else out[0] + out[1]
        out.sum().backward()
    return run


def cases():
    x, tx = pair(2048, 512)
    w, tw = pair(512)
    b, tb = pair(512)
    yield ("layer_norm (2048, 512)",
           step(lambda: F.layer_norm(x, (512,), w, b), x, w, b),
           step(lambda: normalization._composed_layer_norm(x, w, b, 1, 1e-5), x, w, b),
           step(lambda: torch.nn.functional.layer_norm(tx, (512,), tw, tb), tx, tw, tb))
    x, tx = pair(32, 64, 32, 32)
    w, tw = pair(64)
    b, tb = pair(64)
    yield ("batch_norm train (32, 64, 32, 32)",
           step(lambda: F.batch_norm(x, None, None, w, b, training=True), x, w, b),
           step(lambda: normalization._composed_batch_norm(x, w, b, None, None, 1e-5, True),
                x, w, b),
           step(lambda: torch.nn.functional.batch_norm(tx, None, None, tw, tb, training=True),
                tx, tw, tb))
    for n, c in ((128, 10), (256, 1000)):
        x, tx = pair(n, c)
        labels = rng.integers(0, c, n)
        t, tt = tg.tensor(labels), torch.tensor(labels)
        yield (f"cross_entropy ({n}, {c})",
               step(lambda x=x, t=t: F.cross_entropy(x, t), x),
               step(lambda x=x, t=t: F.nll_loss(x.log_softmax(1), t), x),
               step(lambda tx=tx, tt=tt: torch.nn.functional.cross_entropy(tx, tt), tx))
    for approximate in ("none", "tanh"):
        x, tx = pair(256, 2048)
        yield (f"gelu {approximate} (256, 2048)",
               step(lambda x=x, a=approximate: F.gelu(x, a), x),
               step(lambda x=x, a=approximate: activation._composed_gelu(x, a), x),
               step(lambda tx=tx, a=approximate: torch.nn.functional.gelu(tx, approximate=a), tx))
    z, tz = pair(32, 512)
    c, tc = pair(32, 128)

    def torch_lstm():
        i, f, g, o = tz.chunk(4, 1)
        c2 = f.sigmoid() * tc + i.sigmoid() * g.tanh()
        return o.sigmoid() * c2.tanh(), c2
    yield ("lstm gates (32, 4·128)", step(lambda: recurrent.lstm_gates(z, c), z, c),
           step(lambda: recurrent._composed_lstm_gates(z, c), z, c), step(torch_lstm, tz, tc))
    p, tp = pair(32, 384)
    q, tq = pair(32, 384)
    h, th = pair(32, 128)

    def torch_gru():
        r, zz, _ = (tp + tq).sigmoid().chunk(3, 1)
        n = (tp[:, 256:] + r * tq[:, 256:]).tanh()
        return n + zz * (th - n)
    yield ("gru gates (32, 3·128)", step(lambda: recurrent.gru_gates(p, q, h), p, q, h),
           step(lambda: recurrent._composed_gru_gates(p, q, h), p, q, h),
           step(torch_gru, tp, tq, th))


def median_us(fns, repeats=15):
    for f in fns:
        f()   # compile, warm the caches
    numbers = [max(1, int(0.02 / max(timeit.timeit(f, number=1), 1e-6))) for f in fns]
    times = [[] for _ in fns]
    for _ in range(repeats):   # interleaved: contenders see the same machine state
        for k, f in enumerate(fns):
            times[k].append(timeit.timeit(f, number=numbers[k]) / numbers[k])
    return [1e6 * float(np.median(t)) for t in times]


if __name__ == "__main__":
    print(platform.processor() or platform.machine(), "| numpy", np.__version__, "| torch",
          torch.__version__)
    print(f"{'forward + backward, µs':36s} {'fused':>9s} {'composed':>9s} {'torch':>9s}"
          f" {'comp/fused':>10s} {'fused/torch':>11s}")
    for name, fused, composed, reference in cases():
        a, b, c = median_us([fused, composed, reference])
        print(f"{name:36s} {a:9.1f} {b:9.1f} {c:9.1f} {b / a:10.2f} {a / c:11.2f}")
