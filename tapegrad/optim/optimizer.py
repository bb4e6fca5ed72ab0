"""The Optimizer base class: parameter groups, per-parameter state, zero_grad, step, state_dict.

An optimizer holds its parameters in *groups*. A group is a dict with its "params" and its
own options ("lr", "momentum", …); options a group leaves out come from the optimizer's
``defaults``. So one optimizer can train the body of a network with a small learning rate
and its head with a large one::

    SGD([{"params": body.parameters()}, {"params": head.parameters(), "lr": 0.1}], lr=0.01)

``state[p]`` holds what the update rule remembers about parameter ``p`` between steps
(moving averages, its step count). Each optimizer writes one method,
``_update(p, grad, state, group)``, which changes ``p.array`` in place with array
operations on p's device. That happens outside the tape, so nothing is recorded. ``step()``
calls it for every parameter that has a gradient, then bumps the parameter's version
counter: a graph that saved the old value then refuses to run backward with it.

``state_dict()`` names parameters by their position (0, 1, 2 … in the order of
``param_groups``) instead of holding the tensors, as PyTorch does, so a checkpoint can be
loaded into a fresh optimizer over fresh parameters; resuming gives the same trajectory as
never stopping.
"""
import itertools
import warnings
from collections import defaultdict

from .. import backend
from ..autograd import profiler
from ..autograd.grad_mode import enable_grad
from ..autograd.tensor import Tensor, wrap


class _RequiredParameter:
    """The default of an option that every parameter group must give itself."""

    def __repr__(self):
        return "<required parameter>"


required = _RequiredParameter()

# Error messages say "Invalid <what>: <name>=<value>", beginning with PyTorch's words.
_WHAT = {"lr": "learning rate", "eps": "epsilon value", "momentum": "momentum value",
         "weight_decay": "weight_decay value", "lr_decay": "lr_decay value",
         "initial_accumulator_value": "initial_accumulator_value value",
         "momentum_decay": "momentum_decay value", "alpha": "alpha value", "rho": "rho value"}


def _is_number_in(value, name, low, high=None, high_inclusive=False):
    try:
        if high is None:
            return low <= value
        return low <= value <= high if high_inclusive else low <= value < high
    except TypeError:
        raise TypeError(f"the option {name} must be a number, got {type(value).__name__}") from None


def check_non_negative(options, *names):
    """Raise ValueError naming the option and its value unless each option is >= 0."""
    for name in names:
        value = options[name]
        if value is not required and not _is_number_in(value, name, 0.0):
            raise ValueError(f"Invalid {_WHAT[name]}: {name}={value} (it must be >= 0)")


def check_unit_interval(options, name):
    """Raise ValueError unless the option lies in [0, 1]."""
    value = options[name]
    if not _is_number_in(value, name, 0.0, 1.0, high_inclusive=True):
        raise ValueError(f"Invalid {_WHAT[name]}: {name}={value} (it must be in [0, 1])")


def check_betas(options):
    """Raise ValueError unless betas is a pair (beta1, beta2) with each in [0, 1)."""
    betas = options["betas"]
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise ValueError(f"Invalid betas: expected a pair (beta1, beta2), got {betas!r}")
    for i, beta in enumerate(betas):
        if not _is_number_in(beta, f"betas[{i}]", 0.0, 1.0):
            raise ValueError(f"Invalid beta parameter at index {i}: betas[{i}]={beta} "
                             f"(it must be in [0, 1))")


def _ordered_params(params, where):
    """``params`` as a list of tensors, refusing what has no reliable order."""
    if isinstance(params, Tensor):
        return [params]
    if isinstance(params, (set, frozenset)):
        raise TypeError(f"{where}: optimizer parameters need to be organized in ordered "
                        f"collections, but the ordering of tensors in sets changes between runs "
                        f"(and a state_dict refers to parameters by position). Use a list")
    try:
        return list(params)
    except TypeError:
        raise TypeError(f"{where}: params should be an iterable of Tensors, got "
                        f"{type(params).__name__}") from None


