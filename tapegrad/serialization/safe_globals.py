"""The globals a user trusts ``load(..., weights_only=True)`` to rebuild, and finding them in a file.

A pickle can name any function or class ("global") and call it while loading: that is how it
can run code. ``weights_only=True`` admits only tensors, containers and plain values, plus
the globals listed here::

    tapegrad.serialization.add_safe_globals([MyConfig])      # for the rest of the program
    with tapegrad.serialization.safe_globals([MyConfig]):     # for a block
        checkpoint = tapegrad.load("run.pt")
    tapegrad.serialization.get_unsafe_globals_in_checkpoint("run.pt")  # what a file needs

An entry is the object itself, or ``(object, "module.name")`` when the file spells its name
differently (a class that has moved, say).
"""
import pickletools

_allowed = {}  # "module.name" -> the object a file naming it gets


def _entry_name(entry):
    if isinstance(entry, tuple):
        if len(entry) != 2 or not isinstance(entry[1], str):
            raise TypeError(f"a safe global is an object or an (object, 'module.name') pair, "
                            f"got {entry!r:.120}")
        return entry[1], entry[0]
    module = getattr(entry, "__module__", None)
    name = getattr(entry, "__qualname__", None) or getattr(entry, "__name__", None)
    if not isinstance(module, str) or not isinstance(name, str):
        raise TypeError(f"{entry!r:.120} has no __module__ and __qualname__, so it cannot be "
                        f"named in a pickle; pass (object, 'module.name') instead")
    return f"{module}.{name}", entry


def add_safe_globals(safe_globals):
    """Let ``load(weights_only=True)`` rebuild these functions and classes from now on."""
    for entry in safe_globals:
        name, obj = _entry_name(entry)
        _allowed[name] = obj


def get_safe_globals():
    """The objects added with ``add_safe_globals`` (and active ``safe_globals`` blocks)."""
    return list(_allowed.values())


def clear_safe_globals():
    """Forget every global added with ``add_safe_globals``."""
    _allowed.clear()


class safe_globals:
    """``with safe_globals([...]):`` allows these globals inside the block only."""

    def __init__(self, safe_globals):
        self.safe_globals = list(safe_globals)
        self._before = None

    def __enter__(self):
        self._before = dict(_allowed)
        add_safe_globals(self.safe_globals)
        return self

    def __exit__(self, *exc_info):
        _allowed.clear()
        _allowed.update(self._before)
        return False


def user_allowed(full_name):
    """The object a user allowed under ``full_name`` ("module.name"), or None."""
    return _allowed.get(full_name)


def globals_in_pickle(data):
    """Every "module.name" the pickle ``data`` names, in order of first appearance.

    Read with ``pickletools.genops``, which decodes opcodes without running any of them.
    STACK_GLOBAL (protocol 4 and later) takes its two names from strings pushed before it,
    possibly through the memo, so those are tracked too.
    """
    found, strings, memo = [], [], {}
    last_string = None
    for opcode, arg, _ in pickletools.genops(data):
        name = opcode.name
        if name in ("GLOBAL", "INST"):
            module, _, attr = arg.partition(" ")
            found.append((module, attr))
        elif name == "STACK_GLOBAL":
            if len(strings) >= 2:
                found.append((strings[-2], strings[-1]))
        elif name in ("SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE",
                      "SHORT_BINSTRING", "BINSTRING", "STRING"):
            last_string = arg
            strings.append(arg)
            continue
        elif name in ("BINPUT", "LONG_BINPUT", "PUT"):
            memo[arg] = last_string
        elif name == "MEMOIZE":
            memo[len(memo)] = last_string
        elif name in ("BINGET", "LONG_BINGET", "GET"):
            if isinstance(memo.get(arg), str):
                strings.append(memo[arg])
                last_string = memo[arg]
                continue
        last_string = None
    return list(dict.fromkeys(full_name(module, attr) for module, attr in found))


def full_name(module, name):
    """ "module.name", with the Python 2 spellings protocol 2 uses turned into Python 3's."""
    return f"{PYTHON2_MODULES.get(module, module)}.{name}"


# Protocol 2 pickles spell two modules by their Python 2 names.
PYTHON2_MODULES = {"__builtin__": "builtins", "copy_reg": "copyreg"}
