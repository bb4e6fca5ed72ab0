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


ZERO = r"-?0\.0*(?:e[-+]00)?"
# a number below 0.1 in magnitude as numpy prints it (0.04688, -7.324e-04, 0.)
SMALL = r"-?(?:0\.(?:0\d*)?(?:e[-+]00)?|\d(?:\.\d*)?e-(?:0[2-9]|[1-9]\d))"


# run.py's mark on a NaN or inf finding whose elements finite in both also differ, beyond
# the noise band (maybe outside the 8 shown): a pattern that says "every other number is the
# same" starts with this, so that it rejects such a finding
ELSEWHERE_THE_SAME = r"(?!.*\[finite elements differ: )"


def _equal_or_else_in_torch(other, longest=8):
    """A regular expression for "[a b …] vs torch [a' b' …]" (as many numbers as shown)
    where each of torch's numbers is tapegrad's own or matches ``other`` (a 0, a NaN): the
    two differ in some slices only, by what ``other`` says."""
    # each of ours is a zero (its group set) or another number (the next group): a zero of
    # either sign in torch is then the same, any other number must be equal or ``other``
    number = rf"(?:({ZERO})|(-?(?:\d[\d.]*(?:e[-+]\d+)?|nan|inf)))"
    lists, groups = [], 0   # (groups are numbered across the alternatives)
    for n in range(1, longest + 1):
        ours = r"\s+".join([number] * n)
        theirs = r"\s+".join(
            rf"(?({groups + 2 * i + 1})(?:{ZERO}|{other})|(?:\{groups + 2 * i + 2}|{other}))"
            for i in range(n))
        lists.append(rf"\[\s*{ours}\s*\] vs torch \[\s*{theirs}\s*\]")
        groups += 2 * n
    return ELSEWHERE_THE_SAME + "(?:" + "|".join(lists) + ")"


def _inf_here_nan_in_torch(longest=8):
    """A regular expression for "[a b …] vs torch [a' b' …]" (as many numbers as shown)
    where each of torch's numbers is tapegrad's own (a zero of either sign for a zero), or
    NaN where tapegrad's is ±inf: at least one such pair. (Named groups: Python reads a
    back-reference by number only up to \\99.)"""
    lists = []
    for n in range(1, longest + 1):
        ours = r"\s+".join(rf"(?:(?P<i{n}_{i}>-?inf)|(?P<z{n}_{i}>{ZERO})|"
                            rf"(?P<x{n}_{i}>-?(?:\d[\d.]*(?:e[-+]\d+)?|nan)))" for i in range(n))
        theirs = r"\s+".join(
            rf"(?(i{n}_{i})(?:(?P=i{n}_{i})|nan)|(?(z{n}_{i}){ZERO}|(?P=x{n}_{i})))"
            for i in range(n))
        lists.append(rf"(?=[^]]*inf[^]]*\] vs torch \[[^]]*nan)\[\s*{ours}\s*\] vs torch "
                     rf"\[\s*{theirs}\s*\]")
    return ELSEWHERE_THE_SAME + "(?:" + "|".join(lists) + ")"


def _nan_here_inf_in_torch(longest=8):
    """A regular expression for "[a b …] vs torch [a' b' …]" (as many numbers as shown)
    where each of torch's numbers is tapegrad's own (a zero of either sign for a zero), or
    ±inf (or NaN) where tapegrad's is NaN: at least one NaN against an inf."""
    lists = []
    for n in range(1, longest + 1):
        ours = r"\s+".join(rf"(?:(?P<n{n}_{i}>nan)|(?P<z{n}_{i}>{ZERO})|"
                            rf"(?P<x{n}_{i}>-?(?:\d[\d.]*(?:e[-+]\d+)?|inf)))" for i in range(n))
        theirs = r"\s+".join(
            rf"(?(n{n}_{i})(?:-?inf|nan)|(?(z{n}_{i}){ZERO}|(?P=x{n}_{i})))" for i in range(n))
        lists.append(rf"(?=[^]]*nan[^]]*\] vs torch \[[^]]*inf)\[\s*{ours}\s*\] vs torch "
                     rf"\[\s*{theirs}\s*\]")
    return ELSEWHERE_THE_SAME + "(?:" + "|".join(lists) + ")"


def _nan_only_where_torch_has_nan(longest=8):
    """A regular expression for "[a b …] vs torch [a' b' …]" (as many numbers as shown, none
    of them inf) where each NaN of tapegrad's stands against a NaN of PyTorch's: PyTorch
    may have NaN where tapegrad has a number, never the other way."""
    number = r"-?\d[\d.]*(?:e[-+]\d+)?"
    lists, groups = [], 0   # (groups are numbered across the alternatives)
    for n in range(1, longest + 1):
        ours = r"\s+".join([rf"(?:(nan)|{number})"] * n)
        theirs = r"\s+".join(rf"(?({groups + i + 1})nan|(?:{number}|nan))" for i in range(n))
        lists.append(rf"\[\s*{ours}\s*\] vs torch \[\s*{theirs}\s*\]")
        groups += n
    return "(?:" + "|".join(lists) + ")"


def _nan_against_torchs(other, longest=8):
    """A regular expression for "[a b …] vs torch [a' b' …]" (as many numbers as shown)
    where each NaN of tapegrad's stands against ``other`` (or NaN) in PyTorch and every other
    number is the same in both."""
    number = r"-?(?:\d[\d.]*(?:e[-+]\d+)?|inf)"
    lists, groups = [], 0   # (groups are numbered across the alternatives)
    for n in range(1, longest + 1):
        ours = r"\s+".join([rf"(?:(nan)|({number}))"] * n)
        theirs = r"\s+".join(rf"(?({groups + 2 * i + 1})(?:{other}|nan)|\{groups + 2 * i + 2})"
                             for i in range(n))
        lists.append(rf"\[\s*{ours}\s*\] vs torch \[\s*{theirs}\s*\]")
        groups += 2 * n
    return ELSEWHERE_THE_SAME + "(?:" + "|".join(lists) + ")"


def _zero_or_nan_against_torchs_nan(longest=8):
    """A regular expression for "[a b …] vs torch [a' b' …]" (as many numbers as shown)
    where each of tapegrad's numbers is a zero or NaN, and PyTorch's is NaN where tapegrad's
    is NaN, a zero or NaN where it is a zero."""
    lists = []
    for n in range(1, longest + 1):
        ours = r"\s+".join(rf"(?:(?P<n{n}_{i}>nan)|{ZERO})" for i in range(n))
        theirs = r"\s+".join(rf"(?(n{n}_{i})nan|(?:{ZERO}|nan))" for i in range(n))
        lists.append(rf"\[\s*{ours}\s*\] vs torch \[\s*{theirs}\s*\]")
    return "(?:" + "|".join(lists) + ")"


def _nan_or_zero_here_inf_or_residue_in_torch(longest=8):
    """A regular expression for "[a b …] vs torch [a' b' …]" (as many numbers as shown)
    where each of tapegrad's numbers is a zero or NaN, PyTorch's a number below 0.1 in
    magnitude where tapegrad's is a zero and ±inf (or NaN) where it is NaN: at least one
    NaN. Then at most a mark of finite elements that differ by tapegrad's 0 against such a
    number."""
    lists = []
    for n in range(1, longest + 1):
        ours = r"\s+".join(rf"(?:(?P<n{n}_{i}>nan)|{ZERO})" for i in range(n))
        theirs = r"\s+".join(rf"(?(n{n}_{i})(?:-?inf|nan)|{SMALL})" for i in range(n))
        lists.append(rf"(?=[^]]*nan)\[\s*{ours}\s*\] vs torch \[\s*{theirs}\s*\]")
    return ("(?:" + "|".join(lists) + rf")(?: \[finite elements differ: -?0(?:\.0*)? vs torch "
            rf"{SMALL} at \d+\])?")


def _nan_against_torchs_else_numbers(other, longest=8):
    """As ``_nan_against_torchs``, but tapegrad's other numbers stand against any number (not
    NaN) of PyTorch's: for an entry whose mark says a PyTorch rerun agrees with tapegrad's
    values to the tolerance (the shown digits of the two may differ in the last place)."""
    number = r"-?(?:\d[\d.]*(?:e[-+]\d+)?|inf)"
    lists, groups = [], 0   # (groups are numbered across the alternatives)
    for n in range(1, longest + 1):
        ours = r"\s+".join([rf"(?:(nan)|{number})"] * n)
        theirs = r"\s+".join(rf"(?({groups + i + 1})(?:{other}|nan)|{number})" for i in range(n))
        lists.append(rf"\[\s*{ours}\s*\] vs torch \[\s*{theirs}\s*\]")
        groups += n
    return "(?:" + "|".join(lists) + ")"


def _nan_against_torchs_infinity(longest=8):
    """A regular expression for "[a b …] vs torch [a' b' …]" (as many numbers as shown) where
    each NaN of tapegrad's stands against ±inf in PyTorch, at least one, and every other
    number is the same in both (a zero of either sign against a zero)."""
    number = r"-?\d[\d.]*(?:e[-+]\d+)?"
    lists, groups = [], 0   # (groups are numbered across the alternatives)
    for n in range(1, longest + 1):
        ours = r"\s+".join([rf"(?:(nan)|-?(0\.0*(?:e[-+]00)?)|({number}))"] * n)
        theirs = r"\s+".join(rf"(?({groups + 3 * i + 1})-?inf|(?({groups + 3 * i + 2})"
                             rf"-?\{groups + 3 * i + 2}|\{groups + 3 * i + 3}))"
                             for i in range(n))
        lists.append(rf"(?=[^]]*nan[^]]*\])\[\s*{ours}\s*\] vs torch \[\s*{theirs}\s*\]")
        groups += 3 * n
    return "(?:" + "|".join(lists) + ")"


def _infinite_where_torch_has_nan(longest=8):
    """A regular expression for "[a b …] vs torch [a' b' …]" (as many numbers as shown) where
    every number of tapegrad's is ±inf or NaN and each of PyTorch's is NaN or tapegrad's own:
    a gradient that is all infinities, some of which PyTorch's backward turns into NaN."""
    lists, groups = [], 0   # (groups are numbered across the alternatives)
    for n in range(1, longest + 1):
        ours = r"\s+".join([r"(?:nan|(-?inf))"] * n)
        theirs = r"\s+".join(rf"(?:nan|(?({groups + i + 1})\{groups + i + 1}|(?!)))"
                             for i in range(n))
        lists.append(rf"\[\s*{ours}\s*\] vs torch \[\s*{theirs}\s*\]")
        groups += n
    return ELSEWHERE_THE_SAME + "(?:" + "|".join(lists) + ")"


def _infinity_against_torchs_nan(longest=8, close=False):
    """A regular expression for "[a b …] vs torch [a' b' …]" (as many numbers as shown)
    where each NaN of PyTorch's stands against ±inf or NaN in tapegrad, and every other
    number is the same in both (tapegrad has no NaN PyTorch lacks); with ``close``, the same
    to its first two significant digits and its exponent (float16 rounding: 28.77, 28.81)."""
    lists = []   # (named groups, i{count}_{place}…: past 99 a numbered one reads as octal)
    for n in range(1, longest + 1):
        ours, theirs = [], []
        for i in range(n):
            g = f"{'c' if close else 'x'}{n}_{i}"   # (close or not: both in one pattern)
            if close:   # (a zero stands against a zero; atomic: 28.77 does not read as 2)
                zero = r"-?0\.(?:0+e[-+]00)?"
                number = (rf"(?P<z{g}>{zero})(?=[\s\]])|(?!{zero}[\s\]])(?P<d{g}>(?>-?\d\.?\d?))\d*\.?\d*"
                          rf"(?P<e{g}>e[-+]\d+)?")
                same = rf"(?(z{g}){zero}|(?P=d{g})\d*\.?\d*(?(e{g})(?P=e{g})))"
            else:
                number, same = rf"(?P<x{g}>-?\d[\d.]*(?:e[-+]\d+)?)", rf"(?P=x{g})"
            ours.append(rf"(?:(?P<i{g}>-?inf|nan)|{number})")
            theirs.append(rf"(?(i{g})(?:nan|(?P=i{g}))|{same})")
        ours, theirs = r"\s+".join(ours), r"\s+".join(theirs)
        lists.append(rf"\[\s*{ours}\s*\] vs torch \[\s*{theirs}\s*\]")
    return ELSEWHERE_THE_SAME + "(?:" + "|".join(lists) + ")"


def _infinity_against_torchs_nan_near_a_pole(longest=8):
    """A regular expression for "[a b …] vs torch [a' b' …]" (as many numbers as shown)
    where at least one ±inf of tapegrad's stands against NaN in PyTorch, each NaN against
    NaN, and every other number has the other's sign, first digit and exponent (-307.7,
    -310.4: a one-ulp difference in a value that a later pole magnifies)."""
    lists = []   # (named groups, a{count}_{place}…: past 99 a numbered one reads as octal)
    for n in range(1, longest + 1):
        ours, theirs = [], []
        for i in range(n):
            g = f"{n}_{i}"
            ours.append(rf"(?:(?P<ai{g}>-?inf)|(?P<an{g}>nan)|(?P<ad{g}>-?\d)\.?\d*"
                        rf"(?P<ae{g}>e[-+]\d+)?)")
            theirs.append(rf"(?(ai{g})nan|(?(an{g})nan|(?P=ad{g})\.?\d*(?(ae{g})(?P=ae{g}))))")
        ours, theirs = r"\s+".join(ours), r"\s+".join(theirs)
        lists.append(rf"(?=[^]]*inf[^]]*\] vs)\[\s*{ours}\s*\] vs torch \[\s*{theirs}\s*\]")
    return ELSEWHERE_THE_SAME + "(?:" + "|".join(lists) + ")"


def _infinity_against_torchs_nan_else_finite(longest=8):
    """A regular expression for "[a b …] vs torch [a' b' …]" (as many numbers as shown)
    where each ±inf of tapegrad's stands against NaN or the same ±inf in PyTorch (at least
    one against NaN), each NaN against NaN, and each finite number against a finite one (as
    printed they may differ: a tiny slope against 0; the fuzzer compares them and marks the
    finding where they differ beyond the noise band, which this expression rejects)."""
    finite = r"-?\d[\d.]*(?:e[-+]\d+)?"
    lists = []   # (named groups, t{count}_{place}…: past 99 a numbered one reads as octal)
    for n in range(1, longest + 1):
        ours = r"\s+".join(rf"(?:(?P<t{n}_{i}>-?inf)|(?P<u{n}_{i}>nan)|{finite})"
                           for i in range(n))
        theirs = r"\s+".join(rf"(?(t{n}_{i})(?:nan|(?P=t{n}_{i}))|(?(u{n}_{i})nan|{finite}))"
                             for i in range(n))
        lists.append(rf"(?=[^]]*inf[^]]*\] vs torch \[[^]]*nan)\[\s*{ours}\s*\] vs torch "
                     rf"\[\s*{theirs}\s*\]")
    return ELSEWHERE_THE_SAME + "(?:" + "|".join(lists) + ")"


def _infinities_flipped_in_torch(longest=8):
    """A regular expression for "[a b …] vs torch [a' b' …]" (as many numbers as shown)
    where each ±inf of tapegrad's stands against ∓inf or NaN in PyTorch, each NaN of
    tapegrad's against NaN, and every other number is the same in both."""
    number = r"-?\d[\d.]*(?:e[-+]\d+)?"
    lists = []   # (named groups, p{count}_{place}…: past 99 a numbered one reads as octal)
    for n in range(1, longest + 1):
        ours = r"\s+".join(rf"(?:(?P<p{n}_{i}>inf)|(?P<m{n}_{i}>-inf)|(?P<q{n}_{i}>nan)|"
                           rf"(?P<x{n}_{i}>{number}))" for i in range(n))
        theirs = r"\s+".join(
            rf"(?(p{n}_{i})(?:-inf|nan)|(?(m{n}_{i})(?:inf|nan)|(?(q{n}_{i})nan|"
            rf"(?P=x{n}_{i}))))" for i in range(n))
        lists.append(rf"\[\s*{ours}\s*\] vs torch \[\s*{theirs}\s*\]")
    return ELSEWHERE_THE_SAME + "(?:" + "|".join(lists) + ")"


def _zero_against_torchs_nan_beside_residues(longest=8):
    """A regular expression for "[a b …] vs torch [a' b' …]" (as many numbers as shown)
    where each zero of tapegrad's stands against NaN (or a zero) in PyTorch, each NaN against
    NaN, and every other number on both sides is a rounding residue below 1e-5."""
    residue = r"-?\d(?:\.\d+)?e-(?:0[6-9]|[1-4]\d)"
    lists, groups = [], 0   # (groups are numbered across the alternatives)
    for n in range(1, longest + 1):
        ours = r"\s+".join([rf"(?:({ZERO})|(nan)|{residue})"] * n)
        theirs = r"\s+".join(rf"(?({groups + 2 * i + 1})(?:nan|{ZERO})|(?({groups + 2 * i + 2})nan|"
                             rf"(?:{residue}|{ZERO})))" for i in range(n))
        lists.append(rf"\[\s*{ours}\s*\] vs torch \[\s*{theirs}\s*\]")
        groups += 2 * n
    return "(?:" + "|".join(lists) + ")"


def _zero_against_torchs(other, longest=8):
    """A regular expression for "[a b …] vs torch [a' b' …]" (as many numbers as shown)
    where each zero of tapegrad's stands against ``other`` (or a zero) in PyTorch and every
    other number is the same in both."""
    number = r"-?(?:\d[\d.]*(?:e[-+]\d+)?|inf|nan)"
    lists, groups = [], 0   # (groups are numbered across the alternatives)
    for n in range(1, longest + 1):
        ours = r"\s+".join([rf"(?:({ZERO})|({number}))"] * n)
        theirs = r"\s+".join(rf"(?({groups + 2 * i + 1})(?:{other}|{ZERO})|\{groups + 2 * i + 2})"
                             for i in range(n))
        lists.append(rf"\[\s*{ours}\s*\] vs torch \[\s*{theirs}\s*\]")
        groups += 2 * n
    return ELSEWHERE_THE_SAME + "(?:" + "|".join(lists) + ")"


def _apart_only_at_nan(longest=8):
    """A regular expression for "[a b …] vs torch [a' b' …]" (as many numbers as shown)
    where each NaN of PyTorch's stands against any number, ±inf or NaN of tapegrad's, each
    NaN of tapegrad's against NaN or ±inf, and every other number is the same in both: a
    NaN of tapegrad's where PyTorch has a finite number is not matched."""
    number = r"-?(?:\d[\d.]*(?:e[-+]\d+)?|inf)"
    lists = []   # (named groups, a{count}_{place}…: past 99 a numbered one reads as octal)
    for n in range(1, longest + 1):
        ours = r"\s+".join(rf"(?:(?P<q{n}_{i}>nan)|(?P<a{n}_{i}>{number}))" for i in range(n))
        theirs = r"\s+".join(rf"(?(q{n}_{i})(?:nan|-?inf)|(?:nan|(?P=a{n}_{i})))"
                             for i in range(n))
        lists.append(rf"\[\s*{ours}\s*\] vs torch \[\s*{theirs}\s*\]")
    return ELSEWHERE_THE_SAME + "(?:" + "|".join(lists) + ")"


def _below_one_where_torch_has_nan(longest=8):
    """A regular expression for "[a b …] vs torch [a' b' …]" (as many numbers as shown)
    where each NaN of PyTorch's stands against NaN or a number of tapegrad's below 1e-7 in
    magnitude (0 included), and every other number against a number of the same kind
    (finite: the fuzzer marks the finding when finite elements differ, which this
    expression rejects; ±inf: the same one). A NaN of tapegrad's where PyTorch has a
    number, or a number of 1e-7 and more where PyTorch has NaN, is not matched."""
    finite = r"-?\d[\d.]*(?:e[-+]\d+)?"
    tiny = rf"(?:{ZERO}|-?\d(?:\.\d*)?e-(?:0[89]|[1-9]\d))"
    lists = []   # (named groups, t{count}_{place}…: past 99 a numbered one reads as octal)
    for n in range(1, longest + 1):
        ours = r"\s+".join(rf"(?:(?P<t{n}_{i}>{tiny})|(?P<n{n}_{i}>nan)|(?P<i{n}_{i}>-?inf)"
                           rf"|{finite})" for i in range(n))
        theirs = r"\s+".join(rf"(?(t{n}_{i})(?:nan|{finite})|(?(n{n}_{i})nan|"
                             rf"(?(i{n}_{i})(?P=i{n}_{i})|{finite})))" for i in range(n))
        lists.append(rf"\[\s*{ours}\s*\] vs torch \[\s*{theirs}\s*\]")
    return ELSEWHERE_THE_SAME + "(?:" + "|".join(lists) + ")"


def _infinity_where_torch_has_nan_only(longest=8):
    """A regular expression for "[a b …] vs torch [a' b' …]" (as many numbers as shown)
    where each +inf of tapegrad's stands against NaN in PyTorch, each NaN against NaN, and
    each finite number against a finite number (as printed they may differ in their last
    digit or their notation; the fuzzer compares them and marks the finding if they
    differ, which this expression does not match)."""
    finite = r"-?\d[\d.]*(?:e[-+]\d+)?"
    lists = []   # (named groups, j{count}_{place}…: past 99 a numbered one reads as octal)
    for n in range(1, longest + 1):
        ours = r"\s+".join(rf"(?:(?P<j{n}_{i}>inf|nan)|{finite})" for i in range(n))
        theirs = r"\s+".join(rf"(?(j{n}_{i})nan|{finite})" for i in range(n))
        lists.append(rf"\[\s*{ours}\s*\] vs torch \[\s*{theirs}\s*\]")
    return ELSEWHERE_THE_SAME + "(?:" + "|".join(lists) + ")"


def _overflow_in_torch(longest=8):
    """A regular expression for "[a b …] vs torch [a' b' …]" (as many numbers as shown)
    where each finite number of tapegrad's that stands against ±inf in PyTorch is 0 or
    beyond 1e19 (a norm whose squares overflow), each ±inf and NaN of tapegrad's stands
    against the same in PyTorch, and each other finite number against a finite one (the
    fuzzer compares those and marks the finding if they differ, which this does not match)."""
    finite = r"-?\d[\d.]*(?:e[-+]\d+)?"
    # (an exponent of 19 and up; numpy writes three digits, e+003, when another needs them)
    large = rf"(?:{ZERO}|\d(?:\.\d*)?e\+(?:0?(?:19|[2-9]\d)|[1-9]\d\d))"
    lists = []   # (named groups, o{count}_{place}…: past 99 a numbered one reads as octal)
    for n in range(1, longest + 1):
        ours = r"\s+".join(rf"(?:(?P<s{n}_{i}>-?inf|nan)|(?P<o{n}_{i}>{large})(?=[\s\]])|{finite})"
                           for i in range(n))
        theirs = r"\s+".join(rf"(?(s{n}_{i})(?P=s{n}_{i})|(?(o{n}_{i})(?:inf|{finite})|{finite}))"
                             for i in range(n))
        lists.append(rf"\[\s*{ours}\s*\] vs torch \[\s*{theirs}\s*\]")
    return ELSEWHERE_THE_SAME + "(?:" + "|".join(lists) + ")"


