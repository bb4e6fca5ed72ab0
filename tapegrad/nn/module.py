"""``Module``: the base class of every layer and model.

A Module is a tree. Each node holds three ordered tables, filled by plain attribute
assignment in ``__init__``:

* ``_parameters``: the Parameters it owns (``self.weight = Parameter(...)``);
* ``_buffers``: other tensors that belong to its state (``register_buffer``), such as
  BatchNorm's running mean, which ``to()`` moves and ``state_dict()`` saves;
* ``_modules``: its children (``self.fc = Linear(...)``).

Everything else follows from walking that tree depth-first in registration order:
``named_parameters()`` gives ``fc.weight``-style dotted names, ``state_dict()`` maps those
names to the values, ``load_state_dict()`` copies values back in place, ``to()`` moves
every parameter and buffer, ``train()`` flips ``training`` everywhere.

Calling a module (``model(x)``) runs ``forward`` between hooks: forward pre-hooks
may replace the inputs, forward hooks the output; full backward hooks see the
gradients with respect to the module's inputs and outputs, without the module
writing any backward (see ``_BackwardHook``).
"""
from collections import OrderedDict, namedtuple
from collections.abc import Mapping

from .. import backend, dtypes
from ..autograd import grad_mode, profiler
from ..autograd.function import Function
from ..autograd.tape import RemovableHandle
from ..autograd.tensor import Tensor
from .parameter import Parameter


def _typename(value):
    if isinstance(value, Parameter):
        return "Parameter"
    if isinstance(value, Tensor):
        return "Tensor"
    return type(value).__name__


def _addindent(text, spaces):
    """Indent every line but the first (how a child's repr nests inside its parent's)."""
    lines = text.split("\n")
    if len(lines) == 1:
        return text
    return lines[0] + "\n" + "\n".join(" " * spaces + line for line in lines[1:])


class _IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    """What ``load_state_dict`` returns: the keys it lacked and the keys it did not know."""

    def __repr__(self):
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()

    __str__ = __repr__


