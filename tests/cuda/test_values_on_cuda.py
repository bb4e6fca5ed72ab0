"""Operations that gradcheck does not reach, on cuda: the non-differentiable ones (comparisons,
logic, argmax, nonzero, argsort…), integer and boolean inputs, and results that are indices
or several tensors. Each gives on cuda the values, dtypes and shapes it gives on the cpu,
with every result on cuda.
"""
import numpy as np
import pytest

import tapegrad as tg

from .on_device import tensors_in, where_it_says

pytestmark = pytest.mark.cuda

rng = np.random.default_rng(9)
F = rng.standard_normal((3, 4))
INTS = rng.integers(-3, 4, (3, 4))
B = INTS > 0
J = rng.integers(0, 3, (3, 4))

# name -> (function, inputs): numpy arrays become tensors on the device under test
OPS = {
    "eq": (tg.eq, [INTS, J]), "ne scalar": (lambda a: a != 1, [INTS]), "lt": (tg.lt, [F, F.T.copy().T]),
    "le": (tg.le, [INTS, J]), "gt scalar": (lambda a: a > 0.5, [F]), "ge": (tg.ge, [INTS, J]),
    "isclose": (lambda a, b: tg.isclose(a, b, rtol=0.1), [F, F * 1.05]),
    "allclose": (lambda a, b: tg.allclose(a, b, rtol=0.1), [F, F * 1.05]),
    "equal": (tg.equal, [INTS, INTS.copy()]),
    "logical_not": (tg.logical_not, [B]), "logical_and": (tg.logical_and, [B, INTS]),
    "logical_or": (tg.logical_or, [B, J]), "bitwise_and": (tg.bitwise_and, [INTS, J]),
    "bitwise_or": (tg.bitwise_or, [B, B.T.copy().T]), "bitwise_xor": (tg.bitwise_xor, [INTS, J]),
    "bitwise_not": (tg.bitwise_not, [INTS]),
    "nonzero": (tg.nonzero, [INTS]), "nonzero as_tuple": (lambda a: tg.nonzero(a, as_tuple=True), [B]),
    "argmax": (lambda a: tg.argmax(a, dim=1, keepdim=True), [F]), "argmax all": (tg.argmax, [F]),
    "argmin": (lambda a: tg.argmin(a, dim=0), [INTS * 10 + J]),
    "all": (lambda a: tg.all(a, dim=1), [B]), "any": (tg.any, [B]),
    "count_nonzero": (lambda a: tg.count_nonzero(a, dim=(0, 1)), [INTS]),
    "argsort": (lambda a: tg.argsort(a, dim=1, descending=True), [F]),
    "argsort stable": (lambda a: tg.argsort(a, dim=0, stable=True), [J]),
    "sum of ints": (lambda a: a.sum(dim=0), [INTS]), "sum of bools": (tg.sum, [B]),
    "mean of a float32": (lambda a: a.float().mean(dim=1), [F]),
    "cumsum of ints": (lambda a: a.cumsum(dim=1), [INTS]),
    "max with indices": (lambda a: tg.max(a, dim=1), [F]),
    "min with indices of ints": (lambda a: tg.min(a, dim=0), [INTS * 10 + J]),
    "sort": (lambda a: tg.sort(a, dim=1), [F]), "sort ints": (lambda a: tg.sort(a, dim=0), [J]),
    "topk": (lambda a: tg.topk(a, 2, dim=1), [F]),
    "kthvalue": (lambda a: tg.kthvalue(a, 2, dim=1), [F]),
    "where": (lambda c, a, b: tg.where(c, a, b), [B, INTS, J]),
    "where scalar": (lambda c, a: tg.where(c, a, 0.5), [B, F]),
    "clamp ints": (lambda a: a.clamp(-1, 2), [INTS]),
    "abs, neg, sign of ints": (lambda a: (a.abs(), -a, a.sign()), [INTS]),
    "integer arithmetic": (lambda a, b: (a + b, a * b, a - 2, a // (b + 1), a % (b + 1)), [INTS, J]),
    "true division of ints": (lambda a, b: a / (b + 1), [INTS, J]),
    "pow of ints": (lambda a: a ** 2, [INTS]),
    "gather ints": (lambda a, i: tg.gather(a, 1, i), [INTS, J]),
    "scatter_add ints": (lambda a, i, s: tg.scatter_add(a, 1, i, s), [INTS, J, INTS]),
    "scatter_add floats": (lambda a, i, s: tg.scatter_add(a, 0, i, s), [F, J, F]),
    "scatter": (lambda a, i: tg.scatter(a, 1, i, value=7), [INTS, J]),
    "index_select": (lambda a, i: tg.index_select(a, 1, i), [INTS, np.array([3, 0, 3])]),
    "masked_fill": (lambda a, m: a.masked_fill(m, -1), [INTS, B]),
    "masked_select": (lambda a, m: tg.masked_select(a, m), [F, B]),
    "getitem with a boolean mask": (lambda a, m: a[m], [INTS, B]),
    "getitem with an index tensor": (lambda a, i: a[i], [F, np.array([2, 0, 2])]),
    "getitem with a list": (lambda a: a[[0, 2], 1:], [INTS]),
    "setitem": (lambda a, m: put(a.clone(), m, 5), [INTS, B]),
    "setitem of a tensor": (lambda a, i, v: put(a.clone(), (i, slice(1, 3)), v),
                            [F, np.array([2, 0]), F[:2, :2]]),
    "cat, stack of ints": (lambda a, b: (tg.cat([a, b], dim=1), tg.stack([a, b])), [INTS, J]),
    "flip, repeat": (lambda a: (a.flip(0), a.repeat(2, 1)), [INTS]),
    "tril, triu": (lambda a: (a.tril(), a.triu(1)), [INTS]),
    "matmul of ints": (lambda a, b: a @ b.T, [INTS, J]),
    "einsum": (lambda a, b: tg.einsum("ij,kj->ik", a, b), [F, F]),
    "to a dtype": (lambda a: (a.long(), a.half(), a.to(tg.bool)), [F]),
    "one_hot": (lambda i: tg.nn.functional.one_hot(i, 3), [J]),
}


def put(tensor, key, value):
    tensor[key] = value
    return tensor


def on(device, values):
    return [tg.tensor(v, device=device) if isinstance(v, np.ndarray) else v for v in values]


def host(value):
    if isinstance(value, tg.Tensor):
        return value.dtype, value.cpu().tolist()
    if isinstance(value, (tuple, list)):
        return type(value).__name__, [host(v) for v in value]
    return value


@pytest.mark.parametrize("name", OPS)
def test_an_operation_on_cuda_gives_what_it_gives_on_the_cpu(name):
    fn, values = OPS[name]
    expected, got = fn(*on("cpu", values)), fn(*on("cuda", values))
    for t in tensors_in(got):
        assert t.device == tg.device("cuda:0") and where_it_says(t)
    assert host(got) == host(expected)
