"""``python -m tapegrad.as_torch SCRIPT [ARGS…]``: run a PyTorch script on tapegrad.

    python -m tapegrad.as_torch SCRIPT [ARGS…]     run SCRIPT as ``python SCRIPT ARGS…`` would
    python -m tapegrad.as_torch -m MODULE [ARGS…]  run a module, as ``python -m`` would
    python -m tapegrad.as_torch --check SCRIPT…    list the torch names SCRIPT uses that
                                                   tapegrad lacks (runs nothing)
"""
import os
import runpy
import sys

from . import install

USAGE = __doc__.split("\n\n", 1)[1]


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE, end="")
        return 0 if argv else 2
    if argv[0] == "--check":
        from .check import main as check_main
        return check_main(argv[1:])
    install()
    if argv[0] == "-m":
        if len(argv) < 2:
            print("python -m tapegrad.as_torch -m: a module name is missing", file=sys.stderr)
            return 2
        sys.argv = argv[1:]
        runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
        return 0
    script = argv[0]
    if not os.path.isfile(script):
        print(f"python -m tapegrad.as_torch: cannot find the script {script!r}", file=sys.stderr)
        return 2
    # as ``python SCRIPT`` does: the script's folder first on the path, its arguments in argv
    sys.argv = argv
    sys.path[0] = os.path.dirname(os.path.abspath(script))
    runpy.run_path(script, run_name="__main__")
    return 0


if __name__ == "__main__":
    sys.exit(main())