class Module:
    """Base class for all layers and models: subclass it, assign parts in ``__init__``,
    compute in ``forward``.

        class MLP(nn.Module):
            def __init__(self):
                super().__init__()
                self.hidden = nn.Linear(784, 128)
                self.out = nn.Linear(128, 10)

            def forward(self, x):
                return self.out(self.hidden(x).relu())
    """

    def __init__(self, *args, **kwargs):
        if args or kwargs:
            raise TypeError(f"{type(self).__name__}.__init__() got unexpected arguments: "
                            f"Module.__init__ takes none")
        # object.__setattr__: our own __setattr__ needs these tables to exist first.
        set_plain = object.__setattr__
        set_plain(self, "training", True)
        set_plain(self, "_parameters", {})
        set_plain(self, "_buffers", {})
        set_plain(self, "_non_persistent_buffers_set", set())
        set_plain(self, "_modules", {})
        set_plain(self, "_forward_pre_hooks", OrderedDict())
        set_plain(self, "_forward_pre_hooks_with_kwargs", set())
        set_plain(self, "_forward_hooks", OrderedDict())
        set_plain(self, "_forward_hooks_with_kwargs", set())
        set_plain(self, "_backward_hooks", OrderedDict())
        set_plain(self, "_backward_pre_hooks", OrderedDict())

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required '
                                  f'"forward" function')

    # -- registering parameters, buffers and children -----------------------------------------
    def _check_name(self, kind, name, table):
        if not isinstance(name, str):
            raise TypeError(f"{kind} name should be a string, got {_typename(name)}")
        if "." in name:
            raise KeyError(f"{kind} name can't contain \".\", got: {name}")
        if name == "":
            raise KeyError(f"{kind} name can't be empty string \"\"")
        if hasattr(self, name) and name not in table:
            raise KeyError(f"attribute '{name}' already exists")

    def register_parameter(self, name, param):
        """Add ``param`` (a Parameter, or None for an empty slot such as a missing bias)."""
        if "_parameters" not in self.__dict__:
            raise AttributeError("cannot assign parameter before Module.__init__() call")
        self._check_name("parameter", name, self._parameters)
        if param is not None:
            if not isinstance(param, Parameter):
                raise TypeError(f"cannot assign '{_typename(param)}' object to parameter "
                                f"'{name}' (tapegrad.nn.Parameter or None required)")
            if param.grad_fn is not None:
                raise ValueError(f"Cannot assign non-leaf Tensor to parameter '{name}'. Model "
                                 f"parameters must be created explicitly. To express '{name}' "
                                 f"as a function of another Tensor, compute the value in the "
                                 f"forward() method.")
        self._parameters[name] = param

    def register_buffer(self, name, tensor, persistent=True):
        """Add ``tensor`` (or None) as a buffer: state that is not a parameter but that
        ``to()`` moves and, when ``persistent``, ``state_dict()`` saves."""
        if "_buffers" not in self.__dict__:
            raise AttributeError("cannot assign buffer before Module.__init__() call")
        self._check_name("buffer", name, self._buffers)
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign '{_typename(tensor)}' object to buffer '{name}' "
                            f"(tapegrad Tensor or None required)")
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)

    def add_module(self, name, module):
        """Add ``module`` (or None) as the child ``name``; ``self.name = module`` does the same."""
        if "_modules" not in self.__dict__:
            raise AttributeError("cannot assign module before Module.__init__() call")
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{_typename(module)} is not a Module subclass")
        self._check_name("module", name, self._modules)
        self._modules[name] = module

    register_module = add_module

    def __setattr__(self, name, value):
        d = self.__dict__
        params, buffers, modules = d.get("_parameters"), d.get("_buffers"), d.get("_modules")
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError("cannot assign parameters before Module.__init__() call")
            self._forget(name, d, buffers, modules)
            self.register_parameter(name, value)
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(f"cannot assign '{_typename(value)}' as parameter '{name}' "
                                f"(tapegrad.nn.Parameter or None expected)")
            params[name] = None
        elif isinstance(value, Module):
            if modules is None:
                raise AttributeError("cannot assign module before Module.__init__() call")
            self._forget(name, d, params, buffers)
            modules[name] = value
        elif modules is not None and name in modules:
            if value is not None:
                raise TypeError(f"cannot assign '{_typename(value)}' as child module '{name}' "
                                f"(tapegrad.nn.Module or None expected)")
            modules[name] = None
        elif buffers is not None and name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign '{_typename(value)}' as buffer '{name}' "
                                f"(tapegrad Tensor or None expected)")
            buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def _forget(self, name, *tables):
        for table in tables:
            if table is not None and name in table:
                del table[name]
        self.__dict__["_non_persistent_buffers_set"].discard(name)

    def __getattr__(self, name):
        # Called only when normal lookup fails: the registered members live in the tables.
        d = self.__dict__
        for table in ("_parameters", "_buffers", "_modules"):
            members = d.get(table)
            if members is not None and name in members:
                return members[name]
        if "_parameters" not in d:
            raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}': "
                                 f"{type(self).__name__}.__init__ must call super().__init__() "
                                 f"before the module is used")
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        for table in (self._parameters, self._buffers, self._modules):
            if name in table:
                del table[name]
                self._non_persistent_buffers_set.discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self):
        keys = (dir(type(self)) + list(self.__dict__) + list(self._parameters)
                + list(self._modules) + list(self._buffers))
        return sorted(key for key in set(keys) if not key[0].isdigit())

    def get_submodule(self, target):
        """The module at the dotted path ``target`` ("" is self), e.g. ``"features.0"``."""
        module = self
        if target == "":
            return module
        for item in target.split("."):
            if item not in module._modules:
                raise AttributeError(f"{module._get_name()} has no submodule `{item}` "
                                     f"(looking for `{target}`)")
            module = module._modules[item]
            if module is None:
                raise AttributeError(f"`{item}` is None, not an nn.Module (looking for "
                                     f"`{target}`)")
        return module

    def get_parameter(self, target):
        module_path, _, name = target.rpartition(".")
        module = self.get_submodule(module_path)
        if name not in module._parameters:
            raise AttributeError(f"{module._get_name()} has no parameter `{name}`")
        return module._parameters[name]

    def get_buffer(self, target):
        module_path, _, name = target.rpartition(".")
        module = self.get_submodule(module_path)
        if name not in module._buffers:
            raise AttributeError(f"{module._get_name()} has no buffer `{name}`")
        return module._buffers[name]

    # -- walking the tree ------------------------------------------------------------------------
    def named_modules(self, memo=None, prefix="", remove_duplicate=True):
        """(dotted name, module) for this module and every module below it, depth-first;
        a module reachable twice is given once unless ``remove_duplicate=False``."""
        if memo is None:
            memo = set()
        if self in memo:
            return
        if remove_duplicate:
            memo.add(self)
        yield prefix, self
        for name, module in self._modules.items():
            if module is None:
                continue
            yield from module.named_modules(memo, prefix + ("." if prefix else "") + name,
                                            remove_duplicate)

    def modules(self):
        for _, module in self.named_modules():
            yield module

    def named_children(self):
        memo = set()
        for name, module in self._modules.items():
            if module is not None and module not in memo:
                memo.add(module)
                yield name, module

    def children(self):
        for _, module in self.named_children():
            yield module

    def _named_members(self, table, prefix, recurse, remove_duplicate):
        seen = set()  # ids: tensors compare elementwise, so never put them in a set themselves
        modules = (self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate)
                   if recurse else [(prefix, self)])
        for module_prefix, module in modules:
            for name, value in getattr(module, table).items():
                if value is None or id(value) in seen:
                    continue
                if remove_duplicate:
                    seen.add(id(value))
                yield module_prefix + ("." if module_prefix else "") + name, value

    def named_parameters(self, prefix="", recurse=True, remove_duplicate=True):
        """(dotted name, parameter) in registration order, depth-first; a parameter shared
        by two modules is given once (under its first name) unless ``remove_duplicate=False``."""
        yield from self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse=True):
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(self, prefix="", recurse=True, remove_duplicate=True):
        yield from self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse=True):
        for _, buffer in self.named_buffers(recurse=recurse):
            yield buffer

    def apply(self, fn):
        """Call ``fn(module)`` on every child (recursively), then on self; returns self.
        Typical use: ``model.apply(init_weights)``."""
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    # -- state_dict ------------------------------------------------------------------------------
    def state_dict(self, *, destination=None, prefix="", keep_vars=False):
        """An ordered {dotted name: tensor} of every parameter and persistent buffer.

        Values are detached tensors sharing memory with the module (``keep_vars=True``
        gives the Parameters themselves); save it with ``tapegrad.save``.
        """
        if destination is None:
            destination = OrderedDict()
        for name, param in self._parameters.items():
            if param is not None:
                destination[prefix + name] = param if keep_vars else param.detach()
        for name, buffer in self._buffers.items():
            if buffer is not None and name not in self._non_persistent_buffers_set:
                destination[prefix + name] = buffer if keep_vars else buffer.detach()
        for name, module in self._modules.items():
            if module is not None:
                module.state_dict(destination=destination, prefix=prefix + name + ".",
                                  keep_vars=keep_vars)
        return destination

    def load_state_dict(self, state_dict, strict=True):
        """Copy the values of ``state_dict`` into this module's parameters and buffers, in place.

        Values may be tensors or numpy arrays (a PyTorch state_dict converted with
        ``{k: v.numpy() for k, v in sd.items()}`` loads). Everything is checked first: a
        shape mismatch, or with ``strict`` a missing or unexpected key, raises one
        RuntimeError naming every problem, and nothing is changed. Returns
        ``(missing_keys, unexpected_keys)``.
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"load_state_dict() expects a dict-like state_dict, got "
                            f"{type(state_dict).__name__}")
        own = self.state_dict(keep_vars=True)
        missing = [key for key in own if key not in state_dict]
        unexpected = [key for key in state_dict if key not in own]
        errors, copies = [], []
        for key, target in own.items():
            if key not in state_dict:
                continue
            array = _as_array(state_dict[key], key)
            if tuple(array.shape) != tuple(target.array.shape):
                errors.append(f"size mismatch for {key}: copying a param with shape "
                              f"{tuple(array.shape)}, the shape in current model is "
                              f"{tuple(target.array.shape)}.")
            else:
                copies.append((target, array))
        if strict:
            if unexpected:
                errors.insert(0, "Unexpected key(s) in state_dict: "
                              + ", ".join(f'"{k}"' for k in unexpected) + ".")
            if missing:
                errors.insert(0, "Missing key(s) in state_dict: "
                              + ", ".join(f'"{k}"' for k in missing) + ".")
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {self._get_name()}:\n\t"
                               + "\n\t".join(errors))
        for target, array in copies:
            # In place, so the module's Parameter objects (and any optimizer holding them)
            # stay the same; the assignment casts to the parameter's dtype.
            target.array[...] = backend.to_device(array, target.device)
            target._version_counter.bump("load_state_dict")
        return _IncompatibleKeys(missing, unexpected)

    # -- modes -----------------------------------------------------------------------------------
    def train(self, mode=True):
        """Set ``training`` on this module and every module below it; returns self."""
        if not isinstance(mode, bool):
            raise ValueError(f"training mode is expected to be boolean, got {mode!r}")
        self.training = mode
        for module in self.children():
            module.train(mode)
        return self

    def eval(self):
        """``train(False)``: dropout off, batch norm uses its running statistics."""
        return self.train(False)

    def requires_grad_(self, requires_grad=True):
        """Make every parameter require grad (or stop, to freeze the module); returns self."""
        for param in self.parameters():
            param.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none=True):
        """Forget the parameters' gradients: ``.grad = None`` (or zeros, with set_to_none=False)."""
        for param in self.parameters():
            grad = param._grad
            if grad is None:
                continue
            if set_to_none:
                param._grad = None
            else:
                if grad.requires_grad:      # made by a create_graph backward: cut it off
                    grad = param._grad = grad.detach()
                grad.array.fill(0)
                grad._version_counter.bump("zero_grad")

    # -- moving between devices and dtypes, in place -------------------------------------------
    def _apply(self, fn):
        """Replace the values of every parameter, buffer and gradient by ``fn(tensor)``, keeping
        the tensor objects themselves (so optimizers and other references stay valid)."""
        done = set()
        with grad_mode.no_grad():
            for module in self.modules():
                for table in (module._parameters, module._buffers):
                    for t in table.values():
                        if t is None or id(t) in done:
                            continue
                        done.add(id(t))
                        _replace_values(t, fn(t.detach()))
                        if t._grad is not None:
                            _replace_values(t._grad, fn(t._grad.detach()))
        return self

    def share_memory(self):
        """Move every parameter, buffer and gradient into shared memory (for hogwild training
        with ``tapegrad.multiprocessing``); returns self."""
        return self._apply(lambda t: t.share_memory_())

    def to(self, *args, **kwargs):
        """``to(device)``, ``to(dtype)``, ``to(device, dtype)``, ``to(tensor)``: moves and casts
        parameters and buffers in place (floating dtypes only are cast); returns self."""
        device, dtype = _parse_to(args, kwargs)
        if dtype is not None and not dtype.is_floating_point:
            raise TypeError(f"nn.Module.to only accepts floating point dtypes, but got desired "
                            f"dtype={dtype}")

        def convert(t):
            if device is not None:
                t = t.to(device)
            if dtype is not None and t.dtype.is_floating_point:
                t = t.to(dtype)
            return t
        return self._apply(convert)

    def cuda(self, device=None):
        return self.to(device if isinstance(device, (str, backend.device))
                       else "cuda" if device is None else f"cuda:{device}")

    def cpu(self):
        return self.to("cpu")

    def float(self):
        return self.to(dtypes.float32)

    def double(self):
        return self.to(dtypes.float64)

    def half(self):
        return self.to(dtypes.float16)

    # -- calling, with hooks -------------------------------------------------------------------
    def __call__(self, *args, **kwargs):
        if profiler.active is not None:   # the time since the last operation was not a layer's
            profiler.mark(profiler.BETWEEN_OPERATIONS)
        if not (self._forward_pre_hooks or self._forward_hooks or self._backward_hooks
                or self._backward_pre_hooks):
            return self.forward(*args, **kwargs)   # the common case: no hooks at all
        return self._call_with_hooks(args, kwargs)

    def _call_with_hooks(self, args, kwargs):
        for hook_id, hook in list(self._forward_pre_hooks.items()):
            if hook_id in self._forward_pre_hooks_with_kwargs:
                result = hook(self, args, kwargs)
                if result is not None:
                    if not (isinstance(result, tuple) and len(result) == 2):
                        raise RuntimeError(f"forward pre-hook must return None or a tuple of "
                                           f"(new_args, new_kwargs), but got {result!r}")
                    args, kwargs = result
            else:
                result = hook(self, args)
                if result is not None:
                    args = result if isinstance(result, tuple) else (result,)
        backward_hook = None
        if (self._backward_hooks or self._backward_pre_hooks) and grad_mode.is_grad_enabled():
            backward_hook = _BackwardHook(self)
            args = backward_hook.wrap_inputs(args)
        output = self.forward(*args, **kwargs)
        for hook_id, hook in list(self._forward_hooks.items()):
            if hook_id in self._forward_hooks_with_kwargs:
                result = hook(self, args, kwargs, output)
            else:
                result = hook(self, args, output)
            if result is not None:
                output = result
        if backward_hook is not None:
            output = backward_hook.wrap_outputs(output)
        return output

    @staticmethod
    def _add_hook(hooks, hook, prepend):
        handle = RemovableHandle(hooks)
        hooks[handle.id] = hook
        if prepend:
            hooks.move_to_end(handle.id, last=False)
        return handle

    def register_forward_pre_hook(self, hook, *, prepend=False, with_kwargs=False):
        """``hook(module, args)`` runs before forward; it may return new args (a tuple, or
        a single value). With ``with_kwargs``: ``hook(module, args, kwargs)`` returning None
        or ``(args, kwargs)``. Returns a handle whose ``remove()`` takes the hook away."""
        handle = self._add_hook(self._forward_pre_hooks, hook, prepend)
        if with_kwargs:
            self._forward_pre_hooks_with_kwargs.add(handle.id)
        return handle

    def register_forward_hook(self, hook, *, prepend=False, with_kwargs=False):
        """``hook(module, args, output)`` runs after forward; a returned value replaces the
        output. With ``with_kwargs``: ``hook(module, args, kwargs, output)``."""
        handle = self._add_hook(self._forward_hooks, hook, prepend)
        if with_kwargs:
            self._forward_hooks_with_kwargs.add(handle.id)
        return handle

    def register_full_backward_pre_hook(self, hook, prepend=False):
        """``hook(module, grad_output)`` runs when the gradients w.r.t. the module's outputs
        are known; it may return a replacement tuple for ``grad_output``."""
        return self._add_hook(self._backward_pre_hooks, hook, prepend)

    def register_full_backward_hook(self, hook, prepend=False):
        """``hook(module, grad_input, grad_output)`` runs when the gradients w.r.t. the
        module's positional tensor inputs are known (one entry per positional argument,
        None where there is none); it may return a replacement tuple for ``grad_input``."""
        return self._add_hook(self._backward_hooks, hook, prepend)

    # -- printing ---------------------------------------------------------------------------------
    def _get_name(self):
        return type(self).__name__

    def extra_repr(self):
        """The text inside this module's parentheses in its repr (layers override it)."""
        return ""

    def __repr__(self):
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({name}): " + _addindent(repr(module), 2)
                       for name, module in self._modules.items()]
        lines = extra_lines + child_lines
        text = self._get_name() + "("
        if lines:
            if len(extra_lines) == 1 and not child_lines:
                text += extra_lines[0]
            else:
                text += "\n  " + "\n  ".join(lines) + "\n"
        return text + ")"