def _equal_or_both_beyond_1e10(longest=8):
    """A regular expression for "[a b …] vs torch [a' b' …]" (as many numbers as shown) where
    each number is the same in both, or both are 1e10 or more in magnitude with one sign."""
    big = r"\d(?:\.\d*)?e\+(?:1\d|[2-9]\d|[1-9]\d\d)"
    number = r"-?(?:\d[\d.]*(?:e[-+]\d+)?|inf|nan)"
    lists = []   # (named groups, g{count}_{place}…: past 99 a numbered one reads as octal)
    for n in range(1, longest + 1):
        ours = r"\s+".join(rf"(?:(?P<g{n}_{i}>-?){big}|(?P<q{n}_{i}>{number}))(?=[\s\]])"
                           for i in range(n))
        theirs = r"\s+".join(rf"(?(q{n}_{i})(?P=q{n}_{i})|(?P=g{n}_{i}){big})(?=[\s\]])"
                             for i in range(n))
        lists.append(rf"\[\s*{ours}\s*\] vs torch \[\s*{theirs}\s*\]")
    return "(?:" + "|".join(lists) + ")"


def _out_of_range_index(largest_size=64):
    """A regular expression for "index i is out of range for dimension d with size s" where
    i really is outside [-s, s) (sizes up to ``largest_size``): a refusal of an index the
    dimension holds is not matched."""
    def at_least(k):   # a decimal integer ≥ k (k < 100): a larger tens digit, or the same
        tens, units = divmod(k, 10)   # and a unit from k's on, or three digits and more
        same = f"{tens}[{units}-9]" if tens else f"[{units}-9]"
        more = f"|[{tens + 1}-9]\\d" if tens < 9 else ""
        return rf"(?:{same}{more}|[1-9]\d{{2,}})"
    return "(?:" + "|".join(
        rf"index (?:{at_least(s)}|-{at_least(s + 1)}) is out of range for dimension \d+ with "
        rf"size {s}$" for s in range(largest_size + 1)) + ")"


# the fuzzer's mark for a gradient finding whose NaN differs where a p-norm step gives ±inf in
# tapegrad (gradients.py's INFINITE_NORM)
INFINITE_NORM = r" \[a p-norm in the program is ±inf in tapegrad\]"
# the fuzzer's mark for a gradient finding where PyTorch, rerun with its p-norms computed in
# float64 and rounded back, gives tapegrad's gradients (run.py's NORM_IN_FLOAT64)
# the fuzzer's mark for a group_norm's gradient at an infinite incoming gradient that
# PyTorch's backward of the norm by its formula in float64 gives (norms.py's)
GROUP_NORM_BY_ITS_FORMULA = (r" \[group_norm at an infinite incoming gradient or weight, or of "
                             r"squares past the range: PyTorch's backward of the norm by its "
                             r"formula in float64 gives tapegrad's gradients\]$")
NORM_IN_FLOAT64 = (r"(?: \[[^]]*\])* \[a float16 or float32 p-norm in the program: PyTorch "
                   r"agrees with its norms computed in float64\]$")
# the same, with a norm past the narrow float's range once rounded back held there, slope 0, as
# tapegrad's (reruns.py's NORM_IN_FLOAT64_HELD)
NORM_IN_FLOAT64_HELD = (r"(?: \[[^]]*\])* \[a float16 or float32 p-norm in the program: PyTorch "
                        r"agrees with its norms computed in float64, one past the range held at "
                        r"±inf with slope 0\]$")
# the fuzzer's mark for a float16 normalize's (cosine_similarity's, pairwise_distance's)
# gradient that leaves float16's range in both libraries' backwards of the step alone (blame.py's)
FLOAT16_PAST_THE_RANGE_IN_BOTH = (r"(?: \[[^]]*\])* \[a float16 normalize, cosine_similarity or "
                                  r"pairwise_distance alone: PyTorch's float16 backward too leaves "
                                  r"the range where tapegrad's does, elsewhere tapegrad's is "
                                  r"PyTorch's in float32\]$")
# the fuzzer's mark for a float64 norm's gradient that PyTorch's backward of the norm alone
# gives with each slice scaled by a power of two and its result scaled back (blame.py's)
NORM_SCALED_PER_SLICE = (r"(?: \[[^]]*\])* \[a float64 p-norm's backward alone: PyTorch agrees "
                         r"with each slice scaled by a power of two near its largest magnitude, "
                         r"and its result scaled back\]$")
# the fuzzer's marks for a gradient of an elementwise activation that PyTorch gives as
# tapegrad does with the same values placed in another loop of its kernel, or that differs
# only where PyTorch's two loops disagree (run.py's PLACED_VECTORISED, PLACED_ALONE,
# PLACED_DISPUTED)
PLACED = (r"(?: \[[^]]*\])* \[PyTorch(?: gives tapegrad's gradient of this step with (?:its input "
          r"placed in its kernel's vectorised loop|each element of its input alone, in its "
          r"kernel's scalar loop)|'s kernel gives this step two gradients at some elements, by "
          r"where they sit; tapegrad's is PyTorch's at every other element, and 0 or one of the "
          r"two at those)\]$")
# the fuzzer's mark for a logit gradient where PyTorch, rerun with logit(x + 0.0) (-0.0 made
# +0.0), gives tapegrad's gradients (run.py's LOGIT_OF_PLUS_ZERO)
LOGIT_OF_PLUS_ZERO = r"(?: \[[^]]*\])* \[logit in the program: PyTorch agrees with logit\(x \+ 0\.0\)\]$"
# the fuzzer's mark for a finding of normalize, cosine_similarity or pairwise_distance where
# PyTorch, rerun with those ops computed in a wider float (float16 in float32, float32 in
# float64) and rounded back, gives tapegrad's values or gradients (run.py's NORMALIZE_WIDENED)
NORMALIZE_WIDENED = (r"(?: \[[^]]*\])* \[normalize, cosine_similarity or pairwise_distance in "
                     r"the program: PyTorch agrees with their norms computed in a wider "
                     r"float\](?: \[[^]]*\])*$")
# the fuzzer's mark for a value of normalize or cosine_similarity where PyTorch, rerun with
# each slice scaled by a power of two to a largest magnitude near 1, gives tapegrad's values
# (run.py's SCALED_PER_SLICE)
SCALED_PER_SLICE = (r"(?: \[[^]]*\])* \[normalize or cosine_similarity in the program: PyTorch "
                    r"agrees with each slice scaled by a power of two near its largest "
                    r"magnitude\](?: \[[^]]*\])*$")
# the fuzzer's mark for a value of attention where PyTorch, rerun with its math backend, gives
# tapegrad's values (run.py's ATTENTION_BY_ITS_MATH)
ATTENTION_BY_ITS_MATH = (r" \[scaled_dot_product_attention in the program: PyTorch's math "
                         r"backend agrees\](?: \[[^]]*\])*$")
# ... and where it gives them but for outputs whose weighted sums add terms of 1e20 and more,
# there within the tolerance of the terms' size (value_reruns.py's ATTENTION_BY_ITS_MATH_WITHIN_TERMS)
ATTENTION_BY_ITS_MATH_WITHIN_TERMS = (r" \[scaled_dot_product_attention in the program: PyTorch's "
                                      r"math backend agrees, to the size of the terms Σⱼ wⱼ·\|vⱼ\| "
                                      r"where they reach 1e20\](?: \[[^]]*\])*$")

# the fuzzer's mark for a gradient finding where PyTorch, rerun with its sinc computed in a
# wider float (float16 in float32, float32 in float64, float64 by its series near 0) and
# rounded back, gives tapegrad's gradients (run.py's SINC_IN_FLOAT64)
SINC_IN_FLOAT64 = (r"(?: \[[^]]*\])* \[sinc in the program: PyTorch agrees with its sinc computed "
                   r"in float64\]$")
# the fuzzer's mark for a value finding of lgamma, digamma, polygamma or mvlgamma where
# PyTorch, rerun with them computed in float64 and rounded back, gives tapegrad's values
# (run.py's GAMMA_VALUES_WIDENED)
GAMMA_VALUES_WIDENED = (r" \[lgamma, digamma, polygamma or mvlgamma: PyTorch agrees with its values "
                        r"computed in float64\](?: \[[^]]*\])*$")
# the fuzzer's mark for a gradient finding where PyTorch, rerun with the backward of its
# lgamma, digamma, polygamma, mvlgamma and gelu computed in float64, gives tapegrad's
# gradients (run.py's SLOPES_WIDENED)
SLOPES_WIDENED = (r"(?: \[[^]]*\])* \[lgamma, digamma, polygamma, mvlgamma or gelu in the "
                  r"program: PyTorch agrees with their slopes computed in float64\]$")
# the fuzzer's mark for a gradient finding where PyTorch, rerun with its float64 gelu's values
# and slopes computed by math.erfc (or x·σ(2u)), gives tapegrad's gradients (run.py's
# GELU_BY_MATH)
GELU_BY_MATH = (r"(?: \[[^]]*\])* \[float64 gelu in the program: PyTorch agrees with gelu and its "
                r"slope computed by math.erfc\]$")
# the fuzzer's mark for a gradient finding where PyTorch, rerun with its attention by its math
# backend, gives tapegrad's gradients (run.py's ATTENTION_GRADIENTS_BY_ITS_MATH)
ATTENTION_GRADIENTS_BY_ITS_MATH = (r"(?: \[[^]]*\])* \[scaled_dot_product_attention in the program: "
                                   r"PyTorch's math backend gives tapegrad's gradients\]$")
# the fuzzer's mark for a gradient finding where PyTorch, rerun with the slopes ψ of its float64
# lgamma and mvlgamma computed by mpmath, gives tapegrad's gradients (run.py's DIGAMMA_BY_MATH)
DIGAMMA_BY_MATH = (r"(?: \[[^]]*\])* \[float64 lgamma or mvlgamma in the program: PyTorch agrees "
                   r"with their slopes ψ computed by mpmath\]$")
# the fuzzer's mark for a gradient finding where PyTorch, rerun with the operands of a mul of
# a 0-d tensor of another dtype given in the dtype its forward computes in, gives tapegrad's
# gradients (run.py's MUL_AS_COMPUTED)
MUL_AS_COMPUTED = (r"(?: \[[^]]*\])* \[mul of a 0-d tensor of another dtype in the program: "
                   r"PyTorch agrees with the operands given in the dtype its forward computes "
                   r"in\]$")