class Optimizer:
    """Base class of the optimizers: holds param_groups, defaults and state; see the module doc."""

    # State entries that are plain numbers rather than tensors shaped like the parameter.
    _scalar_state = ("step",)

    def __init__(self, params, defaults):
        self._check_options(defaults)
        self.defaults = defaults
        self.state = defaultdict(dict)
        self.param_groups = []
        self._step_count = 0  # read by the lr schedulers, to warn when they step first
        self._work = {}  # scratch arrays reused across steps, see _scratch

        if isinstance(params, Tensor):
            raise TypeError(f"params argument given to the optimizer should be an iterable of "
                            f"Tensors or dicts, but got a single Tensor of shape "
                            f"{tuple(params.shape)}; pass a list such as [tensor], or "
                            f"model.parameters()")
        if isinstance(params, dict):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            "Tensors or dicts, but got a single dict; pass a list of parameter "
                            "groups such as [{'params': ...}]")
        param_groups = _ordered_params(params, type(self).__name__)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(group)

    def _check_options(self, options):
        """Raise ValueError for an invalid option value; each optimizer lists its checks."""

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {key}: {group[key]}" for key in sorted(group) if key != "params"]
        return "\n".join(lines + [")"])

    # -- parameter groups --------------------------------------------------------------------
    def add_param_group(self, param_group):
        """Add a group of parameters with its own options (e.g. a new head when fine-tuning)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        if "params" not in param_group:
            raise ValueError(f"param_group must have a 'params' entry; it has only "
                             f"{sorted(param_group)}")
        params = _ordered_params(param_group["params"], "add_param_group")
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, but one of the params "
                                f"is {type(p).__name__}")
            if p.grad_fn is not None and not p.retains_grad:
                raise ValueError(f"can't optimize a non-leaf Tensor (shape {tuple(p.shape)}, "
                                 f"made by '{p.grad_fn.op}'); optimize the leaf tensors it was "
                                 f"computed from, or use .detach().requires_grad_()")
        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError(f"parameter group didn't specify a value of required "
                                 f"optimization parameter {name}")
        options = {**self.defaults, **param_group}
        self._check_options(options)
        if len({id(p) for p in params}) != len(params):
            warnings.warn("optimizer contains a parameter group with duplicate parameters; "
                          "each would be updated twice per step", UserWarning, stacklevel=2)
        group_of = {id(p): i for i, group in enumerate(self.param_groups) for p in group["params"]}
        for p in params:
            if id(p) in group_of:
                raise ValueError(f"some parameters appear in more than one parameter group: a "
                                 f"tensor of shape {tuple(p.shape)} is already in group "
                                 f"{group_of[id(p)]}")

        # Checked; now change things. (PyTorch fills in the caller's dict too.)
        param_group["params"] = params
        for name, default in self.defaults.items():
            param_group.setdefault(name, default)
        self.param_groups.append(param_group)

    # -- the training-loop calls -------------------------------------------------------------
    def zero_grad(self, set_to_none=True):
        """Forget the gradients: ``p.grad = None`` (default), or fill them with zeros in place."""
        for group in self.param_groups:
            for p in group["params"]:
                grad = p.grad
                if grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                elif grad.grad_fn is not None or grad._requires_grad:
                    # a gradient made with create_graph=True is part of a graph: don't write
                    # into it, start a fresh one
                    p.grad = wrap(grad.device.xp.zeros_like(grad.array), grad.device)
                else:
                    grad.array.fill(0)
                    grad._version_counter.bump("zero_grad")
        profiler.mark(f"{type(self).__name__}.zero_grad")

    def step(self, closure=None):
        """Update every parameter that has a gradient; returns ``closure()`` if one is given.

        ``closure`` is a function that recomputes the loss and its gradients (zero_grad,
        forward, backward) and returns the loss; it runs with gradients enabled even if step
        is called inside ``no_grad()``.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        self._step_count += 1
        op_name = f"{type(self).__name__}.step"
        for group in self.param_groups:
            for p in group["params"]:
                grad = p.grad
                if grad is None:
                    continue
                state = self.state.get(p, {})
                self._update(p, grad.array, state, group)
                if state:  # a rule that remembers nothing (plain SGD) keeps no entry
                    self.state[p] = state
                p._version_counter.bump(op_name)
        profiler.mark(op_name)
        return loss

    def _update(self, p, grad, state, group):
        """Change ``p.array`` in place by the update rule; ``grad`` is p's gradient array."""
        raise NotImplementedError(f"{type(self).__name__} does not define its update rule "
                                  f"(_update)")

    # -- helpers for the update rules --------------------------------------------------------
    def _buffer(self, p, state, name, fill=0.0):
        """``state[name]``'s array: a tensor shaped like p, made on first use filled with ``fill``."""
        buffer = state.get(name)
        if buffer is None:
            array = p.device.xp.full(p.array.shape, fill, dtype=p.array.dtype)
            buffer = state[name] = wrap(array, p.device)
        return buffer.array

    def _scratch(self, p, slot):
        """A work array shaped like p, reused by every step (and by all parameters of p's shape).

        Allocating fresh temporaries every step costs page faults for large parameters; the
        update rules write into these instead (``xp.multiply(g, g, out=work)``). Different
        ``slot`` numbers give different arrays, for rules that need several at once.
        """
        key = (p.array.shape, p.array.dtype.str, str(p.device), slot)
        work = self._work.get(key)
        if work is None:
            work = self._work[key] = p.device.xp.empty(p.array.shape, dtype=p.array.dtype)
        return work

    def _gradient(self, p, grad, maximize, weight_decay):
        """g = ±grad + weight_decay·p: the gradient the rule follows (the sign flipped for
        ``maximize``, plus the L2 penalty's gradient). Returns ``grad`` itself when nothing
        changes, so the result must only be read, never written."""
        if not maximize and weight_decay == 0:
            return grad
        xp = p.device.xp
        g = self._scratch(p, 0)
        if weight_decay == 0:
            return xp.negative(grad, out=g)
        xp.multiply(p.array, weight_decay, out=g)
        if maximize:
            g -= grad
        else:
            g += grad
        return g

    def _decayed_gradient(self, p, grad, group):
        """The gradient an Adam-family rule follows after weight decay λ: decoupled (AdamW's
        θ ← θ·(1 − lr·λ), applied to p here) or as an L2 penalty (g + λ·θ)."""
        weight_decay = group["weight_decay"]
        if weight_decay != 0 and group["decoupled_weight_decay"]:
            p.array *= 1 - group["lr"] * weight_decay          # θ ← θ·(1 − lr·λ)
            return self._gradient(p, grad, group["maximize"], 0)
        return self._gradient(p, grad, group["maximize"], weight_decay)

    # -- checkpoints -------------------------------------------------------------------------
    def state_dict(self):
        """``{"state": {index: {...}}, "param_groups": [{..., "params": [indices]}]}``.

        Parameters are named by their position in ``param_groups`` order. As in PyTorch the
        values are the live state tensors, not copies: save the dict (``tapegrad.save``) or
        deep-copy it to keep a snapshot while training goes on.
        """
        index_of = {}
        groups = []
        for group in self.param_groups:
            packed = {key: value for key, value in group.items() if key != "params"}
            for p in group["params"]:
                index_of.setdefault(id(p), len(index_of))
            packed["params"] = [index_of[id(p)] for p in group["params"]]
            groups.append(packed)
        state = {(index_of[id(key)] if isinstance(key, Tensor) else key): value
                 for key, value in self.state.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Take over the options and state of ``state_dict`` (from ``state_dict()``).

        The groups must match this optimizer's in number and size. State tensors are copied
        onto each parameter's device, floating-point ones in the parameter's dtype.
        """
        if not isinstance(state_dict, dict) or not {"state", "param_groups"} <= set(state_dict):
            found = sorted(state_dict) if isinstance(state_dict, dict) else type(state_dict).__name__
            raise ValueError(f"load_state_dict expects a dict with the keys 'state' and "
                             f"'param_groups' (from Optimizer.state_dict()), got {found}")
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"loaded state dict has a different number of parameter groups: "
                             f"{len(saved_groups)} in the state dict, {len(self.param_groups)} "
                             f"in this optimizer")
        for i, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            if len(group["params"]) != len(saved["params"]):
                raise ValueError(f"loaded state dict contains a parameter group that doesn't "
                                 f"match the size of optimizer's group: group {i} has "
                                 f"{len(saved['params'])} parameters in the state dict and "
                                 f"{len(group['params'])} in this optimizer")
        param_of = dict(zip(itertools.chain.from_iterable(g["params"] for g in saved_groups),
                            itertools.chain.from_iterable(g["params"] for g in self.param_groups)))

        state = defaultdict(dict)
        for key, entries in state_dict["state"].items():
            if key not in param_of:
                state[key] = entries  # kept as is, as PyTorch does
                continue
            p = param_of[key]
            state[p] = {name: self._loaded_value(p, key, name, value)
                        for name, value in entries.items()}
        groups = []
        for group, saved in zip(self.param_groups, saved_groups):
            new = {key: value for key, value in saved.items() if key != "params"}
            new["params"] = group["params"]
            for name, default in self.defaults.items():
                new.setdefault(name, default)  # an option this checkpoint predates
            groups.append(new)
        self.state = state
        self.param_groups = groups

    def _loaded_value(self, p, index, name, value):
        if not isinstance(value, Tensor):
            return value
        if name in self._scalar_state:  # a checkpoint that kept its counter as a 0-d tensor
            number = value.item()
            return int(round(number)) if name == "step" else float(number)
        if tuple(value.shape) != tuple(p.shape):
            raise ValueError(f"loaded state dict has state[{index}][{name!r}] of shape "
                             f"{tuple(value.shape)}, but the parameter it belongs to has shape "
                             f"{tuple(p.shape)}")
        array = backend.to_device(value.array, p.device)
        if value.dtype.is_floating_point and p.dtype.is_floating_point:
            array = array.astype(p.array.dtype, copy=True)
        else:
            array = array.copy()
        return wrap(array, p.device)
