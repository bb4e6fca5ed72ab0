"""Disagreements the fuzzer found and that stay, each with the reason it stays.

An entry matches a finding by kind, operation ("*": any) and a regular expression
searched in the finding's detail. ``category`` is one of:
  float noise    the same math, rounded differently (summation order, float16 internals)
  pytorch bug    PyTorch's answer is wrong or its refusal arbitrary; tapegrad does not copy it
  difference     a deliberate difference, listed in the README's "Decisions where tapegrad differs"
"""
import re
from typing import NamedTuple


class Allowed(NamedTuple):
    kind: str
    op: str
    detail: str      # a regular expression searched in the finding's detail
    category: str
    reason: str


ALLOWED = [
    Allowed("float-noise", "*", "", "float noise",
            "within 100x the dtype's tolerance: rounding and summation order"),
    Allowed("tapegrad-computes", "*", r"NotImplementedError: \"\w+\" not implemented for "
            r"'(Bool|Long|Int|Byte|Half|Char|Short)'", "pytorch bug",
            "PyTorch lacks a CPU kernel for this dtype (cumsum of bool, ceil of bool, bmm of "
            "bool, kthvalue of bool…); the math is defined and tapegrad computes it"),
    Allowed("backward-computes", "floor_divide", "derivative for aten::floor_divide is not "
            "implemented", "difference",
            "floor_divide's gradient is 0 almost everywhere; tapegrad gives the 0"),
    Allowed("signature", "*", r"must be Tensor, not (int|float|bool)", "difference",
            "tapegrad accepts a Python number where PyTorch insists on a Tensor "
            "(logical_and(x, 1), allclose(x, 0)); the number means the 0-d tensor"),
    Allowed("signature", "*", r"got \(Tensor, (dim=NoneType|keepdim=bool)", "difference",
            "max/min/prod with dim=None (or keepdim without a dim) reduce every dim in "
            "tapegrad; PyTorch's parser refuses the spelling"),
    Allowed("signature", "true_divide", "rounding_mode", "difference",
            "true_divide is div, with div's rounding_mode"),
]


def allowed(finding):
    """The entry that allows ``finding``, or None."""
    for entry in ALLOWED:
        if entry.kind == finding.kind and entry.op in ("*", finding.op) and re.search(
                entry.detail, finding.detail):
            return entry
    return None
