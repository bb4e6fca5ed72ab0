"""The import hook: ``import torch`` (and every path in ``modules.py``) gives tapegrad.

Python asks each finder on ``sys.meta_path`` for a module before it looks on disk. The
finder below answers every ``torch…`` and ``torchvision…`` name, so a real torch that
happens to be installed is never imported. What it hands back is an alias module: a thin
module named like PyTorch's whose attributes are read from (and written to) the tapegrad
modules of the table. ``torch.nn.Linear`` is ``tapegrad.nn.Linear`` itself, not a copy, so
``isinstance`` checks, ``state_dict`` keys and pickled references all agree. A name none of
them has raises an AttributeError that says it is PyTorch's name tapegrad lacks.
"""
import importlib
import importlib.abc
import importlib.machinery
import sys
import types

from .modules import TORCH_TO_TAPEGRAD, is_torch_path

CHECK_HINT = "python -m tapegrad.as_torch --check SCRIPT lists every such name a script uses"


def lacks(torch_name):
    return f"{torch_name} is PyTorch's name; tapegrad does not have it yet"


def missing_message(torch_name):
    return f"{lacks(torch_name)} ({CHECK_HINT})"


class AliasModule(types.ModuleType):
    """A torch module path whose names come from tapegrad modules (``targets``)."""

    def __init__(self, torch_name, targets):
        super().__init__(torch_name)
        # written straight into __dict__: __setattr__ below forwards to the targets
        self.__dict__["_tapegrad_targets"] = targets
        self.__dict__["__path__"] = []  # a package, so that ``import torch.x.y`` comes here

    def __getattr__(self, name):
        # only called for names not in this module's own __dict__ (that is, nearly all)
        if name == "__all__":  # ``from torch.x import *``: what each of its modules exports
            return sorted({n for t in self._tapegrad_targets
                           for n in getattr(t, "__all__", [n for n in dir(t) if n[0] != "_"])})
        child = f"{self.__name__}.{name}"
        for target in self._tapegrad_targets:
            value = getattr(target, name, _ABSENT)
            if value is _ABSENT:
                continue
            if isinstance(value, types.ModuleType) and child in TORCH_TO_TAPEGRAD:
                return importlib.import_module(child)  # torch.nn.functional: the alias
            return value
        if name.startswith("__") and name.endswith("__"):  # Python probing, not a torch name
            raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")
        if child in TORCH_TO_TAPEGRAD:
            try:
                return importlib.import_module(child)
            except ImportError:
                pass
        raise AttributeError(missing_message(child))

    def __setattr__(self, name, value):
        if isinstance(value, AliasModule):
            return  # the import system noting a submodule: children are looked up, not stored
        if (name.startswith("__") and name.endswith("__")) or not self._tapegrad_targets:
            self.__dict__[name] = value
            return
        # ``torch.backends.cudnn.benchmark = True`` sets tapegrad's flag
        for target in self._tapegrad_targets:
            if hasattr(target, name):
                setattr(target, name, value)
                return
        setattr(self._tapegrad_targets[0], name, value)

    def __dir__(self):
        names = set(self.__dict__) - {"_tapegrad_targets"}
        for target in self._tapegrad_targets:
            names.update(dir(target))
        prefix = self.__name__ + "."
        names.update(path[len(prefix):] for path in TORCH_TO_TAPEGRAD
                     if path.startswith(prefix) and "." not in path[len(prefix):])
        return sorted(names)

    def __repr__(self):
        names = ", ".join(t.__name__ for t in self._tapegrad_targets) or "a namespace"
        return f"<module {self.__name__!r} (tapegrad's {names})>"


_ABSENT = object()


def _import_targets(torch_name):
    """The tapegrad modules behind ``torch_name``; the ones not there (yet) are skipped."""
    # ImportError, not ModuleNotFoundError: ``from torchvision import models`` would turn the
    # latter into Python's own "cannot import name" and lose the message
    if torch_name not in TORCH_TO_TAPEGRAD:
        raise ImportError(missing_message(torch_name), name=torch_name)
    paths = TORCH_TO_TAPEGRAD[torch_name]
    targets = []
    for path in paths:
        try:
            targets.append(importlib.import_module(path))
        except ModuleNotFoundError as error:
            # only "this tapegrad module does not exist"; a broken import inside it is a bug
            # that must show
            if error.name is None or not (path == error.name or path.startswith(error.name + ".")):
                raise
    if paths and not targets:
        raise ImportError(missing_message(torch_name), name=torch_name)
    return targets


class TorchFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds and loads every torch path as an AliasModule."""

    def find_spec(self, fullname, path=None, target=None):
        if not is_torch_path(fullname):
            return None
        return importlib.machinery.ModuleSpec(fullname, self, is_package=True)

    def create_module(self, spec):
        return AliasModule(spec.name, _import_targets(spec.name))

    def exec_module(self, module):
        pass  # the alias has nothing to run: its names are read from tapegrad on demand


FINDER = TorchFinder()


def installed():
    return FINDER in sys.meta_path


def install_hook():
    """Put the finder first on ``sys.meta_path`` (once); refuse if a real torch is loaded."""
    if installed():
        return
    loaded = sorted(name for name, module in sys.modules.items()
                    if is_torch_path(name) and not isinstance(module, AliasModule))
    if loaded:
        raise RuntimeError(
            f"a real PyTorch is already imported in this process ({', '.join(loaded[:3])}); "
            f"tapegrad.as_torch.install() must run before anything imports torch")
    sys.meta_path.insert(0, FINDER)


def uninstall_hook():
    """Take the finder off and forget every alias module (for tests and notebooks)."""
    if FINDER in sys.meta_path:
        sys.meta_path.remove(FINDER)
    for name in [n for n, m in sys.modules.items() if isinstance(m, AliasModule)]:
        del sys.modules[name]
