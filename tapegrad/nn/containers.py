"""Containers: modules that hold other modules.

* ``Sequential``: children called in order, each on the previous one's output;
* ``ModuleList``: a list of children (you write the forward that uses them);
* ``ModuleDict``: a dict of children.

They keep their children in ``_modules`` like any Module, under the names "0", "1", …
(or the dict's keys), so ``named_parameters()`` and ``state_dict()`` give PyTorch's
names such as ``features.0.weight``.
"""
from collections import OrderedDict
from collections.abc import Iterable, Mapping
import operator

from .module import Module, _addindent


def _check_module(module, container, what="append"):
    if not isinstance(module, Module):
        raise TypeError(f"{container}.{what}: expected a Module, got {type(module).__name__}")


def _absolute_index(index, length, container):
    """``index`` (an int, possibly negative) as a position in [0, length)."""
    try:
        index = operator.index(index)
    except TypeError:
        raise TypeError(f"{container} indices must be integers or slices, got "
                        f"{type(index).__name__}") from None
    if not -length <= index < length:
        raise IndexError(f"index {index} is out of range for a {container} of length {length}")
    return index % length


class Sequential(Module):
    """``Sequential(*modules)`` or ``Sequential(OrderedDict(name=module, ...))``:
    ``forward(x)`` is ``x`` passed through each module in turn."""

    def __init__(self, *args):
        super().__init__()
        if len(args) == 1 and isinstance(args[0], OrderedDict):
            for name, module in args[0].items():
                self.add_module(name, module)
        else:
            for index, module in enumerate(args):
                _check_module(module, "Sequential", "__init__")
                self.add_module(str(index), module)

    def forward(self, input):
        for module in self._modules.values():
            input = module(input)
        return input

    def _key(self, index):
        keys = list(self._modules)
        return keys[_absolute_index(index, len(keys), "Sequential")]

    def __getitem__(self, index):
        if isinstance(index, slice):   # keeps the children's names, as PyTorch does
            return type(self)(OrderedDict(list(self._modules.items())[index]))
        return self._modules[self._key(index)]

    def __setitem__(self, index, module):
        _check_module(module, "Sequential", "__setitem__")
        setattr(self, self._key(index), module)

    def __delitem__(self, index):
        keys = list(self._modules)
        doomed = keys[index] if isinstance(index, slice) else [self._key(index)]
        for key in doomed:
            delattr(self, key)
        # Renumber, so the names stay 0, 1, 2, … (as PyTorch does).
        self.__dict__["_modules"] = {str(i): m for i, m in enumerate(self._modules.values())}

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __add__(self, other):
        if not isinstance(other, Sequential):
            raise TypeError(f"can only add a Sequential to a Sequential, got "
                            f"{type(other).__name__}")
        return Sequential(*self, *other)

    def append(self, module):
        _check_module(module, "Sequential")
        self.add_module(str(len(self)), module)
        return self

    def insert(self, index, module):
        _check_module(module, "Sequential", "insert")
        n = len(self._modules)
        if not -n <= index <= n:
            raise IndexError(f"Sequential.insert: index {index} is out of range for length {n}")
        if index < 0:
            index += n
        for i in range(n, index, -1):
            self._modules[str(i)] = self._modules[str(i - 1)]
        self._modules[str(index)] = module
        return self

    def extend(self, modules):
        for module in modules:
            self.append(module)
        return self

    def pop(self, index=-1):
        module = self[index]
        del self[index]
        return module


class ModuleList(Module):
    """``ModuleList(modules=None)``: a list of modules, registered so their parameters count."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def _key(self, index):
        return str(_absolute_index(index, len(self._modules), "ModuleList"))

    def __getitem__(self, index):
        if isinstance(index, slice):
            return type(self)(list(self._modules.values())[index])
        return self._modules[self._key(index)]

    def __setitem__(self, index, module):
        _check_module(module, "ModuleList", "__setitem__")
        setattr(self, self._key(index), module)

    def __delitem__(self, index):
        if isinstance(index, slice):
            for key in list(self._modules)[index]:
                delattr(self, key)
        else:
            delattr(self, self._key(index))
        self.__dict__["_modules"] = {str(i): m for i, m in enumerate(self._modules.values())}

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __iadd__(self, modules):
        return self.extend(modules)

    def __add__(self, other):
        if not isinstance(other, Iterable):
            raise TypeError(f"can only add an iterable of modules to a ModuleList, got "
                            f"{type(other).__name__}")
        return ModuleList(list(self) + list(other))

    def append(self, module):
        _check_module(module, "ModuleList")
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules):
        if not isinstance(modules, Iterable):
            raise TypeError(f"ModuleList.extend should be called with an iterable of modules, "
                            f"got {type(modules).__name__}")
        for module in modules:
            self.append(module)
        return self

    def insert(self, index, module):
        _check_module(module, "ModuleList", "insert")
        n = len(self._modules)
        index = max(0, min(n, index + n if index < 0 else index))   # as list.insert clips
        for i in range(n, index, -1):
            self._modules[str(i)] = self._modules[str(i - 1)]
        self._modules[str(index)] = module

    def pop(self, index=-1):
        module = self[index]
        del self[index]
        return module

    def index(self, module):
        """The position of ``module`` (the same object) in the list."""
        for i, m in enumerate(self._modules.values()):
            if m is module:
                return i
        raise ValueError(f"{module._get_name() if isinstance(module, Module) else module!r} "
                         f"is not in the ModuleList")

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ModuleList has no forward: iterate over it in your own "
                                  "module's forward (or use Sequential)")

    def __repr__(self):
        """Runs of identical children are printed once: ``(0-2): 3 x Linear(...)``."""
        reprs = [repr(m) for m in self]
        if not reprs:
            return self._get_name() + "()"
        blocks = []   # [first index, last index, repr]
        for i, text in enumerate(reprs):
            if blocks and blocks[-1][2] == text:
                blocks[-1][1] = i
            else:
                blocks.append([i, i, text])
        lines = []
        for start, end, text in blocks:
            line = (f"({start}): {text}" if start == end
                    else f"({start}-{end}): {end - start + 1} x {text}")
            lines.append(_addindent(line, 2))
        return self._get_name() + "(\n  " + "\n  ".join(lines) + "\n)"


class ModuleDict(Module):
    """``ModuleDict(modules=None)``: a dict of modules (from a mapping or (key, module) pairs)."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key):
        return self._modules[key]

    def __setitem__(self, key, module):
        self.add_module(key, module)

    def __delitem__(self, key):
        del self._modules[key]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def __contains__(self, key):
        return key in self._modules

    def clear(self):
        self._modules.clear()

    def pop(self, key):
        module = self[key]
        del self[key]
        return module

    def keys(self):
        return self._modules.keys()

    def items(self):
        return self._modules.items()

    def values(self):
        return self._modules.values()

    def update(self, modules):
        if isinstance(modules, (Mapping, ModuleDict)):
            for key, module in modules.items():
                self[key] = module
            return
        if not isinstance(modules, Iterable):
            raise TypeError(f"ModuleDict.update should be called with a mapping or an iterable "
                            f"of (key, module) pairs, got {type(modules).__name__}")
        for i, pair in enumerate(modules):
            if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                raise ValueError(f"ModuleDict.update: element #{i} should be a (key, module) "
                                 f"pair, got {pair!r}")
            self[pair[0]] = pair[1]

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ModuleDict has no forward: look modules up in your own "
                                  "module's forward")


__all__ = ["Sequential", "ModuleList", "ModuleDict"]