# -- helpers of to() and load_state_dict() --------------------------------------------------------
def _parse_to(args, kwargs):
    """(device or None, dtype or None) from the arguments PyTorch's ``to`` accepts."""
    device, dtype = kwargs.pop("device", None), kwargs.pop("dtype", None)
    kwargs.pop("non_blocking", None)
    if kwargs:
        raise TypeError(f"to() got unexpected keyword arguments {sorted(kwargs)}")
    for arg in args:
        if isinstance(arg, Tensor):
            device, dtype = arg.device, arg.dtype
        elif isinstance(arg, (str, backend.device)):
            device = arg
        elif isinstance(arg, dtypes.dtype):
            dtype = arg
        else:
            raise TypeError(f"to() expects a device, a dtype or a tensor, got {arg!r}")
    return (None if device is None else backend.as_device(device)), dtypes.as_dtype(dtype)


def _replace_values(t, new):
    """Make tensor ``t`` hold ``new``'s values (on ``new``'s device, in its dtype)."""
    if new.array is t.array:
        return
    t.array = new.array
    t.device = new.device
    t._accumulator = None  # its AccumulateGrad node recorded the old dtype and device


def _as_array(value, key):
    """A state_dict value as a backend array: a tensor's own array, or a numpy(-like) array."""
    if isinstance(value, Tensor):
        return value.array
    if backend.is_array(value):
        return value
    if hasattr(value, "__array__") and hasattr(value, "shape"):   # e.g. a torch tensor
        return backend.to_numpy(value)
    raise TypeError(f"load_state_dict: the value of \"{key}\" is a {type(value).__name__}; "
                    f"expected a tensor or a numpy array")


