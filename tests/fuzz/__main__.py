"""``python -m tests.fuzz [--seconds S | --programs N] [--seed K] [--show]``.

Runs seeded programs from ``--seed`` on, counts disagreements by kind and operation,
says which the allowlist explains, and prints one reproducing seed per new group
(``--programs 1 --seed SEED --show`` prints that program). The programs run in a child
process, so that one that crashes in native code is a finding and the run goes on
(child_process.py); ``--in-process`` runs them here, to debug one.
"""
import argparse
import collections
import functools
import signal
import sys
import time

from .allowlist import allowed
from .child_process import ChildRunner
from .run import ENTRIES, Finding, run_program, torch


PROGRAM_SECONDS = 20   # a program that takes more CPU time is a finding of its own ("slow"):
# CPU time, not wall time, so that a busy machine (or numba compiling kernels for the first
# program after installing) does not make a program slow


class _TooSlow(BaseException):
    """Raised by the alarm inside a program that runs too long (not an Exception, so the
    program's own error handling does not take it for the operation's error)."""


def _alarm(signum, frame):
    raise _TooSlow()


def _run_with_time_limit(seed, ops):
    if not hasattr(signal, "setitimer"):
        return run_program(seed, entries=ops)
    previous = signal.signal(signal.SIGPROF, _alarm)
    signal.setitimer(signal.ITIMER_PROF, PROGRAM_SECONDS)
    try:
        return run_program(seed, entries=ops)
    except _TooSlow:
        return [Finding("slow", "?", f"the program ran over {PROGRAM_SECONDS} s", seed)], None
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, previous)


def _checkpoint(path, n, seed, groups, ops=None):
    """Write the findings so far and the seed about to run: a crash in native code (a
    kernel writing out of bounds) then leaves the counts and the seed that crashed. A run
    over some operations keeps their names: its seeds replay only with the same ``--ops``."""
    import json
    with open(path, "w") as file:
        json.dump({"programs": n, "running_seed": seed,
                   "ops": ",".join(e.name for e in ops) if ops else None,
                   "findings": [f._asdict() for found in groups.values() for f in found]}, file)


def _run_and_describe(seed, ops, show):
    """(findings, the program's description where ``show`` asks for it, else None)."""
    findings, program = _run_with_time_limit(seed, ops)
    return findings, program.describe() if show and program is not None else None


def fuzz(seconds=None, programs=None, seed=0, show=False, out=sys.stdout, ops=None, save=None,
         in_child=False):
    """Run programs (``in_child``: in a child process, so that a crash is a finding:
    child_process.py); (programs run, {(kind, op): [findings]}, the groups not allowed)."""
    run = functools.partial(_run_and_describe, ops=ops, show=show)
    if in_child:
        run = ChildRunner(run)
    try:
        return _fuzz_with(run, seconds, programs, seed, out, ops, save)
    finally:
        if in_child:
            run.close()


def _fuzz_with(run, seconds, programs, seed, out, ops, save):
    start, n = time.monotonic(), 0
    last_save = start
    groups = collections.defaultdict(list)
    while True:
        if programs is not None and n >= programs:
            break
        if seconds is not None and time.monotonic() - start >= seconds:
            break
        if save and (n % 200 == 0 or time.monotonic() - last_save > 20):
            _checkpoint(save, n, seed + n, groups, ops)
            last_save = time.monotonic()
        findings, description = run(seed + n)
        if description is not None:
            print(description, file=out, flush=True)
        for finding in findings:
            groups[(finding.kind, finding.op)].append(finding)
        n += 1
    new = {k: v for k, v in groups.items() if not all(allowed(f) for f in v)}
    return n, groups, new


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz", description=__doc__)
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--programs", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--show", action="store_true", help="print every program")
    parser.add_argument("--list", action="store_true", help="list the fuzzed operations")
    parser.add_argument("--ops", default=None, help="only these operations (comma-separated)")
    parser.add_argument("--save", default=None, help="write the findings to this JSON file "
                        "(also every 20 s, with the seed running: a native crash leaves them)")
    parser.add_argument("--in-process", action="store_true", help="run the programs in this "
                        "process, not in a child that may die (to debug one in pdb or gdb)")
    parser.add_argument("--triage", default=None, help="summarise a file written by --save")
    options = parser.parse_args(argv)
    if options.triage:
        import json
        with open(options.triage) as file:
            saved = json.load(file)
        groups = collections.defaultdict(list)
        for f in saved["findings"]:
            groups[(f["kind"], f["op"])].append(Finding(**f))
        print(f"{saved['programs']} programs (running seed {saved['running_seed']})")
        if saved.get("ops"):
            print(f"over some operations: replay a seed with --ops {saved['ops']}")
        return _summary(saved["programs"], groups)
    if options.list:
        print(" ".join(sorted(e.name for e in ENTRIES)))
        return 0
    if options.seconds is None and options.programs is None:
        options.seconds = 60
    print(f"comparing with PyTorch {torch.__version__}" if torch else
          "PyTorch is not importable: checking tapegrad's own invariants only")
    ops = None
    if options.ops:
        wanted = set(options.ops.split(","))
        ops = [e for e in ENTRIES if e.name in wanted]
    n, groups, new = fuzz(options.seconds, options.programs, options.seed, options.show, ops=ops,
                          save=options.save, in_child=not options.in_process)
    if options.save:
        _checkpoint(options.save, n, None, groups, ops)
    return _summary(n, groups)


def _summary(n, groups):
    new = {k: v for k, v in groups.items() if not all(allowed(f) for f in v)}
    total = sum(len(v) for v in groups.values())
    print(f"{n} programs over {len(ENTRIES)} operations; {total} disagreements in "
          f"{len(groups)} groups, {len(new)} not in the allowlist")
    by_category = collections.Counter()
    for (kind, op), findings in sorted(groups.items()):
        # a NEW group is shown by its first finding the allowlist does not explain: the one
        # to reproduce (an allowed one shown instead would invite widening its entry)
        shown = next((f for f in findings if not allowed(f)), None)
        category = allowed(findings[0]).category if shown is None else "NEW"
        shown = shown or findings[0]
        by_category[category] += len(findings)
        print(f"  {len(findings):5d}  {kind:18s} {op:28s} {category:12s} seed {shown.seed}: "
              f"{shown.detail[:110]!r}")
    print("by triage:", dict(by_category))
    return 1 if new else 0


if __name__ == "__main__":
    sys.exit(main())