ALLOWED = [
    Allowed("float-noise", "*", "", "float noise",
            "within 100x the dtype's tolerance: rounding and summation order"),
    Allowed("tapegrad-computes", "*", r"NotImplementedError: \"[\w<>]+\" not implemented for "
            r"'(Bool|Long|Int|Byte|Half|Char|Short)'", "pytorch bug",
            "PyTorch lacks a CPU kernel for this dtype (cumsum of bool, ceil of bool, bmm of "
            "bool, kthvalue of bool…); the math is defined and tapegrad computes it"),
    Allowed("tapegrad-computes", "linear", r"^RuntimeError: result type Long can't be cast to the "
            r"desired output type Bool$", "pytorch bug",
            "linear of bool operands with an empty inner dim and a bool bias: PyTorch's addmm "
            "sums the empty product as int64 and refuses to cast it into the bool result (with "
            "values it has no bool kernel at all: the entry above); the math is the bias, "
            "which tapegrad gives (x·wᵀ over an empty inner dim is all False)"),
    Allowed("backward-computes", "floor_divide", "derivative for aten::floor_divide is not "
            "implemented", "difference",
            "floor_divide's gradient is 0 almost everywhere; tapegrad gives the 0"),
    Allowed("signature", "*", r"must be Tensor, not (int|float|bool)", "difference",
            "tapegrad accepts a Python number where PyTorch insists on a Tensor "
            "(logical_and(x, 1), allclose(x, 0)); the number means the 0-d tensor"),
    Allowed("signature", "*", r"got \(Tensor, (dim=NoneType|keepdim=bool)|argument 'dim' must "
            r"be int, not NoneType", "difference",
            "max/min/prod with dim=None (or keepdim without a dim) reduce every dim in "
            "tapegrad; PyTorch's parser refuses the spelling"),
    Allowed("signature", "new_full", r"'size' \(position 1\) must be tuple of ints, not int",
            "difference", "x.new_full(3, v): an int size is the 1-d size (3,), as new_zeros(3) "
            "and new_ones(3) take it; PyTorch's parser insists on a tuple here alone"),
    Allowed("signature", "lerp", r"got \(Tensor, (float|int|bool), Tensor\)", "difference",
            "lerp with a number end: the number means the 0-d tensor, as for a number weight"),
    Allowed("tapegrad-computes", "*", r"argument 'value' must be Number, not Tensor", "difference",
            "addcmul/addcdiv with a tensor value that requires grad: tapegrad differentiates "
            "with respect to it; PyTorch takes a 0-d tensor only as a number"),
    Allowed("signature", "true_divide", "rounding_mode", "difference",
            "true_divide is div, with div's rounding_mode"),
    Allowed("signature", "true_divide_", "rounding_mode", "difference",
            "true_divide_ is div_, with div_'s rounding_mode"),
    Allowed("signature", "*", r"got \(Tensor, .*keepdim=bool|missing 1 required positional "
            r"arguments: \"dim\"|'dim' \(position 2\) must be tuple of ints, not NoneType",
            "difference", "keepdim without a dim (or dim=None) reduces every dim in tapegrad; "
            "PyTorch's parser refuses the spelling"),
    Allowed("signature", "*", "unexpected keyword argument 'return_indices'", "difference",
            "tapegrad.max_pool1d/2d take F.max_pool's return_indices; torch.max_pool2d does not"),
    Allowed("signature", "*", r"received an invalid combination of arguments - got \(.*(min|max)=",
            "difference", "clamp with one tensor bound and one number bound: tapegrad takes it"),
    Allowed("tapegrad-computes", "*", "not differentiable with respect to argument", "difference",
            "tapegrad differentiates losses with respect to their targets and weights too"),
    Allowed("tapegrad-computes", "*", "Autograd not support dtype", "difference",
            "an integer result (sum(dtype=int64)) of a tensor that requires grad: PyTorch "
            "refuses, tapegrad gives a result that does not require grad"),
    Allowed("tapegrad-computes", "*", r"must be float, not Tensor|Double did not match Float",
            "difference", "a 0-d tensor where PyTorch wants a number (pad's value), and "
            "allclose of two float dtypes, promoted as elsewhere"),
    Allowed("tapegrad-computes", "linear", r"mat2 must be a matrix|output with shape \[\] doesn't "
            r"match the broadcast shape \[1\]", "difference",
            "F.linear with a 1-d weight is a dot product in tapegrad"),
    Allowed("tapegrad-computes", "topk", "does not support bool dtypes on CPU", "pytorch bug",
            "a CPU kernel gap: topk of bool is well defined"),
    Allowed("value", "median", r" \[median: PyTorch agrees with its input made contiguous\]"
            r"(?: \[[^]]*\])*$", "pytorch bug",
            "torch.median(x, dim) of an expanded (stride-0) tensor returns uninitialised memory. "
            "The fuzzer checks it: PyTorch's median of the same input made contiguous gives "
            "tapegrad's values and indices"),
] + [
    Allowed("value", op, r"^indices: \[[-\d\s]+\] vs torch \[[-\d\s]+\]( \[layouts: [^]]*\])?"
            r"( \[NaN inputs\])?$", "difference",
            "which of several equal elements' index is returned (NaNs count as equal): "
            "PyTorch documents no rule")
    for op in ("median", "topk", "kthvalue", "sort", "argsort", "max", "min")
] + [
    Allowed("float-dtypes", "*", "a leaf tensor that requires grad", "difference",
            "x.to(x.dtype) is x itself, as in PyTorch, so an in-place op after it meets the "
            "leaf in one dtype and a copy in another"),
    Allowed("tapegrad-raises", "cholesky", r"not positive-definite.* \[singular up to rounding: ",
            "float noise",
            "a matrix singular up to rounding (a pivot within rounding of 0): whether the "
            "factorization fails depends on the LAPACK build's order of operations"),
    Allowed("tapegrad-computes", "cholesky", r"^_LinAlgError: cholesky: (\(Batch element \d+\): )?"
            r"The factorization could not be completed because the input is not positive-definite"
            r".* \[singular up to rounding: an eigenvalue within 4n·ε·‖A‖ of 0, tapegrad's factor F "
            r"gives F Fᵀ = A to 8n·ε·‖A‖\]$", "float noise",
            "a matrix singular up to rounding (equal values 0.234 in a 2x2 matrix, rank one): "
            "its last pivot a - l₂₁² is a rounding residue, above 0 on tapegrad's input and 0 "
            "on PyTorch's (an ulp apart after exp2, sinh, sin, erfc), which PyTorch refuses. "
            "The fuzzer "
            "checks tapegrad's input to cholesky (the triangle it reads) has an eigenvalue "
            "within 4n·ε·‖A‖ of 0 and tapegrad's factor reproduces it to 8n·ε·‖A‖; a clearly "
            "indefinite matrix, or a wrong factor, is not marked"),
    Allowed("tapegrad-computes", "cholesky", r"^_LinAlgError: cholesky: (\(Batch element \d+\): )?"
            r"The factorization could not be completed because the input is not positive-definite"
            r".* \[PyTorch's float64 cholesky factors it: tapegrad's factor\]$", "pytorch bug",
            "cholesky of a float32 matrix with ∞ on its diagonal before the last row: PyTorch's "
            "float32 kernel fails where its float64 kernel factors the same matrix "
            "([[inf, 0], [0.5, 1]] → [[inf, 0], [0, 1]], ∞ pivots then 0.5/∞ = 0), as tapegrad "
            "does in both dtypes. The fuzzer checks it: PyTorch's float64 factor of the same "
            "matrix, rounded to float32, is tapegrad's"),
    Allowed("value", "cholesky", r"\] \[a matrix singular up to rounding: both factors "
            r"reproduce it to rounding, its last pivots √\(rounding residue\)\]"
            r"( \[layouts: [^\]]*\])?( \[NaN inputs\])?$", "float noise",
            "cholesky of a matrix singular up to rounding (equal rows: 1.00194 everywhere): "
            "its last pivot is √ of a rounding residue, 1.5e-8 in tapegrad and 2.2e-4 in "
            "PyTorch. The fuzzer checks that both factors F give F Fᵀ = A to 8n·ε·‖A‖; a "
            "factor 0.5 off anywhere does not"),
    Allowed("float-dtypes", "cholesky", r"^raises in float(32|64) only: RuntimeError: cholesky: "
            r"the input of shape \([\d, ]*\) is not positive-definite", "float noise",
            "a singular positive semi-definite matrix (equal rows): its last pivot a - a²/a is "
            "0 in one dtype and a rounding residue above 0 in the other, which factors"),
    Allowed("float-dtypes", "mvlgamma", "all elements must be greater than", "float noise",
            "a value that rounds onto the bound (p-1)/2 in float32 only (1e-30 squared is 0)"),
] + [
    Allowed("gradient", op, r"^leaf\d+ \((?:float16\): NaN where torch has none or the other way: "
            + _infinity_against_torchs_nan(close=True) + r"|float(?:32|64)\): NaN where torch has "
            r"none or the other way: " + _infinity_against_torchs_nan() + r")(?: \[[^]]*\])*$",
            "float noise",
            "arcosh's slope 1/√(x² - 1) is +inf at x = ±1 exactly and NaN just inside (-1, 1): "
            "an input one rounding away from ±1 decides between them (layer_norm of two values "
            "with eps = 0 is ±1: exactly in tapegrad, ±0.99999988 from PyTorch's float32 "
            "rounding of (x - μ)/σ); every NaN of PyTorch's stands against ±inf (or NaN) here and "
            "every other number shown is the same")
    for op in ("acosh", "arccosh")
] + [
    Allowed("gradient", "lgamma", r"inf differs|NaN where", "float noise",
            "digamma at a pole of lgamma: ±inf or NaN, decided by the side the rounding fell on"),
] + [
    Allowed("gradient", op, r"^leaf\d+ \(float\d+\): (inf differs|NaN where torch has none "
            r"or the other way): ", "pytorch bug",
            "trigamma ψ⁽¹⁾ (the gradient of ψ = polygamma(0)) at a pole of Γ: 0, the negative "
            "integers, every float32 beyond 2²³ and float64 beyond 2⁵² in magnitude. ψ⁽¹⁾ → +inf "
            "there from both sides and tapegrad gives +inf, as PyTorch's own ψ⁽¹⁾(0) and its "
            "ψ⁽ⁿ⁾ (n ≥ 2) at every pole; PyTorch's trigamma reflection π²/sin²(πx) gives a finite "
            "number instead, sin(πx) rounding away from 0: 7.3e31 at -3.0 in float64, 1.7e16 in "
            "float32, 13.0 at -1e30. Also ψ⁽ⁿ⁺¹⁾(+inf) = 0 where PyTorch's n ≥ 2 gives NaN (its "
            "value entry). The rest follow: tapegrad's inf times a flat slope (0) or summed with "
            "-inf (an expanded leaf) is NaN where PyTorch's finite number gives a number")
    for op in ("digamma", "polygamma", "polygamma_method")
] + [
    Allowed("gradient", op, r"^leaf\d+ \(float\d+\): (?:inf differs: |NaN where torch has none or "
            r"the other way: )?\[[^]]*\] vs torch \[[^]]*\]" + SLOPES_WIDENED, "float noise",
            "a gradient through ψ⁽ⁿ⁾ at negative x, where between the poles one apart the slope "
            "is huge: the leading digits follow the last bits of x (an lgamma or digamma "
            "upstream rounded an ulp apart in float32) and of πx. PyTorch's trigamma takes "
            "sin(πx) of the unreduced float32 x: ψ⁽¹⁾(-11260.926) is 184.86603 (mpmath, "
            "tapegrad), PyTorch's 185.61644; tapegrad reduces x to its fraction and computes "
            "in float64 (tests/autograd/test_gamma_functions.py checks reference values). "
            "The fuzzer checks it: PyTorch's gradients with the slopes of its lgamma, digamma, "
            "polygamma and mvlgamma computed in float64 are tapegrad's")
    for op in ("lgamma", "digamma", "polygamma", "polygamma_method", "mvlgamma")
] + [
    Allowed("gradient", "*", r"\[pow\(x, False\) in the program: PyTorch agrees with "
            r"pow\(x, 0\)\]$", "pytorch bug",
            "pow(x, False): x to the power False is the constant 1, so its slope is 0, as PyTorch "
            "gives for pow(x, 0); for the bool exponent PyTorch's backward computes 0·x⁻¹, NaN "
            "at x = 0, at a NaN x and for an infinite incoming gradient (a later lerp's "
            "grad·(1 - w) with w = ∞), where tapegrad gives 0. The fuzzer checks it: PyTorch's "
            "gradients with pow(x, 0) in place of pow(x, False) are tapegrad's"),
] + [
    Allowed("gradient", op, r"^leaf\d+ \(float(32|64)\): [\s\S]*\[float16 exponent: PyTorch agrees "
            r"with it widened\]$", "pytorch bug",
            "pow of a float32 or float64 base and a float16 exponent tensor: PyTorch's backward "
            "computes y - 1 in float16 before promoting (12056 - 1 rounds back to 12056), so its "
            "slope is y·xʸ, not y·xʸ⁻¹: the sign of an odd power of a negative base is lost "
            "(pow(-1.001, float16 2050): PyTorch 15877.6, exact -15892.0, tapegrad -15893.5), "
            "and a fractional y - 1 keeps float16's 11 bits (0.2551 - 1: a slope 0.05129 for "
            "0.05131). The fuzzer checks it: PyTorch's gradients with that exponent leaf given "
            "in the result's dtype (the same values) are tapegrad's")
    for op in ("pow", "pow_")
] + [
    Allowed("gradient", op, r"^leaf\d+ \(float\d+\): (?:inf differs|NaN where torch has none or "
            r"the other way): (?:" + _infinities_flipped_in_torch() + "|"
            + r"\[[^]]*\] vs torch \[[^]]*\]" + LOGIT_OF_PLUS_ZERO + ")", "pytorch bug",
            "logit's slope 1/(x(1 - x)) at x = -0.0 is +inf (the slope at 0, and PyTorch's "
            "scalar loop's); PyTorch's vectorised loop divides by x(1 - x) = -0.0 and gives "
            "-inf, so the sign follows the element's place in the tensor: logit of 24 float32 "
            "-0.0s gets +inf everywhere, of 32 -inf everywhere, of 144 -inf but for the last "
            "16 (float64: 16 and more give -inf). The gradients of several copies of one "
            "element (repeat, expand) then sum to NaN in PyTorch where tapegrad's share a sign, "
            "or the other way; every other number shown is the same in both, or else "
            "PyTorch's logit(x + 0.0), -0.0 made +0.0, gives tapegrad's gradients (a NaN of "
            "tapegrad's against PyTorch's ±inf needs that)")
    for op in ("logit", "logit_")
] + [
    Allowed("gradient", op, r"^leaf\d+ \(float\d+\): NaN where torch has none or the other way: "
            r"\[[^]]*nan[^]]*\] vs torch \[(?:[^]]*\s)?-?0\.[\s\]]", "pytorch bug",
            "logit(x, eps)'s gradient at a NaN x is NaN (PyTorch's scalar loop, and without "
            "eps); PyTorch's vectorised loop counts NaN as outside [eps, 1 - eps] and gives 0: "
            "16 float32 NaNs get NaN, 32 get 0 (float16: 32 and 64; float64: 8 and 16)")
    for op in ("logit", "logit_")
] + [
    Allowed("gradient", "sinc", r"^leaf\d+ \(float16\): (NaN where torch has none or the other "
            r"way: |inf differs: )?\[[\s\S]*\]" + SINC_IN_FLOAT64, "pytorch bug",
            "sinc's float16 slope: PyTorch's backward works in float16, where π·x² overflows "
            "beyond |x| ≈ 144 (its slope is then 0: at x = 300 it gives 0, the slope is 1/300; "
            "an infinite gradient times that 0 is NaN where tapegrad's is ±inf) and πx keeps no "
            "fractional digit (at 100.5: -2.3e-4, the slope is -3.15e-5); tapegrad computes πx "
            "in float32, as both libraries' forward. The fuzzer checks it: PyTorch's gradients "
            "with its float16 sinc computed in float32 and rounded back are tapegrad's"),
    Allowed("gradient", "sinc", r"^leaf\d+ \(float(?:32|64)\): \[(?:[-+.\d\se]|nan)*\] vs torch "
            r"\[(?:[-+.\d\se]|nan)*\]" + SINC_IN_FLOAT64, "float noise",
            "sinc's slope near 0, where PyTorch's (πx·cos πx - sin πx)/(πx²) cancels (float32 "
            "x = 1e-5: 0, the slope is -3.3e-5; float64 x = 1e-17: 0) and tapegrad sums the "
            "slope's series (tests/autograd/test_trigonometric.py checks it against exact "
            "values), which later steps can magnify (a product with 1e30 upstream). The fuzzer "
            "checks it: PyTorch's gradients with its sinc computed in float64 (by its series "
            "near 0) and rounded back are tapegrad's"),
    Allowed("gradient", "sinc", r"^leaf\d+ \(float(32|64)\): NaN where torch has none or the "
            r"other way: \[(?:[^]n]|inf)*\] vs torch \[[^]]*nan[^]]*\]" + SINC_IN_FLOAT64,
            "pytorch bug",
            "sinc's slope in PyTorch is 0 where its (πx·cos πx - sin πx)/(πx²) cancels to 0 "
            "(float64 x = 1e-30: 0, the slope is -3.3e-30, tapegrad's series gives it), so an "
            "infinite incoming gradient gives NaN there where tapegrad's gives ±inf; and a "
            "float16 step before a wider leaf: PyTorch's backward squares x in float16, which "
            "overflows beyond 256 (inf/inf = NaN), tapegrad's works in float32. The fuzzer checks "
            "it: PyTorch's gradients with its sinc computed in a wider float are tapegrad's"),
    Allowed("gradient", "*", r" \[sinc in the program: PyTorch agrees with its sinc computed in "
            r"float64\]$", "float noise",
            "the same sinc slope met by a later step (a log, atanh or erfinv whose infinite slope then "
            "turns PyTorch's slope of 0 into NaN where tapegrad's tiny slope gives ±inf, or a "
            "multiplication that magnifies the difference); the fuzzer checks it: PyTorch's "
            "gradients with its sinc computed in float64 and rounded back are tapegrad's"),
] + [
    Allowed("gradient", "*", SLOPES_WIDENED, "float noise",
            "lgamma, digamma, polygamma, mvlgamma or gelu before a step whose slope magnifies "
            "what PyTorch's narrow dtype rounds: a slope it rounds to 0 though it is tiny but "
            "not 0, before an infinite one (log or rsqrt of a value whose slope overflows, "
            "lgamma at a pole): ψ⁽²⁾(4388) = -5.2e-8 in float16 (PyTorch -0.0, tapegrad "
            "-5.96e-8), gelu's slope at -8.66 (float16 0, tapegrad's 1e-16), so the infinite "
            "gradient times that 0 is NaN in PyTorch and ±inf in tapegrad, as times the exact "
            "slope; trigamma from sin(πx) of the unreduced float32 x; a float32 gelu an ulp "
            "from the rounded exact value before atanh near 1. The fuzzer checks it: PyTorch's "
            "gradients with the slopes of those ops computed in float64 (and their values, "
            "rounded back, or PyTorch's own) are tapegrad's (sinc's own slope rounded to 0 "
            "has its mark above)"),
    Allowed("gradient", "*", r"^leaf\d+ \(float64\): \[[^]]*\] vs torch \[[^]]*\]" + GELU_BY_MATH,
            "pytorch bug",
            "float64 gelu far in its negative tail before a step whose slope magnifies its value "
            "(log, log10: 1/y): PyTorch forms 1 + erf(x/√2) (1 + tanh u), which cancels there, "
            "so gelu(-6.93353) is -1.4230088e-11 in PyTorch, 1.2e-5 from the exact "
            "-1.4229920e-11 (mpmath; tapegrad's and math.erfc's), and its slope 2.5e-7 off, "
            "beyond float64's tolerance. The fuzzer checks it: PyTorch's gradients with gelu's "
            "values and slopes computed by math.erfc (x·σ(2u) for the tanh form) are tapegrad's, "
            "to the tolerance; a gelu or log10 slope 1e-4 off in tapegrad stays a finding"),
    Allowed("gradient", "*", r"^leaf\d+ \(float64\): \[[^]]*\] vs torch \[[^]]*\]"
            + DIGAMMA_BY_MATH,
            "pytorch bug",
            "float64 lgamma or mvlgamma a hair from a negative pole (mvlgamma(y, 3) of y = "
            "3.7e-14 takes ψ(y - 1) = ψ(-1 + 3.7e-14)): PyTorch's ψ reflects by π/tan(πx), and "
            "πx rounded swamps the distance to the pole, so ψ(-1 + 3.7e-14) is -2.66675e13 in "
            "PyTorch, 0.2% from the exact -2.67276e13 (mpmath; tapegrad's, which reflects by "
            "x + k, exact), beyond float64's tolerance. The fuzzer checks it: PyTorch's "
            "gradients with those slopes computed by mpmath are tapegrad's, to the tolerance; "
            "an mvlgamma slope 1e-4 off in tapegrad stays a finding")
] + [
    Allowed("gradient", op, r"^leaf\d+ \(float16\): NaN where torch has none or the other way: "
            + _nan_only_where_torch_has_nan() + r"( \[layouts: [^]]*\])?"
            r" \[the gradient of the later steps: [^]]*\]$", "pytorch bug",
            "float16 atan2 of a uint8 y, alone with the gradient the later steps send it: "
            "PyTorch's backward forms grad·(-y) with -y wrapped (-3 is 253), which overflows "
            "float16 (-1348·253), and multiplies it by 1/r² = 0 (8584² is ∞ in float16): ∞·0 = "
            "NaN where the slope -y/r² = -4e-8 fits; tapegrad's is the float64 step's rounded "
            "once (-2.05e-5). Only NaN of PyTorch's where tapegrad has a number: every NaN of "
            "tapegrad's (a NaN incoming gradient) stands against one of PyTorch's")
    for op in ("atan2", "arctan2")
] + [
    Allowed("gradient", op, r"^leaf\d+ \(float16\): NaN where torch has none or the other way: "
            + _nan_against_torchs_infinity() + r"( \[layouts: [^]]*\])?"
            r"( \[the gradient of the later steps: [^]]*\])?$", "pytorch bug",
            "float16 atan2 of an int64 y beyond float16's range (int of ∞, -2⁶³): both give "
            "-π/2, y being -inf in float16, and tapegrad's slope -y/r² at an infinite y is NaN, "
            "as PyTorch's for a float y (atan2(-inf, 0.5): x's gradient NaN). PyTorch's "
            "backward squares y in int64, where (-2⁶³)² wraps to 0, so r² = x² and -y/x² "
            "overflows to ±inf. Only tapegrad's NaN against PyTorch's ±inf, the rest the same")
    for op in ("atan2", "arctan2")
] + [
    Allowed("gradient", op, r"^leaf\d+ \(float(?:32|64)\): NaN where torch has none or the "
            r"other way: " + _nan_only_where_torch_has_nan(), "pytorch bug",
            "atan2 with an operand near the float's largest value (3.4e38, as nan_to_num or "
            "nextafter make of ∞): PyTorch's backward multiplies grad·y before 1/r², so grad·y "
            "overflows to ∞ while r² does too (1/r² = 0), and ∞·0 is NaN; the slope -y/r² ≈ -1/y "
            "is tiny and finite, tapegrad multiplies the gradient by 1/r² first (NaNs on "
            "tapegrad's side are those of NaN operands, which both libraries have)")
    for op in ("atan2", "arctan2")
] + [
    Allowed("gradient", op, r"^leaf\d+ \(float32\): NaN where torch has none or the other way: "
            + _infinity_against_torchs_nan_near_a_pole() + r"( \[layouts: [^]]*\])?"
            r" \[the gradient of the later steps: [^]]*\b(?:digamma|polygamma|lgamma)\b[^]]*\]$",
            "pytorch bug",
            "float32 atan2 with a 1e30 operand, then erf and digamma: at the 1e30 element the "
            "later steps send an infinite gradient, and PyTorch's ∞·x·(1/r²) with r² = ∞ is "
            "∞·0 = NaN where tapegrad takes the slope x/r/r = 1e-30 first (∞); the rest differ "
            "by up to 1%: numpy's float32 atan2 is one ulp off PyTorch's (atan2(-4.9188, "
            "-1107.13): -3.13715 against -3.1371498, the float64 answer rounded), erf of it is "
            "-0.99999, next to digamma's pole at -1, whose slope magnifies that ulp. Only an "
            "∞ of tapegrad's against PyTorch's NaN (at least one), NaN against NaN, and numbers "
            "of the same sign, first digit and exponent, with digamma, polygamma or lgamma "
            "among the later steps")
    for op in ("atan2", "arctan2")
] + [
    Allowed("gradient", "*", r"\[atan2 or hypot in the program: PyTorch agrees with its "
            r"backward in a wider float\]$", "pytorch bug",
            "atan2 or hypot before or at this op: PyTorch's backward computes r² = x² + y² and "
            "grad·y (grad·x) in the operands' dtype, where they overflow (float16 y ~ 5e3, or a "
            "float32 1e30 operand against a gradient of 1e30: an infinite incoming gradient "
            "times 1/r² = 0 is NaN, grad·y/z is ∞) though the slopes x/r², y/z fit; tapegrad "
            "computes float16 ones in float32 and takes the slopes first. An integer operand "
            "beside a float one (a uint8 y) PyTorch negates before promoting it (-3 wraps to "
            "253). The fuzzer checks it: PyTorch's gradients with those steps computed in the "
            "next float wider than the operands' promoted dtype and rounded back (the same "
            "forward) are tapegrad's"),
    Allowed("gradient", "*", r" \[addcmul or addcdiv in the program: PyTorch agrees with the "
            r"operands given in the result's dtype\]$",
            "pytorch bug", "addcmul/addcdiv with operands of mixed dtypes: PyTorch's backward "
            "combines the value with the narrower operand in that operand's dtype before "
            "promoting (a uint8 4·-1 wraps to 252; a float16 value/t₂ keeps 3 digits of a "
            "float64 gradient; a float32 t₂ = 1e-30 squares to 0 against a float64 result, "
            "so t₁/t₂² is ∞ or NaN). The fuzzer checks it: PyTorch's gradients with every "
            "operand given in the result's dtype are tapegrad's"),
] + [
    Allowed("gradient", op, r"(?s)^leaf\d+ \(float\d+\): .*" + PLACED, "pytorch bug",
            "the gradient of an elementwise activation at a NaN input: PyTorch's CPU kernel "
            "gives one answer in its vectorised loop (the full blocks of a contiguous tensor) "
            "and another in its scalar loop (the tail, or a strided tensor), so the answer "
            "depends on the element's place: hardtanh and relu6 0 vectorised, g scalar (a "
            "float32 NaN at index 2 of 4 gets g, of 16 gets 0); hardshrink and softshrink 0 "
            "vectorised, g scalar; elu, selu, celu and hardswish NaN vectorised, s·g scalar "
            "(float32: of 8 g, of 64 NaN); logit(x, eps) 0 vectorised, NaN scalar at a NaN x "
            "(float32: of 16 NaN, of 32 0), and at x = -0.0 -inf vectorised, +inf scalar "
            "(seed 67413727: both at once, which neither logit entry below accepts alone). "
            "The fuzzer checks it at the step whose backward differs: "
            "PyTorch's backward of that step on the same values and incoming gradient, all "
            "placed in its vectorised loop or each alone in its scalar loop, gives tapegrad's "
            "gradients; or its two loops disagree at some elements, tapegrad gives 0 or one of "
            "their two answers there (elu's 0 at a NaN x), and PyTorch's gradients with its own "
            "answer at every other element are tapegrad's. A gradient wrong where the loops "
            "agree is still found")
    for op in ("hardtanh", "hardtanh_", "relu6", "hardshrink", "softshrink", "elu", "elu_",
               "selu", "selu_", "celu", "celu_", "hardswish", "logit", "logit_")
] + [
    Allowed("value", op, r"^(?:inf differs|NaN where torch has none or the other way): \[[^]]*\] "
            r"vs torch \[[^]]*\] \[float16 x ± α·y: PyTorch gives tapegrad's values with its "
            r"operands placed in its kernel's vectorised loop\](?: \[layouts: [^]]*\])?"
            r"(?: \[NaN inputs\])?$", "pytorch bug",
            "float16 x + α·y (sub, rsub: x - α·y) with α ≠ 1: PyTorch's CPU kernel computes it "
            "in float32 and rounds once in its vectorised loop (the full blocks of 32 of a "
            "contiguous tensor), but rounds α·y to float16 first in its scalar loop (the tail, "
            "a small tensor): -20608 + 2·35328 is 50048 in the first, ∞ in the second "
            "(2·35328 = 70656 > 65504). tapegrad rounds once wherever the element sits. The "
            "fuzzer checks it: PyTorch with the step's operands flattened and padded to whole "
            "blocks of its vectorised loop gives tapegrad's values")
    for op in ("add", "sub", "rsub")
] + [
    Allowed("gradient", "*", r"(?s)^leaf\d+ \(float\d+\): .*(?: \[[^]]*\])* \[PyTorch gives "
            r"tapegrad's gradients with its elementwise activations' inputs placed in one loop "
            r"of their kernels\]$", "pytorch bug",
            "an elementwise activation's gradient at a NaN input, as above, where its input in "
            "the program is laid out otherwise than a contiguous copy (a transposed input's "
            "result keeps its strides), so that no step's own backward differs run alone: the "
            "program run again in PyTorch with those activations' inputs all in their "
            "kernels' vectorised loop, or each element alone in the scalar loop, gives "
            "tapegrad's gradients (hardshrink twice of a transposed (4, 4, 3) NaN, then sum)"),
] + [
    Allowed("gradient", op, r"^leaf\d+ \(float\d+\): NaN where torch has none or the other "
            r"way: " + _equal_or_else_in_torch("nan") + r"(?: \[|$)", "pytorch bug",
            "hardswish's gradient at a NaN input: PyTorch's CPU kernel passes the gradient in "
            "its scalar tail (x < -3 and x ≤ 3 both false) and gives NaN in its vectorised "
            "loop (g·(x/3 + ½) blended by masks: a float64 NaN in a tensor of 8 gets 1, of 16 "
            "NaN); tapegrad passes the gradient, as the tail")
    for op in ("hardswish",)
] + [
    Allowed("gradient", op, r"^leaf\d+ \(float(?:32|64)\): NaN where torch has none or the other "
            r"way: " + _infinity_against_torchs_nan_else_finite()
            + r"(?: \[layouts: [^]]*\])?(?: \[NaN inputs\])?"
            r" \[the gradient of the later steps: [^]]*\](?: \[tanh's output an ulp from "
            r"PyTorch's next to ±1: PyTorch's backward from tapegrad's output agrees\])?$",
            "float noise",
            "tanh's slope 1 - y² taken from its output y where y rounds next to ±1: numpy's "
            "float32 tanh of 9.01 < |x| < 10 is one ulp inside ±1 (tanh(9.261) = 1 - 1.8e-8 is "
            "0.99999994), PyTorch's the nearest float, ±1 (float64 likewise near 19), so the "
            "slope is 1.2e-7 in tapegrad and 0 in PyTorch (the true one 3.6e-8), and the "
            "infinite gradient a later step sends (a division by 0) gives ±∞ (the true slope's "
            "sign) against PyTorch's ∞·0 = NaN (a finite gradient: -9e-8 against -0). The "
            "values agree to an ulp; the entry asks for later steps and that only ±∞ of "
            "tapegrad's stands against NaN, NaN against NaN, finite numbers against finite "
            "ones within the noise band (a wrong slope's sign, a NaN of tapegrad's or a finite "
            "number apart is not matched)")
    for op in ("tanh", "tanh_")
] + [
    Allowed("gradient", op, r"^leaf\d+ \(float(?:32|64)\): \[[^]]*\] vs torch \[[^]]*\]"
            r"(?: \[[^]]*\])* \[tanh's output an ulp from PyTorch's next to ±1: PyTorch's "
            r"backward from tapegrad's output agrees\]$", "float noise",
            "tanh's slope 1 - y² from its output y next to ±1, where numpy's float32 tanh is "
            "one ulp further inside than PyTorch's nearest float (tanh(8.6465) = 1 - 6.2e-8: "
            "0.9999999 against 0.99999994), so the slope is 2.4e-7 against 1.2e-7 (the true "
            "one 1.24e-7) and a later slope (lgamma's digamma, -5690) shows it in the leaf's "
            "gradient. The fuzzer checks it: PyTorch's program rerun with each tanh step "
            "given an input whose PyTorch tanh is tapegrad's output gives tapegrad's leaves' "
            "gradients (a wrong slope, or a value more than rounding apart, does not)")
    for op in ("tanh", "tanh_")
] + [
    Allowed("gradient", "*", r"^leaf\d+ \(float(?:32|64)\): (?:NaN where torch has none or the "
            r"other way: )?\[[^]]*\] vs torch \[[^]]*\](?: \[[^]]*\])* \[tanh's output an ulp "
            r"from PyTorch's next to ±1: PyTorch's backward from tapegrad's output agrees\]$",
            "float noise",
            "a later step's slope steep at ±1 taken from tanh's output y next to ±1, where "
            "numpy's float32 tanh is one ulp further inside than PyTorch's nearest float: "
            "tanh(-9.88) = -1 + 5.3e-9 is -0.99999994 against -1, so acos's slope "
            "-1/√(1 - y²) is -2896 in tapegrad and -∞ in PyTorch, where tanh's slope 0 makes it "
            "∞·0 = NaN; tanh(8.6465) = 1 - 6.2e-8 is 0.9999999 against 0.99999994, so asin's "
            "slope is 2048 against 2896 and the two slopes' product √(1 - y²) is √2 times "
            "PyTorch's (the true one, sech x, is finite and between). No step alone differs; "
            "the fuzzer checks it: PyTorch's program rerun with each tanh step given an input "
            "whose PyTorch tanh is tapegrad's output gives tapegrad's leaves' gradients, NaN "
            "for NaN and each number to the tolerance (a wrong slope of a step, or a NaN of "
            "its own, does not)")
] + [
    Allowed("backward-computes", op, r"Negation, the `-` operator, on a bool tensor|"
            r"can't be cast to the desired output type", "pytorch bug",
            "PyTorch's own backward refuses: atan2 with a bool operand negates it, addcdiv "
            "with an integer divisor cannot cast its gradient back")
    for op in ("atan2", "arctan2", "addcdiv")
] + [
    Allowed("float-dtypes", "binary_cross_entropy", r"^raises in float(32|64) only: RuntimeError: "
            r"binary_cross_entropy: all elements of (input|target) should be between 0 and 1, "
            r"got values in \[(-\d(\.\d+)?e-(0[5-9]|[1-9]\d), [^]]*|[^]]*, 1(\.0000\d*)?)\]",
            "float noise",
            "a probability computed a rounding below 0 or above 1 in float32 only (sinc(1) is "
            "-2.8e-8 in float32, sin of π rounded, and 3.9e-17 in float64): refused in that "
            "dtype, as PyTorch refuses it in that dtype"),
    Allowed("float-dtypes", "binary_cross_entropy", r"^raises in float64 only: RuntimeError: "
            r"binary_cross_entropy: all elements of (input|target) should be between 0 and 1, "
            r"got values in \[-\d(\.\d+)?e-[1-3]\d\d, ", "float noise",
            "a probability below 0 by less than float32's smallest subnormal (1.4e-45): float32 "
            "holds it as -0.0, float64 keeps it and refuses it, as PyTorch refuses -1.1e-121 in "
            "float64 (gelu(-23.56) = x·Φ(x) is -1.1e-121, tapegrad's erfc keeping the tail; "
            "PyTorch's 1 + erf cancels to -0.0 in either dtype, a value 1e-121 apart); a "
            "float64-only refusal of a value float32 holds (-0.001, -0.5) is not matched"),
    Allowed("float-dtypes", "binary_cross_entropy", r"^raises in float32 only: RuntimeError: "
            r"binary_cross_entropy: all elements of (input|target) should be between 0 and 1, "
            r"got values in \[[^]]*\b(nan|-?inf)\b[^]]*\].* \[past float32's range before this "
            r"step: float64 held [^]]*\]$", "float noise",
            "a NaN or inf made by float32's range, not by an op: the program's float64 replay "
            "held a finite value past 3.4e38 before this step (the fuzzer checks it: mse_loss of "
            "1e30 is 4e60 in float64, inf in float32, softsign(inf) = inf/inf = NaN), which "
            "binary_cross_entropy refuses in float32, as PyTorch refuses a NaN; a float32-only "
            "refusal without that mark, or of values in range, is not matched"),
    Allowed("tapegrad-raises", "binary_cross_entropy", r"^RuntimeError: binary_cross_entropy: all "
            r"elements of (input|target) should be between 0 and 1, got values in \[[^]]*\] "
            r"\(they are probabilities; for logits use binary_cross_entropy_with_logits\) "
            r"\[inherited: PyTorch given tapegrad's input, which agrees with its own within the "
            r"tolerance, refuses it too\]$", "float noise",
            "the input differs from PyTorch's within the tolerance and falls outside [0, 1] in "
            "tapegrad only: gelu far in its negative tail, exact in tapegrad (-1.87e-47 at "
            "-14.6, float64; -5.2e-8 at -5.6, float32) where PyTorch's 1 + erf(x/√2) cancels "
            "to -0.0; log(exp(True)) = 1.0000001 from numpy's float32 exp an ulp above e. The "
            "fuzzer checks it: PyTorch given tapegrad's input refuses it too; a check that "
            "refuses a valid input stays a finding"),
    Allowed("tapegrad-computes", "binary_cross_entropy", r"^RuntimeError: all elements of "
            r"(input|target) should be between 0 and 1$", "float noise",
            "a probability the steps before made a rounding apart: tapegrad's is in [0, 1] "
            "(layer_norm of equal values: exactly 0), PyTorch's just outside (its residue, "
            "-9e-7), and each library checks the range as the other does"),
    Allowed("gradient", "binary_cross_entropy_with_logits", r"^leaf\d+ \(float16\): inf differs: ",
            "pytorch bug",
            "the target's float16 gradient -x·grad·w/N (mean): PyTorch multiplies by x and the "
            "weight before dividing by N, so x ~ 1e4 overflows to inf where the gradient (~400) "
            "fits; tapegrad's mean divides the incoming gradient first"),
    Allowed("gradient", "*", r" \[batch_norm in the program: PyTorch agrees with its input and "
            r"weight made contiguous\]$", "pytorch bug",
            "batch_norm in eval mode with a non-contiguous input or weight (a slice, expand or "
            "transpose): PyTorch's CPU backward reads the weight ignoring its stride (the "
            "forward is right) and walks the incoming gradient in the input's memory order, "
            "mixing up the channels' scales 1/√(σ² + ε) (an inf weight's ±inf lands in another "
            "channel). The fuzzer checks it: PyTorch's gradients with the input and weight made "
            "contiguous before batch_norm are tapegrad's (the running statistics, weight and "
            "bias as rows of C: a weight shaped (C, 1, 1, 1) PyTorch's backward of a contiguous "
            "input refuses). In training too, with an expanded weight (stride 0): its "
            "backward reads past the weight's one element (the input's "
            "gradient in the other channels 1e-41, 1e-22); the fuzzer checks that step alone, "
            "PyTorch's backward with the weight made contiguous giving tapegrad's"),
    Allowed("gradient", "*", r" \[ldexp in the program: PyTorch agrees with the exponent given "
            r"as a float tensor of the result's dtype\]$", "pytorch bug",
            "ldexp with an integer exponent: PyTorch's backward computes 2^other in integer "
            "arithmetic, so a negative exponent gets the slope 0 (2^-1 = 0, also at a NaN x); "
            "tapegrad's is 2^other. With a 0-d float exponent PyTorch's forward takes 2^other "
            "in the result's dtype (float64 2^435 = 1e131) and its backward in the exponent's "
            "(float32: inf); tapegrad's slope is the forward's 2^other. The fuzzer checks it: "
            "PyTorch's gradients with the exponent given as a float tensor of the result's "
            "dtype are tapegrad's"),
] + [
    Allowed("gradient-float-noise", "*", "", "float noise",
            "within 100x the dtype's tolerance: rounding and summation order"),
] + [
    Allowed(kind, "*", r"^float16 rounding, (tapegrad nearer|both within float16's tolerance "
            r"of) the float64 reference: ", "float noise",
            "a float16 result that differs by inf or NaN, or beyond the tolerance: the program "
            "replayed in float64 with its chain rounded to float16 after every step (each "
            "operation computed exactly and rounded once; tapegrad's replay confirmed by "
            "PyTorch's) agrees with tapegrad and not with PyTorch, which rounded an "
            "intermediate inside the operation to float16 (cosh's backward g·sinh(x) with "
            "sinh(x) overflowing first, rad2deg's g·57.3), or with both, at the edge of "
            "float16's range where one rounded past 65504 to inf")
    for kind in ("value", "gradient")
] + [
    Allowed("gradient", "sgn", r"^leaf\d+ \(float\d+\): NaN where torch has none or the other "
            r"way: ", "difference",
            "sgn's gradient is a structural zero (PyTorch's zero tensor): tapegrad makes plain "
            "zeros of it where PyTorch's backward does, by operation (neg, where, sigmoid, "
            "slicing, a matrix product, sub's and div's second operand…), so that a NaN or "
            "infinite slope upstream gives NaN there, and passes it on elsewhere (mul, exp, "
            "sum…: 0). PyTorch's choice also depends on shapes and on the order inside its "
            "formulas, which tapegrad does not follow: a 0-d tensor times a Python number "
            "makes plain zeros, a 1-d one passes the zero tensor on"),
    Allowed("gradient", "sgn", r"^leaf\d+ \(float\d+\): \[[-0.\s]+\] vs torch \[(?:[^]a-z]|e)*\]"
            r"( \[layouts: [^]]*\])?$", "pytorch bug",
            "sgn's gradient is 0 (it is flat wherever it is differentiable); PyTorch's group_norm "
            "backward of the zero tensor sgn sends back reads uninitialised memory: -1.3e96 "
            "one run, -2.8e-76 the next, for the same (4, 3, 2, 2) input (its transpose or "
            "not); tapegrad gives the zeros"),
    Allowed("gradient-nondeterministic", "*", r"^PyTorch's gradient changes between identical "
            r"runs wherever it differs: ", "pytorch bug",
            "a program with sgn, whose gradient PyTorch gives as a zero tensor (no memory) that "
            "a later backward reads as values (group_norm's): taken three times on the same "
            "program and incoming gradient, PyTorch's gradient is 45.5, NaN, -2.7e286 at one "
            "element (the fuzzer checks it, reruns.py); tapegrad's 0 (sgn is flat) agrees with "
            "every element PyTorch repeats. One PyTorch repeats and tapegrad does not is not "
            "matched"),
    Allowed("gradient", "*", r"^leaf\d+ \(float\d+\): NaN where torch has none or the other way: "
            + _apart_only_at_nan() + r"(?: \[[^]]*\])* \[NaN inputs\]$", "difference",
            "a gradient that is NaN in one library where the forward met a NaN: neither "
            "library defines it, and each kernel gives its own (PyTorch's minimum splits, ±inf "
            "in one is NaN in the other). Only where each NaN of tapegrad's stands against NaN "
            "or ±inf in PyTorch and every other number shown is the same: a NaN of tapegrad's "
            "where PyTorch has a finite number (a NaN spreading to elements it does not reach) "
            "is a finding"),
] + [
    Allowed("gradient", op, r"^leaf\d+ \(float32\): NaN where torch has none or the other way: "
            + _nan_against_torchs(r"-?\d[\d.]*(?:e[-+]\d+)?") + r"(?: \[[^]]*\])* \[NaN inputs\]$",
            "pytorch bug",
            "a transposed convolution with a NaN weight, stride and padding: the input's gradient "
            "is the incoming gradient, with zeros for the outputs the padding crops, convolved "
            "with the weight, so an input whose windows meet the NaN tap only in the crop gets "
            "0·NaN = NaN, as PyTorch's float64 kernel and its float32 kernel for a batch of one "
            "give (input (1, 2, 5, 5), weight (2, 2, 2, 2), stride 2, padding 1: NaN at all 25 "
            "positions of the channel); its float32 kernel for a batch of 5 skips the cropped "
            "taps and gives numbers at 9 of them. Every other number shown is the same")
    for op in ("conv_transpose1d", "conv_transpose2d")
] + [
    Allowed("gradient", "*", r"^leaf\d+ \(float32\): NaN where torch has none or the other way: "
            r"(?s:.*) \[a convolution in the program: PyTorch agrees with it computed in "
            r"float64 and rounded back\]$", "pytorch bug",
            "a convolution with an infinite weight (or input) on a tap that meets the padding, "
            "or a transposed one whose input reaches an output the padding crops: its gradient "
            "there has a 0 (the padding's, or the cropped output's gradient) times ∞ = NaN, as "
            "PyTorch's float64 kernel and its float32 kernel for a batch of one give; its float32 "
            "kernel for a batch of 3 skips those taps and gives numbers (conv_transpose1d of "
            "(3, 2, 2), weight (2, 2, 2) with w[1, 1, 1] = inf, padding 1, dilation 2: input "
            "gradient [.., inf, NaN] in float64 and for a batch of 1, [.., inf, 0.4977] in "
            "float32). The fuzzer checks it: PyTorch rerun with the convolutions in float64, "
            "rounded back, gives tapegrad's gradients"),
] + [
    # PyTorch refusing, or failing in its own backward, where the math is defined
    Allowed("backward-computes", "*", r"In-place (elu|leakyReLu) backward calculation|"
            r"returned an invalid gradient at index|tensor does not have a device|"
            r"Expected grad_output to have non-zero size|doesn't match the broadcast shape|"
            r"Subtraction, the `-` operator, with a bool tensor", "pytorch bug",
            "PyTorch's own backward refuses (in-place elu/leaky_relu with a negative slope, "
            "scatter's gradient for a src larger than the index, group_norm and adaptive "
            "pooling of empty tensors, clamp with a broadcast bound, pow/minimum of bools)"),
    Allowed("backward-computes", "nll_loss", "grad_input must be contiguous", "pytorch bug",
            "nll_loss of a 4-d input (PyTorch's nll_loss2d) with reduction='none': its backward "
            "refuses a non-contiguous incoming gradient (one an in-place op after it made); "
            "the gradient is defined"),
    Allowed("backward-computes", "batch_norm", r"TensorAccessor expected 1 dims but tensor has "
            r"[2-9]", "pytorch bug", "batch_norm with a weight of C elements shaped (1, C) or "
            "(2, 2, 1, 1): PyTorch's forward takes it, its backward reads it as a 1-d array and "
            "fails"),
    Allowed("backward-computes", "sum", r"^RuntimeError: TensorAccessor expected 1 dims but "
            r"tensor has [2-9]$", "pytorch bug", "the same batch_norm (in evaluation, a weight "
            "shaped (1, C)), whose backward PyTorch runs only once a later step (a sum over the "
            "channels with keepdim) hands it an expanded incoming gradient: the failure is "
            "PyTorch's batch_norm kernel's, blamed on the step that reached it"),
    Allowed("tapegrad-computes", "*", r"did not match|fill_ only supports 0-dimension value|"
            r"Index put requires the source and destination dtypes match|"
            r"Autograd not support dtype", "difference",
            "tapegrad promotes or casts where PyTorch wants equal dtypes (isclose of int32 "
            "and int64, x[i] = float into a bool tensor), and fill_ takes any one-element tensor"),
    Allowed("tapegrad-computes", "*", r"(?s)value cannot be converted to type .* \[PyTorch on the "
            r"input in float64 gives tapegrad's result: truncated into an integer dtype's "
            r"range, rounded in a float one\]", "difference",
            "a number beyond the dtype of the tensor it meets (clamp of uint8 with max=300, "
            "masked_fill of float16 with 1e30): PyTorch refuses the number; the math is "
            "defined, its result fits an integer dtype or rounds in a float one (1e30 to inf "
            "in float16) as a cast would, and tapegrad gives it. The fuzzer checks it: PyTorch "
            "on the input in float64 gives tapegrad's result"),
    Allowed("tapegrad-computes", "*", r"Expected [23]D or [34]D \(batch mode\) tensor|Non-empty \dD "
            r"data tensor expected|Input and output sizes should be greater than 0|"
            r"Expected 3D or 4D|Expected 2D or 3D \(batch mode\)", "difference",
            "pooling, unfold and interpolate of a tensor with an empty dim give an empty result"),
    Allowed("tapegrad-computes", "nll_loss", r"size mismatch \(got input: \[\d+, 0, 0, 0\]",
            "pytorch bug", "nll_loss of a 3-d input with zero classes: PyTorch reshapes it to "
            "4-d for its 2-d kernel with the spatial sizes lost ([N, 0, 0, 0]) and refuses "
            "a target of the right shape; the loss is defined (an empty sum)"),
    Allowed("tapegrad-computes", "cross_entropy", r"size mismatch \(got input: \[\d+, 0, 0, 0\]",
            "pytorch bug", "cross_entropy of a 3-d input (N, 0, d) with zero classes: PyTorch's "
            "nll_loss under it reshapes the input to 4-d with the spatial sizes lost ([N, 0, 0, "
            "0]) and refuses a target (N, d) of the right shape, while (N, 0) and (N, 0, d1, d2) "
            "give the loss (NaN, the mean over no target), as tapegrad gives for all three"),
    Allowed("backward-computes", "addcdiv", "result type Float can't be cast to the desired "
            r"output type|value cannot be converted to type \S+ without overflow", "pytorch bug",
            "addcdiv of an integer input: PyTorch's backward casts the float gradient of the "
            "input back to its integer dtype and fails; the gradient is defined (1). With a "
            "value beyond the divisor's dtype (1e30 against int32, uint8 or float16), its "
            "backward divides the value by the divisor in the divisor's dtype and refuses it"),
    Allowed("value", "sin", r" \[sin or cos: PyTorch's in float64, rounded, agrees \(or the input "
            r"is beyond 1e15\)\](?: \[[^]]*\])*$", "float noise",
            "sin/cos of arguments near 1e30: the argument reduction differs, no digit is "
            "meaningful. The fuzzer checks it: PyTorch's sin of the same input in float64, "
            "rounded, is tapegrad's at every element whose input is below 1e15"),
    Allowed("value", "cos", r" \[sin or cos: PyTorch's in float64, rounded, agrees \(or the input "
            r"is beyond 1e15\)\](?: \[[^]]*\])*$", "float noise",
            "sin/cos of arguments near 1e30: the argument reduction differs, no digit is "
            "meaningful. The fuzzer checks it: PyTorch's cos of the same input in float64, "
            "rounded, is tapegrad's at every element whose input is below 1e15"),
    Allowed("value", "gelu", r"^NaN where torch has none or the other way: (?=\[[^]]*inf)"
            + _infinity_where_torch_has_nan_only(), "pytorch bug",
            "gelu(inf) is inf; PyTorch's CPU kernel gives NaN (each inf of tapegrad's stands "
            "against a NaN of PyTorch's, each NaN against a NaN)"),
    Allowed("value", "gelu", r"^inf differs: \[[^]]*e\+38[^]]*\] vs torch \[[^]]*inf", "pytorch bug",
            "gelu of a float32 x beyond 1.7e38 (half the largest float) is x·Φ(x) = x; "
            "PyTorch's vectorised kernel forms x·(1 + erf(x/√2)) = 2x before halving it, which "
            "overflows to inf (gelu of three 2e38s: inf; of one, its scalar loop: 2e38)"),
] + [
    Allowed("value", op, r"^\[[\d\s]*\] vs torch \[\s*255(?:\s+255)*\s*\](?: \[layouts: [^]]*\])?$",
            "pytorch bug",
            "clamp of a uint8 tensor with a negative lower bound: PyTorch wraps the bound to 255, "
            "so every element becomes 255")
    for op in ("clamp", "clamp_", "clip", "clip_", "clamp_min", "clamp_min_")
] + [
    Allowed("value", op, r"^inf differs: \[[^]]*e\+(?:38|308)[^]]*\] vs torch \[[^]]*inf[^]]*\]"
            r"(?: \[layouts: [^]]*\])?$", "pytorch bug",
            "sinh of a float32 x just below its overflow (89.19: 2.7e38, which fits), or of a "
            "float64 one (-710.14: -1.287e308): PyTorch's "
            "vectorised kernel gives ±inf for some neighbouring values in a vector and the "
            "right value for others or alone; tapegrad gives the finite value; no other "
            "element may differ")
    for op in ("sinh", "sinh_")
] + [
    Allowed("value", op, r"^inf differs: \[[^]]*e\+(?:38|308)[^]]*\] vs torch \[[^]]*inf[^]]*\]"
            r"(?: \[layouts: [^]]*\])?$", "pytorch bug",
            "cosh of a float32 x between 88.72 and 89.41 (e^x overflows, e^x/2 ≈ 1.7e38 to "
            "3.4e38 fits), or of a float64 x between 709.78 and 710.48 (e^x/2 up to 1.8e308): "
            "PyTorch's vectorised kernel forms e^x before halving it and gives "
            "inf (cosh of 2000 values 88.9 to 89.4: about 5% inf; cosh(-710.14) of 16 float64s: "
            "inf), its scalar loop the finite value, as numpy's and tapegrad's (cosh(89.3) = "
            "3.04e38, cosh(-710.14) = 1.287e308); no other element may differ")
    for op in ("cosh", "cosh_")
] + [
    Allowed("value", op, r" \[float to integer of NaN, ±inf or a value beyond the integer's "
            r"range\]", "difference",
            "float to an integer dtype of NaN, inf or out-of-range values: undefined in C, each "
            "library gives its own garbage; the fuzzer checks that every other element is the "
            "same (float64 -inf to uint8: 0 in both here, but their bytes may differ)")
    for op in ("int", "long", "to", "type_as")   # the casts the fuzzer marks (CASTS)
] + [
    # Values at NaN, inf and magnitudes where squares or partial sums overflow
    Allowed("value", op, r"^inf differs", "pytorch bug",
            "ψ⁽¹⁾ at a negative integer (a pole) is +inf; PyTorch's reflection π²/sin²(πx) "
            "gives a huge finite value there, sin(πx) rounding away from 0 (and an unrelated "
            "number beyond 2⁵³, where every float is an integer)")
    for op in ("polygamma", "polygamma_method")
] + [
    Allowed("value", op, "^" + _equal_or_both_beyond_1e10() + r"( \[|$)", "pytorch bug",
            "ψ and ψ⁽¹⁾ an ulp or two from a pole -k: PyTorch's reflection takes sin or tan of "
            "π·x rounded, which swamps the distance d to the pole; tapegrad reflects by x + k, "
            "exact. At x = -2 + 2⁻⁵² ψ⁽¹⁾ is 1/d² + O(1) = 2.0282e31 (mpmath too), PyTorch "
            "gives 7.687e30; ψ is -4.5036e15, PyTorch -3.1085e15; at -23 + 2⁻⁴⁸ ψ is -2.8147e14. "
            "Each other element the same, the two beyond 1e10 (within 1e-10 of a pole) with one "
            "sign")
    for op in ("polygamma", "polygamma_", "polygamma_method", "digamma", "digamma_")
] + [
    Allowed("value", op, r"^NaN where torch has none or the other way", "pytorch bug",
            "ψ⁽ⁿ⁾(inf) = 0, the limit (and PyTorch's own answer for n = 1); for "
            "n ≥ 2 PyTorch's Hurwitz zeta computes 0·inf = NaN (every such finding of a 300 s "
            "run of polygamma was an inf input)")
    for op in ("polygamma", "polygamma_method")
] + [
    Allowed("gradient", op, r"^leaf\d+ \(float\d+\): NaN where torch has none or the other way: "
            r"(?=\[[^]]*\b0\.[^]]*\] vs)" + _equal_or_else_in_torch("nan") + r"( \[|$)",
            "pytorch bug",
            "the same in the gradient: ∂ψ⁽ⁿ⁾(x)/∂x = ψ⁽ⁿ⁺¹⁾(x) is 0 at x = inf, NaN in PyTorch "
            "from n = 1 on (polygamma(1, inf) is 0 and its gradient NaN there; the other "
            "elements agree)")
    for op in ("polygamma", "polygamma_method")
] + [
    Allowed("value", op, r"^inf differs: " + _overflow_in_torch(), "pytorch bug",
            "a std or p-norm that fits the dtype although the squares do not (float32 norm "
            "of 1e30, float64 std of 1e200; the std of equal values near 1e30 is 0; the float64 "
            "pairwise distance ‖(-1.797e308, 7671)‖ = 1.797e308): PyTorch's "
            "accumulation overflows to inf, tapegrad rescales by the largest magnitude; each "
            "number of tapegrad's against PyTorch's inf is 0 or beyond 1e19, and tapegrad's "
            "infinities are PyTorch's")
    for op in ("std", "norm", "linalg_vector_norm", "vector_norm", "norm_of_linalg",
               "pairwise_distance")
] + [
    Allowed("value", op, r"^inf differs: \[[^]]*\] vs torch \[[^]]*\] \[a float16 or float32 "
            r"p-norm in the program: PyTorch agrees with its norms computed in float64\]",
            "pytorch bug",
            "the same below 1e19 for p > 2, where |x|ᵖ overflows float32 sooner (from 7e12 for "
            "p = 3): the 3-norm of three float32 1e15s is 1.44e15, PyTorch's inf. The fuzzer "
            "checks it: PyTorch's program with its p-norms computed in float64 and rounded back "
            "gives tapegrad's values")
    for op in ("norm", "linalg_vector_norm", "vector_norm", "norm_of_linalg")
] + [
    Allowed("value", op, r"^(?:NaN where torch has none or the other way|inf differs): (?s:.*) vs "
            r"torch \[[^]]*(?:nan|inf)[^]]*\].* \[std, var or norm: PyTorch agrees with each slice "
            r"scaled by a power of two near its largest magnitude, and its result scaled back\]",
            "pytorch bug",
            "a std or variance of float64 values at both ends of the range (nan_to_num's "
            "±1.8e308): PyTorch's accumulation passes the range, ∞ - ∞ = NaN, where the std "
            "fits (6.5e307); tapegrad rescales by the largest magnitude. The fuzzer checks it: "
            "PyTorch's own std of each slice scaled by a power of two (exact), its result "
            "scaled back, gives tapegrad's. A p-norm likewise: p = 3 of float32 3.6e17 is "
            "inf in PyTorch, whose cubes pass float32's range")
    for op in ("std", "var", "norm")
] + [
    Allowed("gradient", op, r"^leaf\d+ \(float32\): NaN where torch has none or the other way: "
            r"\[(?:(?!nan|inf)[^]])*\] vs torch \[[nan\s]*\]" + NORM_IN_FLOAT64, "pytorch bug",
            "a p-norm (p > 2) of float32 values near 1e-30: PyTorch's backward divides |x|^(p-1) "
            "by ‖x‖^(p-1), both underflowing to 0 although ‖x‖ does not: 0/0 = NaN; tapegrad's "
            "slope is (|x|/‖x‖)^(p-1) (1 for a lone value)")
    for op in ("norm", "linalg_vector_norm", "vector_norm", "norm_of_linalg")
] + [
    Allowed("gradient", op, r"^leaf\d+ \(float16\): NaN where torch has none or the other way: "
            r"\[(?:(?!nan|inf)[^]])*\] vs torch \[[^]]*\]" + NORM_IN_FLOAT64, "pytorch bug",
            "a p-norm (p > 2) of float16 values beyond ~40: PyTorch's backward forms "
            "x·|x|^(p-2) and ‖x‖^(p-1) in float16 before dividing, both overflow (inf/inf = "
            "NaN); tapegrad's slope (|x|/‖x‖)^(p-1) fits (1 for a lone value)")
    for op in ("norm", "linalg_vector_norm", "vector_norm", "norm_of_linalg")
] + [
    Allowed("gradient", op, r"^leaf\d+ \(float16\): NaN where torch has none or the other way: "
            r"\[[^]]*\] vs torch \[[^]]*\]" + NORM_IN_FLOAT64_HELD, "pytorch bug",
            "the two entries before and after at once: a float16 p-norm (p > 2) whose slices "
            "fit float16 in some places (PyTorch's backward forms x·|x|^(p-2) and ‖x‖^(p-1) in "
            "float16, inf/inf = NaN, where tapegrad's slope fits) and pass its range in others "
            "(the 3-norm of three 46300s is 66800: tapegrad's slope (|x|/‖x‖)^(p-1) at ‖x‖ = "
            "inf is 0, PyTorch's NaN). The fuzzer checks it: PyTorch's program with its p-norms "
            "computed in float64 and rounded back, a norm that rounds to ±inf held there with "
            "slope 0, gives tapegrad's gradients")
    for op in ("norm", "linalg_vector_norm", "vector_norm", "norm_of_linalg")
] + [
    Allowed("gradient", op, r"^leaf\d+ \(float(?:16|64)\): NaN where torch has none or the "
            r"other way: " + _zero_or_nan_against_torchs_nan() + r"(?: \[layouts: [^]]*\])?"
            + INFINITE_NORM + "$", "pytorch bug",
            "a p-norm (p > 2) that is inf in both: of float16 values beyond its range (the "
            "3-norm of 180 values ~1e4 is 69518), or of float64 values with an inf among them: "
            "tapegrad's slope (|x|/‖x‖)^(p-1) is 0 at ‖x‖ = inf for a finite x (NaN at an "
            "infinite one), as PyTorch's x/‖x‖ for p = 2; PyTorch's backward forms x·|x|^(p-2) "
            "first, inf from |x| = 256 on in float16 (1.3e154 in float64), times "
            "g/‖x‖^(p-1) = 0: NaN there. Every gradient of tapegrad's is 0 or NaN, PyTorch's "
            "the same or NaN (a slope tapegrad gives where ‖x‖ fits is judged by the entries "
            "above). pairwise_distance likewise, the p-norm of x₁ - x₂ + ε: its 3-norm of four "
            "float16 differences ~5e4 is 7.4e4, inf in both")
    for op in ("norm", "linalg_vector_norm", "vector_norm", "norm_of_linalg", "pairwise_distance")
] + [
    Allowed("gradient", "norm", r"^leaf\d+ \(float64\): " + ELSEWHERE_THE_SAME +
            r"(?:NaN where torch has none or the other way: |inf differs: )?\[[^]]*\] vs torch "
            r"\[[^]]*\]" + NORM_SCALED_PER_SLICE, "pytorch bug",
            "a float64 p-norm (p > 2) of values beyond ~1e154 (a lone e^603 = 1e262 for p = 3): "
            "PyTorch's backward forms x·|x|^(p-2) and ‖x‖^(p-1) apart, both inf, inf/inf = "
            "NaN, where the slope (|x|/‖x‖)^(p-1) fits (1 for a lone value), as tapegrad "
            "gives. The fuzzer checks it: PyTorch's backward of the norm alone, with each slice "
            "scaled by a power of two to a largest magnitude in [0.5, 1) and its result scaled "
            "back (exact), gives tapegrad's gradients element by element"),
] + [
    Allowed("gradient", op, r"^leaf\d+ \(float16\): NaN where torch has none or the other way: "
            + _nan_or_zero_here_inf_or_residue_in_torch() + r"(?: \[layouts: [^]]*\])?$",
            "float noise",
            "the gradient of the sum (or another reduction to a constant) of a float16 "
            "group_norm or layer_norm, 0 in the math (Σ of normalised values is 0 whatever "
            "x): tapegrad's backward, with its statistics in float64, gives exactly 0, "
            "PyTorch's a float16 residue (|g|·1e-3 at most); an earlier reciprocal's slope "
            "-1/x² overflows float16 to -inf for |x| < 0.0039 (in both libraries: y² first), "
            "so 0·inf = NaN in tapegrad and residue·inf = ±inf in PyTorch. tapegrad's other "
            "gradients are all 0, PyTorch's all below 0.1 (at the sum itself: at the norm, a "
            "NaN against ±inf needs the float16 judge's verdict)")
    for op in ("sum",)
] + [
    Allowed("gradient", op, r"^leaf\d+ \(float16\): inf differs: \[(?:(?!nan|inf)[^]])*\] vs "
            r"torch \[[^]]*\]" + NORM_IN_FLOAT64, "pytorch bug",
            "a chain of p-norms in float16 (values ~3e3): PyTorch's backward overflows float16 "
            "in an intermediate and gives -inf where the gradient is ~0.5. The fuzzer checks "
            "these entries: PyTorch's gradients with its norms computed in float64 and rounded "
            "back are tapegrad's")
    for op in ("norm", "linalg_vector_norm", "vector_norm", "norm_of_linalg")
] + [
    Allowed("gradient", op, r"^leaf\d+ \(float32\): \[(?:(?!nan|inf)[^]])*\] vs torch "
            r"\[[-0.\s]*\]" + NORM_IN_FLOAT64, "pytorch bug",
            "a p-norm of several float32 values near 1e-30: PyTorch's Σ|x|ᵖ underflows to 0, so "
            "its norm is 0 and its gradient 0 (while the norm of a lone 1e-30 is 1e-30, slope "
            "1); tapegrad rescales by the largest magnitude: ‖(1e-30, 2e-30)‖ = 2.2e-30, slopes "
            "(0.45, 0.89). The fuzzer checks these p-norm entries: PyTorch's gradients with its "
            "norms computed in float64 and rounded back are tapegrad's")
    for op in ("norm", "linalg_vector_norm", "vector_norm", "norm_of_linalg")
] + [
    Allowed("gradient", op, r"^leaf\d+ \(float32\): " + _equal_or_else_in_torch(ZERO) +
            NORM_IN_FLOAT64, "pytorch bug", "the same underflow in some slices of a p-norm over a "
            "dim (a column of 1e-30s): PyTorch's gradient is 0 in those slices alone, the "
            "others agree")
    for op in ("norm", "linalg_vector_norm", "vector_norm", "norm_of_linalg")
] + [
    Allowed("gradient", op, r"^leaf\d+ \(float32\): NaN where torch has none or the other "
            r"way: " + _equal_or_else_in_torch("nan") + NORM_IN_FLOAT64, "pytorch bug",
            "the p-norm (p > 2) underflow above, where some elements of the leaf are not used "
            "(a slice): PyTorch's 0/0 = NaN at the used 1e-30s, the unused get 0 in both")
    for op in ("norm", "linalg_vector_norm", "vector_norm", "norm_of_linalg")
] + [
    Allowed("gradient", op, r"^leaf\d+ \(float32\): inf differs: " +
            _equal_or_else_in_torch(r"-?inf") + NORM_IN_FLOAT64, "pytorch bug",
            "a p-norm (p > 2) with dtype=float64 of float32 values near 1e30: PyTorch's backward "
            "forms x·|x|^(p-2) in float32 (∞) although the norm is float64: the gradient of "
            "norm([1e30, 1.07], 3, dtype=float64) is [-inf, -0.] for g = -0.697 from a float32 "
            "input, [-0.697, -8e-61] from the float64 one, as tapegrad gives")
    for op in ("norm", "linalg_vector_norm", "vector_norm", "norm_of_linalg")
] + [
    Allowed("gradient", "*", NORM_IN_FLOAT64, "pytorch bug",
            "a float16 or float32 p-norm before or at this op, whose backward PyTorch forms "
            "from |x|^(p-1) and ‖x‖^(p-1) in the norm's own dtype, where they overflow or "
            "underflow (inf/inf, 0/0 = NaN; -inf where the slope is ~0.5) though the slope "
            "(|x|/‖x‖)^(p-1) fits; then met by later steps or leaves of another dtype (a "
            "float64 leaf before half()). The fuzzer checks it: PyTorch's gradients with its "
            "norms computed in float64 and rounded back are tapegrad's, on every leaf"),
] + [
    # the p-norms inside normalize, cosine_similarity and pairwise_distance: tapegrad's
    # rescales by the largest magnitude, PyTorch's squares (|x|ᵖ) overflow or underflow
    Allowed("value", "pairwise_distance", r"^inf differs: \[[^]]*e\+(?:19|[23]\d)[^]]*\] vs torch "
            r"\[[^]]*\]" + NORMALIZE_WIDENED,
            "pytorch bug", "the distance of float32 vectors near 1e30 (tapegrad's distance shows "
            "it, ≥ 1e19): it fits the dtype, but PyTorch's p-norm accumulates |x|ᵖ, which "
            "overflows to inf; tapegrad's norm rescales by the largest magnitude"),
] + [
    Allowed("gradient", op, r"^leaf\d+ \(float(?:16|32|64)\): NaN where torch has none or the "
            r"other way: " + _nan_only_where_torch_has_nan() + NORMALIZE_WIDENED, "pytorch bug",
            "a p-norm (p > 2) of float32 values near 1e30 or 1e-30 inside normalize or "
            "pairwise_distance: PyTorch's backward divides x·|x|^(p-2) by ‖x‖^(p-1), both "
            "overflowing (inf/inf) or underflowing (0/0) to NaN; tapegrad's slope "
            "(|x|/‖x‖)^(p-1) is finite. Also for a float64 leaf made float16 by half() "
            "before it (normalize(p=3) of float16 [2586, 2586, 2586]: 2586³ overflows "
            "float16, PyTorch's leaf gradient NaN, tapegrad's 0)")
    for op in ("normalize", "pairwise_distance")
] + [
    Allowed("gradient", "*", r"^leaf\d+ \(float(?:16|32|64)\): NaN where torch has none or the "
            r"other way: " + _nan_only_where_torch_has_nan() + NORMALIZE_WIDENED, "pytorch bug",
            "as above, found at a later step whose backward first sends normalize a gradient "
            "large enough (batch_norm with a weight of -9180: g ~ 1e4): PyTorch's float16 "
            "normalize(p=3) backward overflows to -inf there, and the softmax before it of an "
            "expanded leaf's equal copies gives NaN, where its gradient is 0 (tapegrad's). "
            "The fuzzer checks it: the whole program rerun in PyTorch with normalize computed "
            "in float32 and rounded back gives tapegrad's gradients on every leaf"),
] + [
    Allowed("value", op, r"(?s)^(?:NaN where torch has none or the other way: )?(?:"
            + _equal_or_else_in_torch(ZERO) + r"|\[[^]]*e[-+](?:19|[2-4]\d)[^]]*\] vs torch "
            r"\[[^]]*\])" + NORMALIZE_WIDENED,
            "pytorch bug", "normalize and cosine_similarity of float32 slices with values near "
            "1e30: PyTorch's p-norm overflows to inf, so the whole slice becomes 0 (NaN where "
            "it holds an inf) while the others agree; tapegrad's norm rescales and gives "
            "x/‖x‖ (its tiny entries, 1e-30, show the slice)")
    for op in ("normalize", "cosine_similarity")
] + [
    Allowed("value", op, r"^NaN where torch has none or the other way: "
            + _nan_only_where_torch_has_nan() + NORMALIZE_WIDENED, "pytorch bug",
            "normalize and cosine_similarity (eps=0) of float32 slices of values near 1e-30: "
            "PyTorch's Σx² underflows to 0, its norm is 0 and x/0 NaN; tapegrad's norm rescales "
            "by the largest magnitude and gives x/‖x‖")
    for op in ("normalize", "cosine_similarity")
] + [
    Allowed("value", op, r"^inf differs: " + _equal_or_else_in_torch(r"-?inf") + NORMALIZE_WIDENED,
            "pytorch bug", "the same underflow where the slice's values are not zero: PyTorch's norm of "
            "(1e-30, 1e-30, 1e-30, 1e-30) is 0 in float32 and x/0 = ±inf; tapegrad's is 2e-30 "
            "and x/‖x‖ = 0.5")
    for op in ("normalize", "cosine_similarity")
] + [
    Allowed("gradient", "cosine_similarity", r"^leaf\d+ \(float32\): "
            + _equal_or_else_in_torch(ZERO) + NORMALIZE_WIDENED, "pytorch bug",
            "cosine_similarity of a float32 vector near 1e30: PyTorch's norm overflows to inf, so "
            "x/‖x‖ is 0 there and every gradient through it 0 (the slices' values are the "
            "value entry above); tapegrad's is that of the finite x/‖x‖"),
    Allowed("gradient", "normalize", r"^leaf\d+ \(float16\): NaN where torch has none or the "
            r"other way: \[[^]]*\] vs torch \[[^]]*(?:nan|inf)[^]]*\]" + NORMALIZE_WIDENED,
            "pytorch bug", "normalize in float16 with p > 2 of values ~1e4 (|x|^(p-1) overflows "
            "in PyTorch's backward: inf/inf = NaN where tapegrad's slope is 0) or of a zero "
            "slice (ε = 1e-12 is 0 in float16: both meet 0/0, in different terms, NaN in one "
            "and ∞ in the other)"),
    Allowed("gradient", "normalize", r"^leaf\d+ \(float64\): inf differs: "
            + _equal_or_else_in_torch(r"-?inf") + NORMALIZE_WIDENED, "pytorch bug",
            "the same through half() from a float64 leaf: PyTorch's float16 normalize backward "
            "gives ±inf where tapegrad's gradient is a number (-32), its other numbers (NaN "
            "of NaN inputs to a later step included) tapegrad's"),
    Allowed("gradient", "normalize", r"^leaf\d+ \(float16\): inf differs: "
            r"\[(?:(?!nan|inf)[^]])*\] vs torch \[[^]]*\]" + NORMALIZE_WIDENED, "pytorch bug",
            "normalize in float16 with p > 2: PyTorch's backward of the p-norm forms |x|^(p-1) "
            "and ‖x‖^(p-1) in float16 and overflows to ±inf where the gradient is finite (the "
            "same as its norm's, listed above)"),
] + [
    Allowed("gradient", op, r"^leaf\d+ \(float(?:16|32|64)\): (?:NaN where torch has none or the "
            r"other way: |inf differs: )\[[^]]*(?:nan|inf)[^]]*\] vs torch \[[^]]*\]"
            + FLOAT16_PAST_THE_RANGE_IN_BOTH, "difference",
            "a float16 normalize (cosine_similarity, pairwise_distance) at a tiny norm (‖x‖ ≈ "
            "1.4e-5 after exp of -12): tapegrad's backward of x/‖x‖ forms ∂/∂‖x‖ = "
            "-Σ g·x/‖x‖² ≈ 7e4, past 65504 (±inf), PyTorch's p-norm backward divides by "
            "‖x‖^(p-1), which underflows to 0 (NaN); the gradient itself may fit float16 "
            "(1e4), or not. tapegrad keeps its composed backward (a hand-written one is not "
            "its way). The fuzzer checks it on the step alone: finite values and incoming "
            "gradient, PyTorch's float16 gradient ±inf or NaN at each element where tapegrad's "
            "is, and tapegrad's other elements PyTorch's in float32 to the roundings of their "
            "terms")
    for op in ("normalize", "cosine_similarity", "pairwise_distance")
] + [
    Allowed("gradient", "cosine_similarity", r"^leaf\d+ \(float16\): \[\s*" + SMALL + r"(?:\s+"
            + SMALL + r")*\s*\] vs torch \[\s*" + SMALL + r"(?:\s+" + SMALL + r")*\s*\](?: \[[^]]*\])*$",
            "float noise",
            "cosine_similarity in float16 where x/‖x‖ is ±1 (a dim of one element) or nearly "
            "so: the two terms of the quotient rule, g/‖x‖ and -g·x·(x/‖x‖)/‖x‖², cancel, and "
            "in float16 round apart by a few units of 1/‖x‖; PyTorch's order of rounding "
            "happens to cancel exactly for ±1 (every gradient below 0.1 in both: the residue "
            "of that cancellation, not a slope)"),
] + [
    Allowed(kind, op, r"(?s)^(?:leaf\d+ \(float(?:16|32)\): )?(?:NaN where torch has none or the "
            r"other way: |inf differs: )?\[[^]]*\] vs torch \[[^]]*\]" + NORMALIZE_WIDENED,
            "pytorch bug", "normalize, cosine_similarity or pairwise_distance of float32 "
            "(float16) slices, or pairwise_distance of integer tensors (x₁ - x₂ wraps in int64, "
            "+ ε makes it float32: the 3-norm of a long's 9.2e18 is inf), whose Σ|x|ᵖ "
            "overflows or underflows in PyTorch's own dtype (x/∞ = "
            "0, x/0 = ±∞, their slopes likewise) while x/‖x‖ and its slope fit: PyTorch's "
            "same op computed in float64 (float32; for integers, on x₁ - x₂ in float64) and "
            "rounded back gives tapegrad's values "
            "and gradients, which rescale the norm by the largest magnitude")
    for kind in ("value", "gradient") for op in ("normalize", "cosine_similarity",
                                                 "pairwise_distance")
] + [
    Allowed("gradient", "*", r"^leaf\d+ \(float(?:16|32|64)\): \[(?:(?!nan|inf)[^]])*\] vs torch "
            r"\[(?:(?!nan|inf)[^]])*\]" + NORMALIZE_WIDENED, "float noise",
            "a float16 normalize (cosine_similarity, pairwise_distance) earlier in the program, "
            "whose backward PyTorch rounds in float16: normalize(p=3) of slices of one element "
            "is ±1, slope 0 in the math, PyTorch's residue 0.00195 (2⁻⁹) and tapegrad's 0 "
            "(a float64 leaf made float16 by half() first); then met by later steps (silu, "
            "softmax). Finite in both; the fuzzer checks it: PyTorch's gradients with those "
            "ops computed in float32 and rounded back are tapegrad's, on every leaf")
] + [
    Allowed("value", op, r"(?s)^(?:NaN where torch has none or the other way: |inf differs: )?"
            r"\[[^]]*\] vs torch \[[^]]*\]" + SCALED_PER_SLICE, "pytorch bug",
            "normalize or cosine_similarity of slices whose Σx² overflows in PyTorch's own dtype, "
            "float64 included, where x/‖x‖ fits: PyTorch's float64 norm of [1e200, 1e200] is "
            "inf (1.41e200 fits), so normalize gives [0, 0]; the same slice scaled by 2⁻⁶⁶⁵ "
            "(exact, and both ops are scale-invariant) gives [0.7071, 0.7071], as tapegrad's "
            "norm, which rescales by the largest magnitude")
    for op in ("normalize", "cosine_similarity")
] + [
    Allowed("value", op, r"(?s)^NaN where torch has none or the other way: .* vs torch \[.*nan",
            "pytorch bug", "layer_norm and group_norm of float32 values near 1e30: PyTorch's "
            "E[x²] - E[x]² overflows to inf - inf = NaN; the normalised values are finite "
            "(0 where all values are equal), and tapegrad gives them")
    for op in ("layer_norm", "group_norm")
] + [
    Allowed("value", op, r"^\[[^]]*\] vs torch \[[^]]*\]" + GAMMA_VALUES_WIDENED, "float noise",
            "ψ⁽ⁿ⁾ of float32 near a pole, where its slope is huge: PyTorch computes in float32 "
            "(πx and x + k rounded in float32), tapegrad in float64 and rounds once. The "
            "fuzzer checks it: PyTorch's values with those ops computed in float64 and rounded "
            "back are tapegrad's")
    for op in ("lgamma", "digamma", "polygamma", "polygamma_method", "mvlgamma")
] + [
    Allowed("gradient", "mul", r"^leaf\d+ \(float32\): inf differs: \[(?:(?!nan|inf)[^]])*\] vs "
            r"torch \[[^]]*inf[^]]*\]" + MUL_AS_COMPUTED, "pytorch bug",
            "x·s of a float16 x and a 0-d float32 s: s's float32 gradient is Σ g·x, which PyTorch "
            "forms in float16 (∞ beyond 65504) before summing; tapegrad forms it in float32, "
            "as the forward (computed in float32 in both). The fuzzer checks it: PyTorch's "
            "gradients with x given in float32 and the product rounded back are tapegrad's"),
    Allowed("gradient", "mul", r"^leaf\d+ \(float16\): inf differs: \[[^]]*inf[^]]*\] vs torch "
            r"\[[^]]*\]" + MUL_AS_COMPUTED, "pytorch bug",
            "s·x of a 0-d float64 s beyond float16's range (1.1e5) and a float16 x: PyTorch's "
            "forward rounds s to float16 (∞, so s·x is ±∞) but its backward multiplies the "
            "gradient by the unrounded s (finite); tapegrad's gradient is that of the forward "
            "both compute (x·s, with s second, is computed in float32 in both). The fuzzer "
            "checks it: PyTorch's gradients with s given in float16 are tapegrad's"),
    Allowed("gradient", "*", MUL_AS_COMPUTED, "pytorch bug",
            "the same mul of a 0-d tensor of another dtype met by later steps or another "
            "leaf's dtype: PyTorch's backward forms the 0-d operand's gradient in float16 or "
            "multiplies by the operand its forward did not use. The fuzzer checks it: "
            "PyTorch's gradients with the operands given in the dtype its forward computes in "
            "are tapegrad's, on every leaf"),
] + [
    Allowed("value", "var", r"^inf differs: \[[-0.\s]*\] vs torch \[[inf\s]*\]", "pytorch bug",
            "the variance of equal float32 values near 1e30 (an expanded leaf): exactly 0, as "
            "tapegrad gives it; PyTorch's accumulation of squares overflows to inf"),
    Allowed("gradient", "std", r"^leaf\d+ \(float\d+\): (?:\[-?0\.\] vs torch \[\s*\S+\]|\[[-0.\s]*\] "
            r"vs torch \[[^]]*\] \[layouts: [^]]*expand)", "float noise",
            "the std of equal values (a one-element leaf expanded, or the bound that clip_ "
            "gave every value): exactly 0 here, so its gradient is 0, PyTorch's own rule at "
            "σ = 0; PyTorch's float32 mean rounds off the values, its std is a residue (9e-9) "
            "and its gradient a ratio of residues (-1.22). Only for a leaf of one element, or "
            "an expanded leaf"),


    Allowed("gradient", "std", r"^leaf\d+ \(float\d+\): \[[^]a-z]*\] vs torch \[[-0.\s]*\] "
            r"\[layouts: [^]]*expand", "float noise",
            "std of equal values (a leaf expanded along the reduced dim): numpy's mean leaves a "
            "rounding residue in x - x̄ where PyTorch's running mean is exact, so y is ~1e-8, "
            "not 0, and the gradient (x - x̄)/((N - 1)·y) a ratio of two residues; PyTorch's "
            "y = 0 gives 0"),
] + [
    Allowed("gradient", op, r" \[std or var: PyTorch's backward of it alone agrees with each "
            r"slice shifted by its least value\]$", "float noise",
            "the std or variance of equal values that are not an expanded leaf's (log_softmax "
            "of a dim of one element, then of 3: 9 copies of -log 3): exactly 0 here, PyTorch's "
            "mean leaves a residue (σ = 2.4e-16), so its backward g/(2σ) is NaN for a NaN g "
            "(a later var of one value, correction 1) where its own rule at σ = 0 gives 0. The "
            "fuzzer checks it: PyTorch's backward of the step alone, on each slice less its "
            "least value (held constant: the same function and slope), gives tapegrad's")
    for op in ("std", "var")
] + [
    Allowed("value", op, r"^NaN where torch has none or the other way: \[[naif\s]*\] vs torch "
            r"\[[inf\s]*\]", "float noise",
            "a variance with a correction of N or more (N - correction ≤ 0 in the divisor) of "
            "values near 1e-30: their squared deviations underflow to 0 in float32 here (0/0 = "
            "NaN) and stay positive in PyTorch's float64 accumulation (x/0 = inf)")
    for op in ("var", "std")
] + [
    Allowed("gradient", op, r"^leaf\d+ \(float(?:16|32)\): NaN where torch has none or the other "
            r"way: " + _infinity_against_torchs_nan() + r"( \[layouts: [^]]*\])?( \[the gradient of "
            r"the later steps: [^]]*\])? \[var or std with no degree of freedom left: PyTorch's "
            r"backward of it computed in float64 gives tapegrad's gradients\]$", "pytorch bug",
            "a variance (std) along dims with no degree of freedom left (N ≤ correction: var of "
            "2 values with correction=2), whose gradient is g·∞·(x - x̄): of two float32 values "
            "an ulp apart (9.5350523, 9.5350513) x - x̄ = ±4.8e-7, so ±∞ (tapegrad's "
            "(x - x₀) - mean(x - x₀) is exact for them); PyTorch's float32 mean rounds to one of "
            "the two, x - x̄ = 0 there and ∞·0 = NaN. The fuzzer checks it: PyTorch's backward "
            "of the step computed in float64 gives tapegrad's gradients")
    for op in ("var", "std")
] + [
    Allowed("value", op, r"^\[[-0.\s]*\] vs torch \[(?:\s*(?:0\.(?:0+e\+00)?|\d\.\d+e\+(?:1[3-9]|"
            r"[2-9]\d|\d{3})))+\s*\]", "float noise",
            "the std or variance of equal values (an expanded 1e30): exactly 0 here, PyTorch's "
            "rounding residue of their mean (9e22 of float32 1e30, 1.7e14 of float64 1e30); "
            "only where every number of PyTorch's is 0 or beyond 1e13, as such a residue is")
    for op in ("std", "var")
] + [
    Allowed("gradient", "layer_norm", r"^leaf\d+ \(float\d+\): \[(?:\s*-?(?:0\.0*|0\.0+e\+00|"
            r"\d\.\d+e-(?:0[5-9]|[1-9]\d)))+\s*\] vs torch \[(?:\s*-?(?:0\.(?:00\d*)?(?:e[-+]00)?|"
            r"\d\.\d+e-(?:0[3-9]|[1-9]\d)))+\s*\]", "float noise",
            "a gradient through layer_norm that is 0 up to rounding in both libraries (every "
            "number of tapegrad's below 1e-4, of PyTorch's below 1e-2): a normalised group of "
            "values that repeat (an expanded leaf) whose gradients sum over the copies to a "
            "cancellation, with x - μ 0 or a rounding residue here and PyTorch's x·r - μ·r "
            "another residue (float16: units of 1e-4). Groups of equal values at the norm itself "
            "the fuzzer judges (groups of equal values)"),
] + [
    Allowed("gradient", op, r" \[layer_norm or group_norm: PyTorch's backward of it alone agrees "
            r"with it by its formula in float64\]$", "float noise",
            "a norm of values far from 0 beside their spread (two equal values 79895.93: x̂ = 0, "
            "r = 1/√ε = 316): PyTorch's float32 backward forms b·x + c from x, not x - μ, "
            "rounding in units of |μ|·r (x's gradient 256, -128 where the math gives 243.02, "
            "-243.02; float64 gives 243.02), and the later linear's weight sums that into 4.6e5 "
            "where the math gives 0. The fuzzer checks it: PyTorch's backward of the norm alone, "
            "by its formula in float64 and rounded back, gives tapegrad's")
    for op in ("layer_norm", "group_norm")
] + [
    Allowed("gradient", op, r"^leaf\d+ \(float\d+\): NaN where torch has none or the other way: "
            r"\[[nan\s]*\] vs torch \[[-inf\s]*\]", "float noise",
            "a log of layer_norm's output where x̂ is exactly 0 (one value per row): y = w·0 = 0, "
            "log's slope inf, and the weight's gradient Σ g·x̂ = inf·0 = NaN; PyTorch's forward "
            "gives x̂ = 0 too, but its backward recomputes x̂ as a residue (layer_norm of "
            "[[0.7219]] with weight -0.89 and g = 1: weight gradient -7.1e-6, not 0), so ±inf")
    for op in ("log", "log_", "log2", "log2_", "log10", "log10_")
] + [
    Allowed("gradient", "layer_norm", r"^leaf\d+ \(float\d+\): NaN where torch has none or the "
            r"other way: \[[nan\s]*\] vs torch \[[-inf\s]*\] \[layouts: [^]]*expand[^]]*\]"
            r"(?: \[the gradient of the later steps: [^]]*\])?$", "float noise",
            "the weight's gradient Σ g·x̂ of layer_norm over a row of equal values (an expanded "
            "leaf) met by an infinite gradient (reciprocal of 0): x̂ is exactly 0 here, so "
            "∞·0 = NaN; PyTorch's backward recomputes x̂ as a rounding residue of its mean, "
            "∞·residue = ±∞ (float64 [-0.01239]·4, weight -7070, g = ∞: NaN here, -inf there). "
            "Only where tapegrad's are all NaN and PyTorch's all ±inf"),
    Allowed("value", "layer_norm", r"(?s)^NaN where torch has none or the other way: .* vs "
            r"torch \[(?:(?!nan)[^]])*\]", "float noise",
            "layer_norm with an inf weight on a value that normalises to 0: 0·inf = NaN here; "
            "PyTorch's x·rγ - μ·rγ leaves a rounding residue·inf = ±inf"),
] + [
    Allowed("value", op, r"^inf differs: \[(?:(?!nan|inf)[^]])*\] vs torch "
            r"\[(?:(?!nan)[^]])*\binf\b(?:(?!nan)[^]])*\].* \[PyTorch agrees with the norm by "
            r"its formula in float64\](?: \[layouts: [^]]*\])?$", "pytorch bug",
            "layer_norm or group_norm with eps=0 of a row or group whose deviations from its "
            "mean are below ~1e-23 (values near 1e-30, or denormals one step from 0): PyTorch "
            "accumulates σ² in float32, where those squares underflow to 0, so r = 1/√0 = inf "
            "and x̂ = ±inf; tapegrad sums in float64 and gives the normalised values. With "
            "eps = 0 the result does not depend on the scale of x: PyTorch gives "
            "layer_norm([1e-30, -2e-30, 3e-30], eps=0) = [inf, -inf, inf], and [0.162, "
            "-1.298, 1.136] for the same values times 1e10, as tapegrad gives for both "
            "(group_norm of a group [1e-30 ×5, 0 ×5], eps=0: PyTorch ±inf, tapegrad ±1). The "
            "fuzzer checks it: PyTorch computing the norm by its formula in float64 gives "
            "tapegrad's values")
    for op in ("layer_norm", "group_norm")
] + [
    Allowed("value", op, r"^\[(?:(?!nan|inf)[^]])*\] vs torch \[[-0.\s]*\]", "pytorch bug",
            "batch_norm of float32 values whose squares overflow (1e30): PyTorch's kernel for "
            "contiguous input gives 0 everywhere (σ² = inf), its strided one the normalised "
            "values; tapegrad gives those (the statistics again in float64). layer_norm's "
            "contiguous kernel too, and group_norm's")
    for op in ("batch_norm", "layer_norm", "group_norm")
] + [
    Allowed("value", op, r"(?s)^\[(?:(?!nan|inf)[^]])*\] vs torch \[.* \[squares overflow\]",
            "pytorch bug",
            "as above, with a bias: PyTorch's σ² of float32 values beyond 2e19 (float64 ones "
            "beyond 1e154: nan_to_num's -1.8e308) is inf, so its result is exactly that of an "
            "input of zeros (the fuzzer checks it: the bias), tapegrad's the normalised values "
            "(layer_norm([-0.17, -1.8e308, 0, -0.63], bias=-1.06): [-0.48, -2.79, -0.48, -0.48], "
            "PyTorch's -1.06 four times)")
    for op in ("batch_norm", "layer_norm", "group_norm")
] + [
    Allowed("value", op, r"\[squares overflow, tapegrad as PyTorch in float64\]",
            "pytorch bug",
            "as above, where only some channels (groups, rows) hold values beyond 2e19: PyTorch "
            "zeroes those and normalises the others; the fuzzer checked that PyTorch's own "
            "result in float64, where the squares do not overflow, is tapegrad's")
    for op in ("batch_norm", "layer_norm", "group_norm")
] + [
    Allowed("value", "batch_norm", r"(?s)^NaN where torch has none or the other way: .* vs "
            r"torch \[((?:(?!nan)[^]])*|[^]]*inf[^]]*)\]", "float noise",
            "batch_norm as x·(rγ) + (β - μ·rγ), one fused pass; PyTorch (x - μ)·rγ + β: the "
            "same math, but where rγ is inf (an inf weight) the first is inf - inf = NaN "
            "(where PyTorch has ±inf; its NaN elsewhere comes from NaN inputs, as here)"),
    Allowed("value", "batch_norm", r"\] \[batch_norm by its formula in float64 gives tapegrad's "
            r"values, its channels of equal values within their residue\](?: \[layouts: "
            r"[^]]*\])?$", "float noise",
            "float16 batch_norm in training: PyTorch's kernel rounds each channel's mean to "
            "float16 before x - μ (-1632.67 to -1633 for a channel of -1634, -1631, -1633: "
            "x̂·γ = [0.0429, -0.0858, 0] where the math gives [0.0572, -0.0714, 0.0143], as "
            "PyTorch's float32 and float64 kernels do); tapegrad keeps μ unrounded. The "
            "fuzzer checks it: PyTorch computing batch_norm by its formula in float64 on "
            "tapegrad's input, rounded back, gives tapegrad's values, except in channels of "
            "equal values (x - μ is 0 in the math), where tapegrad's value is within the "
            "residue of its rounding of β: 8 ulps of x times |γ|/√ε"),
    Allowed("value", "batch_norm", r" \[batch_norm: PyTorch agrees with its operands made "
            r"contiguous\](?: \[layouts: [^]]*\])?$", "pytorch bug",
            "batch_norm with a strided operand (a sliced weight): PyTorch's CPU forward then "
            "takes (x - μ)·r and multiplies by γ after, so (x - μ)·r passes the dtype's range "
            "where the result fits: evaluation of nan_to_num's -1.8e308 with r = 1.19, "
            "γ = 0.37 gives -inf, where its contiguous kernel, x·(rγ) + (β - μ·rγ), and "
            "tapegrad give -7.8e307. The fuzzer checks it: PyTorch's result with every tensor "
            "operand made contiguous is tapegrad's"),
    Allowed("value", "batch_norm", r"^NaN where torch has none or the other way: \[[-inf\s]*\] "
            r"vs torch \[[nan\s]*\]", "pytorch bug",
            "batch_norm's x·(rγ) + (β - μ·rγ) as a fused multiply-add: with an inf bias and "
            "x·rγ beyond float32 (1e30·1e30), the exact sum is inf, which tapegrad keeps; "
            "PyTorch rounds the product to ±inf first, and -inf + inf = NaN"),
    Allowed("value", "einsum", r"^\[(?:\s*(?:-?0\.(?:0+e\+00)?|-?\d\.\d+e\+(?:1[5-9]|[2-9]\d)))+\s*\] "
            r"vs torch \[[-0.\s]*\]", "float noise",
            "a sum that cancels exactly (v·1e30 - v·1e30): PyTorch's order gives 0, the BLAS "
            "here a fused multiply-add's rounding residue (5e21 of terms of 1e30): every number "
            "of PyTorch's is 0 and each of tapegrad's 0 or beyond 1e15 (a full reduction whose "
            "small terms one order keeps and the other loses the fuzzer judges by the terms' "
            "size: cancelling terms)"),
    Allowed("gradient", "group_norm", r"^leaf\d+ \(float\d+\): NaN where torch has none or "
            r"the other way: \[[nan\s]*\] vs torch \[[-inf\s]*\]", "pytorch bug",
            "group_norm with eps=0 of a group of equal values: 1/√σ² = 1/0 = inf, x̂ = 0·inf = "
            "NaN, and PyTorch's forward gives that NaN too; the weight's gradient Σ g·x̂ is then "
            "NaN, but PyTorch's backward forms it as (Σ g·x - μ·Σ g)·r, a rounding residue "
            "times inf = ±inf (its layer_norm gives the NaN)"),
    Allowed("gradient", "group_norm", r"^leaf\d+ \((?:float16\): NaN where torch has none or the "
            r"other way: " + _infinity_against_torchs_nan(close=True) + r"|float(?:32|64)\): NaN "
            r"where torch has none or the other way: " + _infinity_against_torchs_nan() +
            r")( \[layouts: [^]]*\])?( \[the gradient of the later steps: [^]]*\])?(?:$|"
            + GROUP_NORM_BY_ITS_FORMULA + ")", "pytorch bug",
            "group_norm's weight gradient at an infinite incoming gradient: PyTorch's backward "
            "forms Σ g·x̂ as (Σ g·x - μ·Σ g)·r, two infinities whose difference is NaN (g = ∞ at "
            "x = 2 in a group of mean 5: ∞ - 5·∞); tapegrad sums g·x̂ itself, ∞·(-0.6) = -∞, the "
            "definition's value. Every other number the same (float16: to two digits)"),
    Allowed("gradient", "group_norm", r"^leaf\d+ \(float\d+\): (?:NaN where torch has none or the "
            r"other way: (?:" + _infinity_against_torchs_nan_else_finite() + "|" + ELSEWHERE_THE_SAME
            + r"\[[-+\d.e\snan]*\] vs torch \[[^]]*inf[^]]*\])|\[[-+\d.e\s]*\] vs torch "
            r"\[[-+\d.e\s]*\])( \[layouts: [^]]*\])?"
            r"( \[the gradient of the later steps: [^]]*\])?" + GROUP_NORM_BY_ITS_FORMULA,
            "pytorch bug",
            "as above, where the other numbers differ by a rounding: later steps' (exp and var "
            "of 1e20s: -1.18042e21 against -1.18041e21) or PyTorch's float16 sums (606 against "
            "615.1, Σ g·x̂ of float16 terms of 3e3). The fuzzer checks it: PyTorch's backward of "
            "the group_norm step alone, by its formula (x - μ)/√(σ² + ε)·w + b in float64, on "
            "tapegrad's input and incoming gradient, gives tapegrad's gradients (∞ where the "
            "definition's sum holds one sign of ∞) to the tolerance. Likewise an infinite "
            "weight (w = [∞, -0.03, -0.1]): the input's gradient r·(ĝ - mean ĝ - x̂·mean ĝx̂), "
            "ĝ = g·w, is NaN over a group whose ĝ holds +∞ and -∞, PyTorch's ±∞ at some "
            "elements (its c₁·x + c₂ form). Likewise a group holding 1e30 in float32: PyTorch's "
            "σ² = E[x²] - E[x]² is ∞, x̂ = 0 over the group, so its weight's gradient Σ g·x̂ "
            "leaves that group out (-6.507 against -7.625; a weight of 1e-30 hides it in the "
            "values)"),
] + [
    Allowed("value", op, r"(?s)^\[[^]]*\] vs torch \[[^]]*\] \[PyTorch agrees with the norm by "
            r"its formula in float64\](?: \[layouts: [^]]*\])?(?: \[NaN inputs\])?$",
            "float noise",
            "a group of one value, or of equal values (an expanded leaf): x - μ is exactly 0 "
            "here, a rounding residue in PyTorch (x·r - μ·r), which a weight of 1e30 makes "
            "large (NaN where PyTorch has NaN too: a group holding inf); or values near 1e30, "
            "whose x·r - μ·r in PyTorch keeps a residue of 1e22. The fuzzer checks it: "
            "PyTorch computing (x - μ)/√(σ² + ε)·w + b from its elementary operations in "
            "float64 gives tapegrad's values")
    for op in ("group_norm", "layer_norm")
] + [
    Allowed("gradient", "cross_entropy", r"^leaf\d+ \(float\d+\): NaN where torch has none or the "
            r"other way: (?=\[[^]]*\b0\.[^]]*\] vs)" + _equal_or_else_in_torch(
                r"nan|-?\d\.\d+e-(?:0[7-9]|[1-9]\d)") + r"( \[|$)",
            "pytorch bug",
            "cross_entropy with an ignored target whose row of logits is all -inf or holds a NaN "
            "(here [nan, nan, 11.46]): the row's loss is 0 whatever its logits, so its gradient "
            "is 0; PyTorch's log_softmax backward runs over the row first, 0·softmax(-inf, …) "
            "= 0·NaN = NaN (the other rows agree, or differ by a rounding residue below 1e-6: "
            "an expanded leaf's equal logits, whose gradients Σ_c (p_c - t_c) cancel to 0 here "
            "and to -1.5e-8 in PyTorch)"),
] + [
    Allowed("gradient", "cross_entropy", r"^leaf\d+ \((?:float\d+\): NaN where torch has none "
            r"or the other way: (?=\[[^]]*inf)" + _infinite_where_torch_has_nan()
            # (numbered groups first: the named groups of the float16 pattern take numbers too)
            + r"|float16\): NaN where torch has none or the other way: (?=\[[^]]*inf)"
            + _infinity_against_torchs_nan(close=True)
            + r")( \[layouts: [^]]*\])?( \[the gradient of the later steps: [^]]*\])?$",
            "pytorch bug",
            "an infinite incoming gradient (sinh or exp of a large loss, in float16) reaching "
            "cross_entropy: its slope softmax(x) - target (smoothed) is finite and non-zero, so "
            "the gradient is ±inf, as tapegrad gives (NaN where a probability is exactly 0 in "
            "float16, 0·∞, as PyTorch); PyTorch's backward through log_softmax forms g - p·Σg = "
            "∞ - ∞ = NaN: cross_entropy([[1., 2., 3.]], [2]) with an incoming ∞ gives "
            "[∞, ∞, NaN] (the slope is [0.09, 0.24, -0.33]), with label_smoothing=0.1 all NaN, "
            "where tapegrad gives [∞, ∞, -∞]. In float16 (reduction='none') the rows of finite "
            "incoming gradients may show beside them, the same to two digits: each library "
            "rounds the cancelling w_t·p_t - w_t in float16 (p_t = 0.99 at logits [0, 4.625]: "
            "the float64 ±6.753e-3 is [6.752e-3, -6.790e-3] here, [6.763e-3, -6.725e-3] in "
            "PyTorch); no finite element differs beyond the noise band"),
    Allowed("value", "cross_entropy", r"^inf differs: \[(?:(?!inf|nan)[^]])*\] vs torch \[[-\s]*inf",
            "pytorch bug", "cross_entropy's mean of float16 losses: PyTorch sums them in float16 "
            "before dividing, so the sum overflows to inf where the mean (~1e4) fits, and "
            "tapegrad's finite mean is the loss"),
    Allowed("value", "nll_loss", r"^inf differs: \[(?:(?!inf|nan)[^]])*\] vs torch \[[-\s]*inf\] "
            r"\[a loss of class indices: PyTorch's own per-sample losses \(reduction='none'\) "
            r"summed in float64 and rounded back agree\](?: \[layouts: [^]]*\])?$", "pytorch bug",
            "nll_loss's mean of float16 losses: PyTorch sums them in float16 before dividing, so "
            "the sum (65504 + 6692 + 10180 - 2 = 82374) overflows to inf where the mean (20593.5) "
            "fits; the fuzzer checks that tapegrad's mean is PyTorch's own per-sample losses "
            "(reduction='none') averaged in float64 and rounded back"),
    Allowed("value", "cross_entropy", r"^NaN where torch has none or the other way: "
            r"\[-?(?:inf|0\.)\] vs torch \[nan\] \[a loss of class indices: PyTorch's own "
            r"per-sample losses \(reduction='none'\) summed in float64 and rounded back agree\]"
            r"(?: \[layouts: [^]]*\])?$", "pytorch bug",
            "cross_entropy's sum (or mean) of float16 losses, one of which has overflowed to "
            "-inf (-w_y·log p_y = -19424·3.68) and others of which are positive: PyTorch's CPU "
            "kernel adds them in float16 partial sums, where 17744 + 50240 passes 65504 to +inf "
            "and meets the -inf, inf - inf = NaN (the same rows in another order give -inf). "
            "Also the sum over an empty batch of zero classes with label smoothing: no "
            "per-sample losses, a sum of 0, where PyTorch's reduced kernel multiplies its "
            "smoothing term by ε/C = ε/0. The fuzzer checks that tapegrad's ±inf or 0 is "
            "PyTorch's own per-sample losses (reduction='none', the same values) summed in "
            "float64"),
    Allowed("value", "cross_entropy", r"^(?:NaN where torch has none or the other way: |inf "
            r"differs: )?\[[^]]*\] vs torch \[[^]]*\] \[cross_entropy: PyTorch agrees with it "
            r"computed in float64 and rounded back\](?: \[layouts: [^]]*\])?$", "float noise",
            "cross_entropy whose loss is a rounding of float32 magnified by a class weight of "
            "1e30: at logits [0.23, -26, -inf] the target's lse - x_y is log(1 + 4e-12), which "
            "PyTorch's float32 log_softmax rounds to 0 (0.23 + 4e-12 is 0.23), a loss of -0 "
            "where the math's is 1e30·4.03e-12 = 4.03e18, tapegrad's. The fuzzer checks that "
            "PyTorch computing the loss in float64, rounded back, gives tapegrad's values"),
    Allowed("value", "cross_entropy", r"^NaN where torch has none or the other way: "
            r"\[(?:\s*-?0\.)+\s*\] vs torch \[(?:\s*nan)+\s*\] \[cross_entropy over zero classes\] "
            r"\[label smoothing over zero classes: PyTorch agrees with label_smoothing=0\]",
            "pytorch bug",
            "cross_entropy with label smoothing over zero classes: every class-index target is "
            "ignore_index (any other is out of range, refused by both), and an ignored target's "
            "loss is 0 by PyTorch's docs; the smoothing term's sum over no classes is 0, which "
            "PyTorch multiplies by ε/C = ε/0 = inf, giving NaN at each target ('none') and in "
            "the sum ('sum'); PyTorch without label smoothing gives tapegrad's 0s"),
    Allowed("value", "cross_entropy", r"^NaN where torch has none or the other way: \[-?0\.\] "
            r"vs torch \[nan\] \[cross_entropy over zero classes\]", "pytorch bug",
            "cross_entropy with probability targets over zero classes: each sample's loss is "
            "an empty sum, 0, and so is their mean; PyTorch divides by numel/C = 0/0"),
    Allowed("value", "prod", r"(?s)^NaN where torch has none or the other way: \[(?:(?!nan|inf)[^]])*\] vs "
            r"torch \[.*nan", "float noise",
            "a float16 product of large values and a zero: 0 in exact arithmetic; whether a "
            "partial product reaches inf before the zero (inf·0 = NaN) depends on the order"),
] + [
    Allowed("value", op, r"^indices: \[[-\d\s]*(?<![\d-])-1(?!\d)[-\d\s]*\] vs torch", "pytorch bug",
            "a window of padding alone (dilated taps stepping over a small image): PyTorch "
            "gives an index past the image, and its backward writes there; tapegrad gives -1")
    for op in ("max_pool1d_with_indices", "max_pool2d_with_indices")
] + [
    Allowed("value", "scaled_dot_product_attention", r"(?s)^NaN where torch has none or the "
            r"other way: " + _nan_against_torchs(r"-?0\.(?:0+(?:e\+00)?)?") +
            r"(?: \[layouts: [^]]*\])? \[NaN inputs\]$", "pytorch bug",
            "attention of a query row holding NaN (so its scores are NaN): the weights and the "
            "output are NaN, as PyTorch's math backend and its kernel for 3-d inputs give; its "
            "fused CPU kernel for 4-d inputs gives 0 (query (1, 1, 1, 5) of NaN: 0; the same "
            "as (1, 1, 5): NaN)"),
    Allowed("value", "scaled_dot_product_attention", r"(?s)^NaN where torch has none or the "
            r"other way: " + _nan_against_torchs_else_numbers(r"-?0\.(?:0+(?:e\+00)?)?")
            + ATTENTION_BY_ITS_MATH,
            "pytorch bug",
            "attention of a query row whose scores are NaN (the chain made NaN, or inf and -inf "
            "in one query row: inf·k - inf·k): PyTorch's fused CPU kernel for 4-d inputs gives 0 "
            "for that row, where its math backend (which its 3-d inputs take) and tapegrad give "
            "NaN, softmax of NaN: query [[[[inf, -inf]]]] against keys of ones gives [0, 0], "
            "the same as (1, 1, 2) or under sdpa_kernel(SDPBackend.MATH) [nan, nan]"),
    Allowed("value", "scaled_dot_product_attention", r"^\[[^]]*\] vs torch \[[^]]*\] \[scaled_dot_"
            r"product_attention whose scores cancel terms of 1e20 and more: tapegrad's scores "
            r"are within their rounding, and its values the softmax of its scores times the "
            r"value\](?: \[[^]]*\])*$", "float noise",
            "attention whose scores cancel terms of 1e30 (query [-1, -1, -1] against a key "
            "[1e30, 0, -1e30]: 0 in the math): a fused multiply-add keeps the rounding of one "
            "product, 3.5e22, which softmax turns into weights 0 and 1 (tapegrad's row the "
            "first value, PyTorch's a mean of three); the mark says tapegrad's scores are "
            "within their rounding of the float64 ones and its values are the softmax of its "
            "scores times the value"),
    Allowed("value", "scaled_dot_product_attention", r"^\[[^]]*\] vs torch \[[^]]*\]"
            + ATTENTION_BY_ITS_MATH_WITHIN_TERMS, "float noise",
            "attention over a value's column of 1e30 and -1e30 under (nearly) equal weights: "
            "w·1e30 - w·1e30 + x keeps x or not by how each library's matrix product rounds "
            "(float32 weights 0.2 over 0, 9.1, 18.4, -1e30, 1e30: 5.5 exactly, 0 in PyTorch, "
            "2.98e21 in tapegrad, 1e-8 of the terms Σⱼ wⱼ·|vⱼ| = 4e29); the mark says PyTorch's "
            "math backend agrees everywhere, NaN and ±inf at the same places, and where the "
            "terms reach 1e20 within their tolerance"),
    Allowed("value", "scaled_dot_product_attention", r"(?s)^NaN where torch has none or the "
            r"other way: " + _nan_against_torchs_else_numbers(r"-?0\.(?:0+(?:e\+00)?)?")
            + r"(?: \[finite elements differ: [^]]*\])?" + ATTENTION_BY_ITS_MATH_WITHIN_TERMS,
            "pytorch bug",
            "attention of a query row holding NaN, as in the entry above (PyTorch's fused CPU "
            "kernel for 4-d inputs gives 0, its math backend and tapegrad NaN), where beside it a "
            "value's column holds 1e30 and -1e30: w·1e30 - w·1e30 + x keeps x or not by how the "
            "matrix product rounds (a fused multiply-add keeps the first product's rounding: "
            "weights 0.2 give 2.97e12 in tapegrad, -0.22 in PyTorch, 1e-17 of the terms "
            "Σⱼ wⱼ·|vⱼ| = 4e29); the mark says the math backend agrees everywhere else, and "
            "there within the tolerance of the terms"),
    Allowed("gradient", "scaled_dot_product_attention", r"^leaf\d+ \(float\d+\): NaN where torch "
            r"has none or the other way: (?=\[[^]]*\b0\.)" + _zero_against_torchs("nan"),
            "pytorch bug",
            "a query row whose scores are all -inf (here 1e30·-1e30) has weights 0 whatever the "
            "query, so its gradient is 0·k (NaN only where k is inf), as tapegrad gives and "
            "PyTorch gives for finite values; where the value holds inf PyTorch's backward "
            "runs softmax's backward over the row (its 0/0 = NaN) and gives NaN"),
    Allowed("gradient", "scaled_dot_product_attention", r"^leaf\d+ \(float\d+\): NaN where torch "
            r"has none or the other way: (?=\[[^]]*\b0\.)" + _zero_against_torchs_nan_beside_residues()
            + r" \[finite elements differ: -?\d(?:\.\d+)?e\+(?:1[89]|2[0-4]) vs torch "
            r"-?\d(?:\.\d+)?e\+(?:1[89]|2[0-4]) at \d+\] \[layouts: [^]]*\bexpand\b[^]]*\] "
            r"\[NaN inputs\]$", "pytorch bug",
            "a query row whose scores are all -inf (inf·k) has weights 0, so its gradient is 0, "
            "as in the entry above (PyTorch's backward runs softmax's backward over the row, "
            "0·NaN where the value holds NaN or inf: query [[[[-1.49, inf]]]], keys [0.60, "
            "-1.66] thrice, values [[1, 2], [3, nan], [5, 6]]: output 0 and gradient NaN, with "
            "the NaN a 3: gradient 0); beside it, the "
            "rows of a head whose keys are equal (an expanded key) have the gradient Σⱼ dSⱼ·k = 0 "
            "exactly, of which both libraries keep a rounding residue, below 1e-5 where the "
            "values are ordinary and 1e18 to 1e24 where they hold 1e30 (64077069: 1.1e22 vs "
            "3.2e22, both 0 in exact arithmetic); a number of 1e-4 or more in the window, or a "
            "residue past 1e25, or no expanded leaf, is not taken"),
    Allowed("gradient", "scaled_dot_product_attention", r"^leaf\d+ \(float\d+\): NaN where torch "
            r"has none or the other way: \[[^]]*\] vs torch \[[^]]*\]" + ATTENTION_GRADIENTS_BY_ITS_MATH,
            "pytorch bug",
            "attention's backward where an infinite incoming gradient meets an infinite value: "
            "PyTorch's fused CPU kernel for 4-d inputs takes the softmax backward's row sum "
            "Σⱼ pⱼ·dPⱼ as dO·O, which is -inf·inf = -inf where the sum itself is inf - inf = "
            "NaN (the loss is -inf whatever the key: there is no slope), so it gives a key's "
            "gradient inf where its math backend gives NaN, as tapegrad (77140). The "
            "fuzzer checks it: the step alone, on tapegrad's values and incoming gradient, by "
            "PyTorch's math backend gives tapegrad's gradients"),
    Allowed("gradient", "scaled_dot_product_attention", r"^leaf\d+ \(float32\): \[[^]]*\] vs torch "
            r"\[[^]]*\]" + ATTENTION_GRADIENTS_BY_ITS_MATH, "pytorch bug",
            "attention's float32 backward where the scores are large: PyTorch's fused CPU "
            "kernel for 4-d inputs recomputes the weights as exp(s - logsumexp) from a "
            "logsumexp kept in float32, whose rounding at scores of 2.9e5 (a unit in the last "
            "place 0.03) leaves rows of weights summing to 0.996 to 1.011, so the value's and "
            "key's gradients are 0.5% off (778219: the value's 0.0053 from 1.12) and a "
            "query's gradient that is 0 in the math (keys all equal) keeps another residue; "
            "its math backend normalises the weights it saved, as tapegrad, and agrees with "
            "the float64 gradients. The fuzzer checks it: the step alone, on tapegrad's values "
            "and incoming gradient, by PyTorch's math backend gives tapegrad's gradients"),
    Allowed("shape", "scaled_dot_product_attention", r"^(?=\([^)]*\b0\b)\((?:\d+, )*(\d+), "
            r"(\d+)\) vs torch \((?:\d+, )*\1, \2\)(?: \[layouts: [^]]*\])?(?: \[NaN inputs\])?$",
            "pytorch bug",
            "attention with values of no elements (Ev = 0, or a batch dim of 0) whose batch "
            "dims broadcast against the query's: PyTorch returns query.shape[:-1] + (Ev,) "
            "without broadcasting (query (2, 3), key (3, 3), value (3, 3, 0): (2, 0); query "
            "(1, 1, 4, 3), value (0, 4, 1): (1, 1, 4, 1) of zeros), while the same with Ev = 1 "
            "or a batch of 2 broadcasts ((3, 2, 1); (1, 2, 4, 1)); tapegrad broadcasts always. "
            "A shape is the same whatever the values: NaN in the query changes nothing"),
    Allowed("gradient", "scaled_dot_product_attention", r"^leaf\d+ \(float\d+\): \[(?:\s*(?:0\."
            r"0+e\+00|nan|-?\d\.\d+e\+(?:1[8-9]|[2-9]\d)))+\s*\] vs torch \[(?:\s*(?:0\.0+e\+00|"
            r"nan|-?\d\.\d+e\+(?:1[8-9]|[2-9]\d)))+\s*\]", "float noise",
            "attention over values near 1e30 where the query's or key's gradient is 0 by a sum "
            "that cancels: values equal for every key (the output does not depend on the "
            "weights), or a key repeated by an expanded leaf (its copies' gradients sum to 0); "
            "P·(dP - Σ P·dP) has terms of 1e30 and both libraries keep a rounding residue of "
            "them (1e21 to 1e27), at different places"),
    Allowed("value", "ldexp", r" \[ldexp in the program: PyTorch agrees with the exponent given "
            r"as a float tensor of the result's dtype\](?: \[[^]]*\])*$", "float noise",
            "ldexp with a fractional float16 exponent: PyTorch rounds 2^e to float16 before "
            "the float64 product, tapegrad computes it in the result's dtype. The fuzzer checks "
            "it: PyTorch's ldexp with the exponent given in the result's dtype is tapegrad's"),
    Allowed("value", "ldexp", r"^inf differs: \[(?:(?!nan|inf)[^]])*\] vs torch \[[^]]*inf[^]]*\]"
            r"(?: \[layouts: [^]]*\])?$",
            "pytorch bug",
            "ldexp of a float32 x and a 0-d float16 exponent: PyTorch takes 2^y in float16, "
            "∞ from y = 16 on, though its float32 result holds x·2^y (1.66·2^26.31 = 1.39e8, "
            "PyTorch ∞), while against a float64 x it takes the same 0-d exponent's 2^y in "
            "float64; tapegrad takes a 0-d exponent's 2^y in the result's dtype"),
] + [
    Allowed("value", op, r"^NaN where torch has none or the other way: "
            + _apart_only_at_nan() + r"(?: \[layouts: [^]]*\])?(?: \[NaN inputs\])?$",
            "pytorch bug", "remainder of float32 x by a tiny y where x/y overflows (1e9 / 1e-30): PyTorch's "
            "vectorised kernel forms x - y·floor(x/y) = ∞ - ∞ and gives NaN, its scalar loop "
            "(fewer than 8 elements) the exact fmod-based remainder (8.3581e-31), as tapegrad "
            "and numpy")
    for op in ("remainder", "remainder_")
] + [
    Allowed("value", op, r"^NaN where torch has none or the other way: "
            + _below_one_where_torch_has_nan() + r"(?: \[layouts: [^]]*\])?(?: \[NaN inputs\])?$",
            "pytorch bug", "fmod of float32 x by a tiny y where x/y overflows (-1e30 by 1e-30): "
            "PyTorch's vectorised kernel (16 elements and more) gives NaN, its scalar loop "
            "(fewer elements) and its float64 kernel the exact remainder -8.1668e-31, as tapegrad, "
            "numpy and C's fmod (|fmod(x, y)| < |y|, so the answer is below 1e-7 here; a number "
            "of 1e-7 or more where PyTorch has NaN is not matched)")
    for op in ("fmod", "fmod_")
] + [
    Allowed("requires-grad", op, r"^False vs torch True \((u?int\d+|bool)\)", "pytorch bug",
            "fill_ of an integer tensor with a float tensor that requires grad, and x[i] = v "
            "with an index tensor i: PyTorch marks the integer result as requiring grad, which "
            "its own rule forbids (only floating point tensors can; x[0] = v does not), and "
            "its backward then fails ('Autograd not support dtype')")
    for op in ("fill_", "setitem")
] + [
]   + [
    Allowed("tapegrad-raises", "fill_", r"^RuntimeError: fill_: value cannot be converted to "
            r"type float16 without overflow \(the value -?[\d.]+e\+\d+\)"
            r"(?: \[layouts: [^]]*\])?(?: \[NaN inputs\])?$", "pytorch bug",
            "fill_ of a 0-d float16 tensor with a number beyond float16 (1e30): PyTorch's 0-d "
            "fill gives inf, while its fill_ of a tensor of any other shape, full() and "
            "masked_fill refuse the same number ('value cannot be converted to type c10::Half "
            "without overflow'), as tapegrad refuses it for every shape (a number within float16 "
            "is not matched)"),
    Allowed("requires-grad", "fill_", r"^False vs torch True \((u?int\d+|bool)\)", "pytorch bug",
            "fill_ of an integer tensor with a float tensor that requires grad: PyTorch marks "
            "the integer result as requiring grad, which its own rule forbids (only floating "
            "point tensors can), and its backward then fails ('Autograd not support dtype')"),
    Allowed("shape", "topk", r"^\(0,\) vs torch \(\)", "pytorch bug",
            "topk(k=0) of a 0-d tensor: PyTorch returns the element itself (shape ()), one value "
            "where none was asked for; tapegrad returns the empty (0,) result"),
    Allowed("float-dtypes", "*", "in-place change of a view|more than one element of the "
            "written-to tensor|expected query, key and value",
            "difference", "x.to(x.dtype) is x itself, as in PyTorch, so what an in-place op "
            "meets differs between dtypes; attention wants one dtype for all three inputs"),
    # PyTorch skipping its own checks for an empty tensor (its kernel has nothing to do and
    # returns before checking), or accepting an input it refuses at every other size or rank
    Allowed("tapegrad-raises", "scaled_dot_product_attention", r"query of shape .* and key of "
            r"shape|key of shape .* and value of shape|expected query, key and value of one "
            r"floating point dtype", "pytorch bug",
            "attention with an empty query, key or value: PyTorch skips its shape and dtype "
            "checks (query and key of other feature sizes, int32 inputs) and returns an empty "
            "or zero result; tapegrad checks them as for any other size"),
] + [
    Allowed("tapegrad-raises", op, r"weight should hold one value for each of the (\d+) classes "
            r"\(shape \(\1,\)\), got a weight of shape \(\d+(?:, \d+)+\)$", "pytorch bug",
            "nll_loss and cross_entropy of a 3-d or 4-d input (PyTorch's nll_loss2d) take a "
            "weight of any shape with C elements, (1, C) or (C, 1); the other ranks refuse it, "
            "as tapegrad does for all")
    for op in ("nll_loss", "cross_entropy")
] + [
    Allowed("tapegrad-raises", "cholesky", r"is not positive-definite.* \[singular up to "
            r"rounding: ", "float noise",
            "a singular positive semi-definite matrix (a repeated row): whether its last pivot "
            "rounds to a tiny positive number or to 0 decides whether LAPACK factors it"),
] + [
    Allowed("tapegrad-raises", op, "needs a floating point tensor", "pytorch bug",
            "softmax, log_softmax and cross_entropy of an empty integer or bool tensor: PyTorch "
            "returns it unchecked; a non-empty one it refuses (no integer kernel), as tapegrad "
            "refuses both; softmin is softmax of -x")
    for op in ("softmax", "log_softmax", "cross_entropy", "softmin")
] + [
    Allowed("gradient", op, r"^leaf\d+ \(float\d+\): (?=[^]]*\] vs torch [^]]*\] \[layouts: "
            r"[^]]*expand)(?=.*[\[\s]-?0\.(?:0+e\+00)?[\s\]])(?=.*\de\+(?:0[3-9]|[1-9]\d))"
            r"\[(?:(?!nan|inf)[^]])*\] vs torch \[(?:(?!nan|inf)[^]])*\] \[layouts: [^]]*expand",
            "float noise",
            "log_softmax (softmax) along a dim of equal values (an expanded leaf), whose gradient "
            "reaches a leaf broadcast along that dim: Σᵢ (gᵢ - pᵢ·Σ g) = Σ g·(1 - Σ p) is 0 in "
            "exact arithmetic, a rounding residue of Σ g·1e-7 in both (float32 e^(-log 5) is not "
            "1/5), which a steep step before it (polygamma(2, ·) near 0: slope 1e12) makes 1e4 "
            "in one library and 0 in the other (the entry asks for an exact 0 and a value of "
            "1e3 or more among the elements shown)")
    for op in ("softmax", "log_softmax")
] + [
    Allowed("value", op, r"^NaN where torch has none or the other way: "
            + _inf_here_nan_in_torch() + r"(?: \[|$)", "float noise",
            "a product whose row and column hold ±inf and a pair of terms whose product "
            "overflows float32 the other way (-1e30·-1e30 against inf): a kernel that rounds "
            "each product first has inf - inf = NaN, one that fuses the multiply-add (exact, "
            "then rounded) keeps the ±inf; both libraries use both (for one such row and column "
            "PyTorch's (1,5)@(5,1) gives -inf and its dot and batched matmul NaN, numpy's dot "
            "NaN and its batched matmul -inf); the entry asks that only ±inf stands against NaN")
    for op in ("matmul", "mm", "bmm", "mv")
] + [
    Allowed("value", op, ELSEWHERE_THE_SAME + r"^NaN where torch has none or the other way: "
            r"\[[^]]*\] vs torch \[[^]]*\] \[tapegrad's is the exact sum rounded \(PyTorch in "
            r"float64, rounded back\): products beyond float(?:16|32) of both signs\]"
            r"(?: \[layouts: [^]]*\])?(?: \[NaN inputs\])?$", "float noise",
            "a product whose sums hold terms beyond float32 of both signs (nan_to_num's 3.4e38 "
            "times -1.4e4 and 1.3e4 in one row): a kernel that rounds each product first has "
            "-inf + inf = NaN, one that fuses the multiply-add keeps the running ±inf, and "
            "both libraries' kernels do both by layout. The fuzzer checks that tapegrad's value "
            "at each element whose NaN they disagree on is the exact sum rounded (PyTorch's "
            "product in float64, -2.25e41 → -inf), the other elements within the noise band; "
            "a NaN of tapegrad's against PyTorch's ±inf, or an inf of the wrong sign, is not")
    for op in ("linear", "matmul", "mm", "bmm", "mv", "addmm")
] + [
    Allowed("value", op, ELSEWHERE_THE_SAME + r"^NaN where torch has none or the other way: "
            r"\[[^]]*\] vs torch \[[^]]*\] \[tapegrad's is the exact sum rounded \(PyTorch in "
            r"float64, rounded back\): products beyond float(?:16|32) of both signs\]"
            r"(?: \[layouts: [^]]*\])?(?: \[NaN inputs\])?$", "float noise",
            "a float16 (or float32) convolution whose sums hold products beyond the dtype of "
            "both signs (inputs 1.7e4 against weights ±1e4 in float16): PyTorch's CPU kernel "
            "rounds each product, or partial sum, to the dtype first, so +inf meets -inf in NaN; "
            "tapegrad sums a float16 convolution in float32 and rounds once. The fuzzer checks "
            "that tapegrad's value at each element whose NaN they disagree on is the exact sum "
            "rounded (PyTorch's convolution in float64, -8.6e7 → -inf), the other elements "
            "within the noise band; a NaN of tapegrad's against PyTorch's ±inf, or an inf of the "
            "wrong sign, is not")
    for op in ("conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
               "conv_transpose3d")
] + [
    Allowed("value", op, r"^NaN where torch has none or the other way: \[(?:nan|-?inf)\] vs torch "
            r"\[(?:nan|-?inf)\] \[a sum of losses beyond float32 of both signs: NaN or ±inf by the "
            r"order of summation, the per-element losses \(reduction='none'\) the same\]"
            r"(?: \[layouts: [^]]*\])?(?: \[NaN inputs\])?$", "float noise",
            "a float32 sum (or mean) of losses of ±3.4e38 of both signs (nan_to_num's largest, "
            "picked as -x[n, target]): a partial sum of the positive ones passes float32's largest "
            "value to +inf, one of the negative ones to -inf, and where they meet the sum is NaN, "
            "so NaN, +inf or -inf is the order of summation (tapegrad NaN, PyTorch +inf where the "
            "exact sum is -1.0e39). The fuzzer checks that both libraries give the same finite "
            "losses with reduction='none' and that the losses of each sign alone sum past "
            "float32's largest value; a NaN or inf among losses of one sign is not allowed. "
            "kl_div's mean the same: its terms y·(log y - x) of x = ±3.4e38 are ∓3.4e38·y")
    for op in ("nll_loss", "cross_entropy", "kl_div")
] + [
    Allowed("gradient", op, r"^leaf\d+ \(float32\): NaN where torch has none or the other way: "
            + _inf_here_nan_in_torch() + r"(?: \[|$)", "float noise",
            "the same in a product's backward (xᵀ·g, g·yᵀ): a gradient g holding ±inf and a "
            "pair of terms beyond float32 the other way (-1e30·3e31 against -inf): NaN where "
            "the kernel rounds each product first, the ±inf where it fuses the multiply-add; "
            "the entry asks that only ±inf stands against NaN, every other number the same")
    for op in ("matmul", "mm", "bmm", "mv")
] + [
    Allowed("value", op, r"^NaN where torch has none or the other way: "
            + _nan_here_inf_in_torch() + r"(?: \[|$)", "float noise",
            "x·w + b with an infinite bias and a product x·w beyond float32 of the other sign "
            "(-1e30·1e30 against b = inf): the exact sum is inf; a kernel that rounds the "
            "product first has -inf + inf = NaN (tapegrad's BLAS, and PyTorch's own once the "
            "inner dim is 2 or more), one that fuses the multiply-add keeps the inf (PyTorch's "
            "addmm with an inner dim of 1); the entry asks that only NaN stands against ±inf")
    for op in ("linear", "addmm")
] + [
    Allowed("tapegrad-raises", op, "expected operands of one dtype", "pytorch bug",
            "a batched product (bmm, or matmul of batches) of two dtypes where the batch, rows, "
            "columns or inner dim is empty: PyTorch skips its dtype check and returns zeros in "
            "the second operand's dtype (float32 @ int64 gives int64, int64 @ float32 float32, "
            "not promoted); the same operands holding values, and torch.mm of the same empty "
            "pair, it refuses, as tapegrad refuses all of them")
    for op in ("matmul", "bmm")
] + [
    Allowed("tapegrad-raises", "addmm", r"^TypeError: addmm: (beta|alpha) must be an integer "
            r"for tapegrad\.(u?int\d+|bool) tensors, got -?\d+\.\d+", "pytorch bug",
            "addmm of integer tensors with a float beta or alpha: PyTorch truncates it to an "
            "integer (addmm(10, 1, 1, beta=0.5) is 0·10 + 1 = 1, not 6); torch.add, torch.addr "
            "and torch.addmm with an empty inner dim refuse a float alpha/beta for integer "
            "tensors, as tapegrad's addmm does"),
] + [
    Allowed("tapegrad-raises", op, r"cat: dimension \d+ is out of range for a tensor of shape "
            r"\(0,\)", "pytorch bug",
            "cat of a 1-d empty tensor along a dim it does not have: PyTorch's legacy rule "
            "skips 1-d empty tensors (and their dim check)")
    for op in ("cat", "concat", "concatenate")
] + [
    Allowed("tapegrad-raises", "take_along_dim", r"index -?\d+ is out of range for dimension",
            "pytorch bug", "take_along_dim with an index outside [0, size): PyTorch does no "
            "bounds check and reads the index modulo the size (torch.gather refuses the same "
            "index)"),
    Allowed("tapegrad-raises", "adaptive_avg_pool2d", r"expected a 3-d \(unbatched\) or 4-d "
            r"\(batched\) input, but got an input of shape \((?:\d+, \d+|\d+(?:, \d+){4,})\)",
            "pytorch bug",
            "adaptive_avg_pool2d of a 2-d or a 5-d and wider input to output_size 1: PyTorch's "
            "shortcut for 1 (a mean over the last two dims) skips its rank check; every other "
            "output size refuses such an input, as tapegrad does"),
] + [
    Allowed("tapegrad-raises", op, r"cannot pool an input of shape \([^)]*\b0\b[^)]*\) to "
            r"output_size \((1, )?1,?\)", "pytorch bug",
            "adaptive average pooling of an empty spatial dim to output_size 1: PyTorch's "
            "shortcut for 1 (a mean) gives NaN; its kernel refuses every other output size, "
            "as tapegrad refuses all")
    for op in ("adaptive_avg_pool1d", "adaptive_avg_pool2d")
] + [
] + [
    Allowed("tapegrad-raises", op, "expected a floating point input, but got dtype", "pytorch bug",
            "adaptive average pooling of an empty integer or bool tensor: PyTorch returns an "
            "empty result unchecked; it has no integer kernel for a non-empty one")
    for op in ("adaptive_avg_pool1d", "adaptive_avg_pool2d")
] + [
    Allowed("tapegrad-computes", "batch_norm", "INTERNAL ASSERT FAILED", "pytorch bug",
            "batch_norm of a 2-d input with a weight of C elements shaped (C, 1): PyTorch fails "
            "an internal assert (it takes the same weight for 3-d and 4-d inputs)"),
    Allowed("tapegrad-computes", "batch_norm", r"select\(\): index 0 out of range for tensor of "
            r"size \[0\]", "pytorch bug",
            "batch_norm of an empty input in evaluation with running_var None: PyTorch fails "
            "inside its own kernel (an index error); tapegrad returns the empty result"),
    Allowed("tapegrad-computes", "batch_norm", r"^RuntimeError: The size of tensor a \((\d+)\) must "
            r"match the size of tensor b \((?!\1\))\d+\) at non-singleton dimension 1$", "pytorch bug",
            "batch_norm of an empty input (0, 4, 1, 1) with a weight or bias of its 4 channels "
            "shaped (2, 2, 1, 1): PyTorch's shortcut for an empty input multiplies by weight[0] "
            "(here (2, 1, 1)) and fails to broadcast it, where it takes the same weight for a "
            "non-empty input of 4 channels; a wrong-sized weight is refused for a non-empty input "
            "with 'weight should contain 4 elements not 2', which this does not match"),
    Allowed("tapegrad-raises", "batch_norm", r"expected an input of at least 2 dimensions .* got "
            r"shape \(0,\)|(?:bias|weight) should have shape \(0,\) .*, got \((?![^)]*\b0\b)|"
            r"(?:bias|weight) should have shape \(([1-9]\d*),\) .*, got \((?!(?:1, )*\1(?:, 1)*,?\))",
            "pytorch bug",
            "batch_norm of an empty input: PyTorch returns it before checking its rank or the "
            "size of the weight and bias (a bias of 4 values for 1 channel); a weight or bias "
            "that holds C values (C and 1s: (C,), (1, C), (C, 1, 1)) is taken, so its refusal "
            "is not matched"),
    Allowed("tapegrad-raises", "cholesky", r"square matrix or a batch of them, got shape \([^)]*\b0"
            r"\b|expected a float32 or float64 input, got float16|input must be a floating-point "
            r"tensor, got", "pytorch bug",
            "torch.cholesky (deprecated) of an empty tensor returns it unchecked, square or not, "
            "float16 or not; torch.linalg.cholesky refuses the same input, as tapegrad does"),
    Allowed("tapegrad-raises", "pow_", "cannot be stored in place into a tensor of dtype "
            "tapegrad.bool", "pytorch bug",
            "pow_ of an empty bool tensor by a bool: PyTorch returns it unchecked; a non-empty "
            "one it refuses (the result is an integer), as tapegrad does"),
    Allowed("tapegrad-raises", "repeat", "must be non-negative", "pytorch bug",
            "repeat of an empty tensor with a negative count: PyTorch returns an empty result; "
            "a non-empty tensor it refuses (negative dimension), as tapegrad does"),
] + [
    Allowed("tapegrad-raises", op, "interpolation of uint8 is not supported",
            "difference", "bilinear interpolation of uint8: PyTorch's uint8 kernel rounds with "
            "fixed-point weights of its own (89.0 becomes 90); tapegrad asks for a float input")
    for op in ("interpolate", "upsample", "upsample_bilinear")
] + [
    Allowed("tapegrad-raises", op, r"(?s)cannot be viewed as shape .*\[laid out otherwise in "
            r"PyTorch: strides \([\d, ]*\) vs torch \([\d, ]*\)\]", "difference",
            "view of a result (not a view) laid out otherwise than PyTorch's: a result takes "
            "numpy's layout, which is PyTorch's for casts, one-operand elementwise ops and the "
            "reductions, but not for every op that mixes operands of different layouts "
            "(PyTorch's binary ops follow the first operand's order, numpy's are row-major "
            "when the operands disagree) or composes several steps, so .view() (and "
            ".view_as()) can refuse what PyTorch views; .reshape() is the same in both")
    for op in ("view", "view_as")
] + [
    Allowed("signature", "*", r"dim=NoneType|src=int|src=float|src=bool", "difference",
            "dim=None (all dims) for max/min/sort/median, and scatter's src as a number "
            "(PyTorch spells it value=)"),
    Allowed("signature", "scatter", r"value=Tensor", "difference",
            "scatter's value as a 0-d tensor: tapegrad takes it as the number it holds, and "
            "differentiates with respect to it when it requires grad (PyTorch's parser "
            "refuses some)"),
] + [
    Allowed("tapegrad-raises", "*", "in-place change of a view", "difference",
            "an in-place change of a view of a tensor that requires grad is refused while "
            "gradients are recorded (README: Decisions); PyTorch rebases the view's history"),
] + [
] + [
    Allowed("tapegrad-raises", op, r"^IndexError: \w+: " + _out_of_range_index(), "pytorch bug",
            "an out-of-range index tensor into a tensor with no elements to copy (x of shape "
            "(3, 0), x[[3]]): PyTorch checks index bounds only while copying elements and "
            "returns an empty result; the same index into x of shape (3, 2) it refuses, as "
            "tapegrad refuses both. Only where the index named is outside [-size, size) of its "
            "dimension (the refusal of an index the dimension holds is a finding)")
    for op in ("getitem", "setitem")
] + [
    Allowed("tapegrad-computes", op, r"Calculated output size per channel: \([^)]*\b0\b[^)]*\)\. "
            r"Output size is too small", "pytorch bug",
            "a transposed convolution whose padding crops every row (output size 0): PyTorch's "
            "floating point kernel returns the empty result (input (4, 2, 2, 3), kernel 1, "
            "padding 1: (4, 2, 0, 1)), its integer kernel refuses the same shapes; tapegrad "
            "returns it in every dtype")
    for op in ("conv_transpose1d", "conv_transpose2d")
] + [
    Allowed("tapegrad-raises", "bilinear", r"bilinear: weight must be 3-D \(out_features, "
            r"in1_features, in2_features\), got shape \(\d+(, \d+){3,}\)", "pytorch bug",
            "bilinear with a weight of 4 or more dimensions and inputs of no elements: PyTorch "
            "returns an empty result without checking the weight (inputs (0, 1, 1, 1), weight "
            "(2, 1, 1, 1): a result of shape (0, 1, 1, 2)) and refuses the same weight with a "
            "batch of 3 (number of dimensions must match); tapegrad refuses both"),
] + [
    Allowed("gradient", op, r"^leaf\d+ \(float32\): NaN where torch has none or the other way: "
            + _zero_against_torchs("nan"), "pytorch bug",
            "a strided convolution's input gradient at a position no window reads (the last of "
            "3 with kernel 2, stride 2), with an inf weight: that input does not reach the "
            "output, its gradient is 0; PyTorch's float32 CPU backward gives NaN there (0·inf "
            "of its zero-stuffed gradient), its float64 backward 0, as tapegrad in both")
    for op in ("conv1d", "conv2d", "conv3d")
] + [
    Allowed("value", op, r"^NaN where torch has none or the other way: " + _nan_against_torchs(ZERO),
            "pytorch bug",
            "a convolution with an inf weight and padding: an output that sees only padding is "
            "inf·0 = NaN, as PyTorch gives for a weight of (4, 3, 1) with strides (3, 1, 1); the "
            "same weight with strides (3, 1, 3) (a transposed (4, 1, 3), as contiguous by "
            "PyTorch's own test) takes a kernel that skips the padding taps and gives 0")
    for op in ("conv1d", "conv2d", "conv3d")
] + [
    Allowed("value", op, r"^NaN where torch has none or the other way: "
            + _nan_against_torchs(r"-?(?:\d[\d.]*(?:e[-+]\d+)?|inf)"), "pytorch bug",
            "a convolution with an inf weight on a tap that meets the padding of an output that "
            "also sees the image: inf·0 = NaN, as PyTorch gives in float64 and for other shapes; "
            "its float32 kernel for some shapes skips the padding taps (input (2, 3, 3) of 3s, "
            "weight (4, 3, 2) of 1s with w[3, 2, 0] = inf, padding 1: output [3, 0] is 9 in "
            "float32, NaN in float64 and with input (1, 1, 3), weight (1, 1, 2)); where the "
            "image's taps meet an infinite weight too, its float32 answer is ±inf (a (2, 1, 2, 2) "
            "weight of ±inf, stride 2, padding 1: ±inf in float32, NaN in float64)")
    for op in ("conv1d", "conv2d", "conv3d")
] + [
    Allowed("value", op, r"^NaN where torch has none or the other way: " + _nan_against_torchs(ZERO)
            + r"(?: \[[^]]*\])* \[NaN inputs\]$", "pytorch bug",
            "a convolution with a NaN weight and padding: an output that sees only padding is "
            "NaN·0 = NaN; PyTorch's float32 CPU kernel for some shapes (a grouped 1×1 kernel) "
            "skips the padding taps and gives 0 there, its float64 kernel gives NaN for the "
            "same input, as tapegrad does in every dtype (every other number shown the same)")
    for op in ("conv1d", "conv2d", "conv3d")
] + [
    Allowed("tapegrad-raises", "scatter", r"(?:the value -?(inf|nan|\d[\d.]*(e[-+]?\d+)?) cannot be "
            r"stored in a tensor of dtype|value cannot be converted to type \w+ without overflow "
            r"\(the value -?(inf|nan|\d[\d.]*(e[-+]?\d+)?)\)).* \[empty index\]", "pytorch bug",
            "scatter with an empty index of a value the dtype cannot hold (inf into uint8, 1e30 "
            "into int64): PyTorch returns the input unchecked; with a non-empty index it "
            "refuses the value, as tapegrad does in both"),
    Allowed("tapegrad-computes", "setitem", "A view was created in no_grad mode and is being "
            "modified inplace", "pytorch bug",
            "x[i] = v into an integer tensor from nonzero(as_tuple=True), v requiring grad: "
            "PyTorch takes the write into an integer tensor as differentiable (see the "
            "requires-grad entry) and then refuses it because the tensor is one of several "
            "views one function returned; an integer tensor takes no gradient"),
] + [
    Allowed("tapegrad-raises", op, r"^RuntimeError: threshold\(inplace=True\): "
            "unsupported operation: more than one element of the written-to tensor",
            "difference", "threshold(inplace=True) of an expanded tensor: PyTorch's threshold_ "
            "alone skips the memory-overlap check its other in-place activations (relu_, "
            "elu_, hardtanh_) make, and writes each result through the memory the elements "
            "share (the same answer for every copy, so its result is right); tapegrad "
            "refuses it as PyTorch does for those")
    for op in ("threshold", "threshold_")
] + [
    Allowed("tapegrad-raises", "setitem", "more than one element of the written-to tensor",
            "difference", "x[index tensor] = v into an expanded tensor: PyTorch's index_put_ "
            "writes through the memory the elements share, with a deprecation warning (clone() "
            "first); tapegrad refuses it with the message PyTorch gives for x[:] = v. A write "
            "that repeats no element (x[0] = v of x.expand(3)) and fill_/zero_ by a number "
            "go through as in PyTorch"),


    Allowed("tapegrad-raises", "median", "has no median", "pytorch bug",
            "the median of an empty integer or bool tensor: PyTorch returns garbage (int64's "
            "lowest value, True); of an empty float tensor NaN, as tapegrad"),
    Allowed("backward-computes", "*", r"modified by an inplace operation.*\[tapegrad's "
            r"gradient is PyTorch's with the in-place steps on copies\]", "difference",
            "PyTorch refuses the backward because a value it saved was overwritten in place "
            "later; tapegrad still holds the value and computes the gradient, which the fuzzer "
            "checks against PyTorch's for the same program with the in-place steps on copies. "
            "tapegrad's in-place forms (exp_, relu_, sigmoid_, pow_, elu(inplace=True)…) "
            "compute out of place and write the result in, so the result their backward keeps "
            "is their own copy, where PyTorch's keep the tensor itself; ldexp is mul(x, "
            "exp2(y)), keeping x and 2^y where PyTorch's keeps its result; max_pool1d and "
            "avg_pool1d give new tensors where PyTorch's are views of a value it saved"),
    Allowed("tapegrad-computes", "take_along_dim", "view size is not compatible", "pytorch bug",
            "take_along_dim without a dim of a non-contiguous tensor: PyTorch flattens it with "
            "view() inside and fails; taking from the flattened tensor is well defined"),
] + [
    Allowed("tapegrad-computes", op, "view size is not compatible", "difference",
            "view of a result that tapegrad holds contiguous where PyTorch's is a strided view "
            "(einsum's permutation of its operand, sort of a transposed tensor, which keeps its "
            "strides in PyTorch; ldexp or nextafter of a transposed operand): tapegrad views what "
            "is contiguous")
    for op in ("view", "view_as")
] + [
    # float64 finite differences where rounding hides the function's change
    Allowed("gradcheck", "*", r"^Jacobian mismatch for input \d+ \(shape \([^)]*\)\):\nworst entry: "
            r"[^\n]*: analytical nan vs numerical -?0(?:\.0*)?\n", "float noise",
            "a function at the edge of its domain reached by rounding, then flat: tanh(88) is "
            "1 - 2e-77, exactly 1 in float64 (softmax of [-19, 6.5, …] after polygamma(2, ·) "
            "exactly [0, 1, 0, …]), where arcsin's slope 1/√(1 - x²) is inf and tanh's (the "
            "softmax's) 0, inf·0 = NaN (PyTorch's backward gives the same NaN); finite "
            "differences see a flat 1, slope 0. A NaN backward PyTorch does not share is "
            "reported by the program's gradient comparison"),
    Allowed("gradcheck", "*", r"^Jacobian mismatch for input \d+ \(shape \([^)]*\)\):\nworst entry: "
            r"[^\n]*: analytical -?(?:0\.00[0-4]\d*|[1-4](?:\.\d+)?e-03|\d(?:\.\d+)?e-0[4-9]) vs "
            r"numerical -?0(?:\.0*)?\n",
            "float noise",
            "a slope below 5e-3 that finite differences cannot see: a step of 1e-6 moves "
            "tanh(-13.6) by 1e-17, under half an ulp of -1 in float64, so the numerical slope is "
            "0 where the chain's true one (tanh, then erfinv, elu: 1.4e-3) is backward's"),
    Allowed("tapegrad-computes", "*", "its integer division of the smallest integer by -1",
            "pytorch bug", "PyTorch's CPU integer division of the dtype's smallest value by -1 "
            "kills the process (SIGFPE); the fuzzer does not run it there, tapegrad wraps as "
            "two's complement does"),
    Allowed("tapegrad-computes", "*", "its polygamma of a non-integer x far below 0", "pytorch bug",
            "PyTorch's polygamma(n, x) for n ≥ 2 (and polygamma(1, x)'s backward) at a "
            "non-integer x far below 0 adds 1 to x until it passes 9 (polygamma(2, -1e8 - 0.5) "
            "takes a second, -1.1e11 about 20 minutes); the fuzzer does not run it where "
            "x < -1e7, tapegrad uses the reflection formula"),
    Allowed("tapegrad-computes", "conv1d", "its float16 dilated conv1d whose windows all lie",
            "pytorch bug", "PyTorch's float16 conv1d with dilation ≠ 1 whose output windows all "
            "lie in the padding (conv1d(randn(5, 1, 1).half(), ones(4, 1, 1).half(), "
            "padding=1, dilation=2, stride=2)) dies of SIGSEGV; the fuzzer does not run it, "
            "tapegrad gives the bias (or zeros) there"),
    Allowed("tapegrad-computes", "conv2d", "its float16 dilated conv2d whose windows all lie",
            "pytorch bug", "the same for PyTorch's float16 conv2d along a dim (conv2d(randn(3, 4, "
            "3, 1).half(), randn(2, 4, 1, 1).half(), stride=2, padding=1, dilation=2): the "
            "width's taps at -1 and 1): SIGSEGV; the fuzzer does not run it"),
    Allowed("tapegrad-computes", "mse_loss", "Subtraction, the `-` operator, with a bool tensor",
            "pytorch bug", "mse_loss of a bool input with a weight: PyTorch's weighted path "
            "subtracts the bool tensor itself and refuses, its unweighted path casts it to the "
            "target's float dtype first, as tapegrad does on both"),
    Allowed("backward-computes", "sgn", "ZeroTensors are immutable", "pytorch bug",
            "PyTorch's own backward fails on the symbolic zero its sgn sends back (an in-place "
            "accumulation into an immutable ZeroTensor); the gradient is defined: zeros"),
    Allowed("backward-computes", "huber_loss", "Found dtype Long but expected", "pytorch bug",
            "huber_loss of a float input and an integer target: PyTorch's forward computes it, "
            "its own backward then refuses the integer target (the gradient is defined)"),
]


def allowed(finding):
    """The entry that allows ``finding``, or None."""
    for entry in ALLOWED:
        if entry.kind == finding.kind and entry.op in ("*", finding.op) and re.search(
                entry.detail, finding.detail):
            return entry
    return None