# -- full backward hooks, built from two identity Functions ----------------------------------------
class _Identity(Function):
    """Passes tensors through unchanged; its backward hands their gradients to a callback.

    A module with backward hooks sends its inputs through one of these before forward and
    its outputs through another after: the backward of the second sees grad_output, the
    backward of the first grad_input. No gradient formula is written anywhere.
    """

    @staticmethod
    def forward(ctx, on_backward, *tensors):
        ctx.on_backward = on_backward
        ctx.set_materialize_grads(False)   # a gradient that never arrives stays None
        return tensors

    @staticmethod
    def backward(ctx, *grads):
        return (None,) + tuple(ctx.on_backward(grads))


def _tensor_positions(values):
    return [i for i, v in enumerate(values) if isinstance(v, Tensor) and v.requires_grad]


class _BackwardHook:
    """The state of one call of a module with backward hooks."""

    def __init__(self, module):
        self.module = module
        self.n_inputs = self.n_outputs = 0
        self.input_positions, self.output_positions = [], []   # of the tensors requiring grad
        self.grad_outputs = None   # set by the output side of backward, read by the input side

    def wrap_inputs(self, args):
        self.n_inputs = len(args)
        self.input_positions = _tensor_positions(args)
        if not self.input_positions:
            return args
        wrapped = _Identity.apply(self._on_grad_inputs, *(args[i] for i in self.input_positions))
        args = list(args)
        for i, t in zip(self.input_positions, wrapped):
            args[i] = t
        return tuple(args)

    def wrap_outputs(self, output):
        single = not isinstance(output, tuple)
        outputs = (output,) if single else output
        self.n_outputs = len(outputs)
        self.output_positions = _tensor_positions(outputs)
        if not self.output_positions:
            return output
        wrapped = _Identity.apply(self._on_grad_outputs,
                                  *(outputs[i] for i in self.output_positions))
        outputs = list(outputs)
        for i, t in zip(self.output_positions, wrapped):
            outputs[i] = t
        return outputs[0] if single else tuple(outputs)

    @staticmethod
    def _packed(positions, grads, n):
        full = [None] * n
        for i, g in zip(positions, grads):
            full[i] = g
        return tuple(full)

    @staticmethod
    def _replacement(result, expected, what):
        if result is None:
            return None
        result = tuple(result) if isinstance(result, (tuple, list)) else (result,)
        if len(result) != expected:
            raise RuntimeError(f"backward hook returned an invalid number of {what}, got "
                               f"{len(result)}, but expected {expected}")
        return result

    def _on_grad_outputs(self, grads):
        module = self.module
        grad_output = self._packed(self.output_positions, grads, self.n_outputs)
        for hook in list(module._backward_pre_hooks.values()):
            grad_output = (self._replacement(hook(module, grad_output), self.n_outputs,
                                             "grad_output") or grad_output)
        self.grad_outputs = grad_output
        if not self.input_positions:
            # No input needs a gradient, so the input side never runs: call the hooks now.
            grad_input = (None,) * self.n_inputs
            for hook in list(module._backward_hooks.values()):
                result = hook(module, grad_input, grad_output)
                if result is not None and any(r is not None for r in result):
                    raise RuntimeError("backward hook for a module where no input requires "
                                       "gradient should always return None or None for all "
                                       "gradients")
            self.grad_outputs = None
        return [grad_output[i] for i in self.output_positions]

    def _on_grad_inputs(self, grads):
        module = self.module
        grad_input = self._packed(self.input_positions, grads, self.n_inputs)
        grad_output = self.grad_outputs
        if grad_output is None:   # reached without passing through the outputs
            grad_output = (None,) * self.n_outputs
        for hook in list(module._backward_hooks.values()):
            grad_input = (self._replacement(hook(module, grad_input, grad_output),
                                            self.n_inputs, "grad_input") or grad_input)
        self.grad_outputs = None
        return [grad_input[i] for i in self.input_positions]


__all__ = ["Module"]
