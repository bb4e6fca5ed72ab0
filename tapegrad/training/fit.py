"""``fit``, ``evaluate`` and ``predict``: the training loop, written once.

One epoch of ``fit`` is the loop that every PyTorch tutorial writes by hand::

    model.train()
    for inputs, target in train_loader:
        inputs, target = inputs.to(device), target.to(device)
        optimizer.zero_grad()                  # forget the last batch's gradients
        loss = loss_fn(model(inputs), target)  # forward: the tape records every op
        loss.backward()                        # backward: d loss / d every parameter
        optimizer.step()                       # the update rule changes the parameters

around which ``fit`` keeps the books: running means of the loss and the metrics shown on a
tqdm progress bar, a pass over ``val_loader`` in eval mode after each epoch, the
learning-rate scheduler's steps, and a ``History`` with one value per epoch.

A batch is a tuple or list whose last element is the target and whose other elements are
the model's inputs: ``(x, y)`` calls ``model(x)``, ``(x1, x2, y)`` calls ``model(x1, x2)``.
The loss function should average over the batch (``reduction="mean"``, the default of every
loss), so that weighting each batch by its size gives the mean over the epoch's samples.
"""
import contextlib
import sys
import time

from ..autograd.grad_mode import no_grad
from ..autograd.ops.shape import cat
from ..autograd.tensor import Tensor
from ..backend import as_device
from ..creation import as_tensor
from ..nn.utils import clip_grad_norm_
from ..optim.lr_scheduler import OneCycleLR, ReduceLROnPlateau
from .history import History
from .metrics import RunningMeans, resolve_metrics


# -- batches and devices ---------------------------------------------------------------------
def _to(value, device):
    """``value`` with every tensor in it moved to ``device`` (tuples, lists, dicts recursed)."""
    if device is None:
        return value
    if isinstance(value, Tensor):
        return value.to(device)
    if isinstance(value, (tuple, list)):
        return type(value)(_to(item, device) for item in value)
    if isinstance(value, dict):
        return {key: _to(item, device) for key, item in value.items()}
    return value


def _split(batch, op):
    """(inputs tuple, target) of a batch ``(x, …, y)``."""
    if not isinstance(batch, (tuple, list)) or len(batch) < 2:
        what = f"a {type(batch).__name__}" + (f" of length {len(batch)}"
                                              if isinstance(batch, (tuple, list)) else "")
        raise ValueError(f"{op}: each batch must be a tuple (inputs, target) (or "
                         f"(input1, input2, …, target)), as a DataLoader over a TensorDataset "
                         f"of inputs and targets gives; got {what}")
    return tuple(batch[:-1]), batch[-1]


def _batch_size(target, inputs):
    for value in (target, *inputs):
        if isinstance(value, Tensor) and value.ndim > 0:
            return value.shape[0]
    return 1


def _model_device(model):
    """The device of the model's first parameter (None for a model without parameters)."""
    parameters = getattr(model, "parameters", None)
    if parameters is None:
        return None
    first = next(iter(parameters()), None)
    return None if first is None else first.device


def _check_model_on(model, device, op):
    model_device = _model_device(model)
    if device is not None and model_device is not None and model_device != device:
        raise RuntimeError(f"{op}: the model's parameters are on {model_device} but "
                           f"device={str(device)!r}; move the model first with "
                           f"model.to('{device}')")


def _check_batch_device(model, inputs, op):
    """Before the first forward: a batch on another device than the model gets an error
    that says what to do (the ops would raise too, naming only the op)."""
    model_device = _model_device(model)
    first = next((x for x in inputs if isinstance(x, Tensor)), None)
    if model_device is None or first is None or first.device == model_device:
        return
    raise RuntimeError(f"{op}: the batch is on {first.device} but the model's parameters are "
                       f"on {model_device}; pass device='{model_device}' to {op} (it moves "
                       f"each batch there), or move the model with model.to('{first.device}')")


def _check_loader(loader, name, op):
    if loader is None or not hasattr(loader, "__iter__"):
        raise TypeError(f"{op}: {name} must be an iterable of batches (a DataLoader), got "
                        f"{type(loader).__name__}")
    try:
        n = len(loader)
    except TypeError:
        return
    if n == 0:
        raise ValueError(f"{op}: {name} is empty (0 batches): its data set has "
                         f"{_dataset_size(loader)} samples; with drop_last=True a data set "
                         f"smaller than batch_size gives no batch")


def _dataset_size(loader):
    dataset = getattr(loader, "dataset", None)
    try:
        return len(dataset)
    except TypeError:
        return "an unknown number of"


@contextlib.contextmanager
def _eval_mode(model):
    """Eval mode inside, each module's own mode restored after (frozen parts stay frozen)."""
    modules = list(model.modules()) if hasattr(model, "modules") else []
    modes = [module.training for module in modules]
    if hasattr(model, "eval"):
        model.eval()
    try:
        yield
    finally:
        for module, mode in zip(modules, modes):
            module.training = mode


# -- the progress bar ------------------------------------------------------------------------
def _progress_bar(progress, desc, total):
    """A tqdm bar on stderr. Off a terminal (CI logs, files) it redraws at most every 10 s
    instead of 10 times a second, so a log gets a few lines per epoch, not thousands."""
    stream = sys.stderr
    interactive = hasattr(stream, "isatty") and stream.isatty()
    from tqdm import tqdm   # loaded on first use: `import tapegrad` stays quick
    return tqdm(desc=desc, total=total, unit="batch", disable=not progress,
                leave=True, file=stream, mininterval=0.1 if interactive else 10.0,
                dynamic_ncols=interactive)


def _postfix(values):
    return {name: f"{value:.4g}" for name, value in values.items()}


def _length(loader):
    try:
        return len(loader)
    except TypeError:
        return None


# -- fit -------------------------------------------------------------------------------------
def fit(model, train_loader, loss_fn, optimizer, epochs, val_loader=None, metrics=None,
        scheduler=None, device=None, progress=True, *, scheduler_step=None, monitor=None,
        clip_grad_norm=None):
    """Train ``model`` for ``epochs`` epochs; returns a ``History`` (see history.py).

    - ``train_loader``, ``val_loader``: iterables of batches ``(inputs, target)``, such as
      DataLoaders; after each epoch the model is evaluated on ``val_loader`` (eval mode, no
      gradients) and the results go into the history as ``val_loss``, ``val_<metric>``.
    - ``loss_fn(output, target)`` returns the batch's mean loss (e.g. nn.CrossEntropyLoss()).
    - ``metrics``: a dict ``{name: function(output, target) → number}``, or a list of
      functions and names (``"accuracy"``, ``"top_k_accuracy"``); see metrics.py.
    - ``device``: each batch is moved there with ``.to(device)``; the model must already be
      there (``model.to(device)``). With ``device=None`` batches stay where the loader puts
      them, and must be on the model's device.
    - ``progress``: a tqdm progress bar per epoch, on stderr, with the running loss and
      metrics; each epoch leaves one line with its final values (validation included).
    - ``scheduler``: a learning-rate scheduler, stepped after each epoch, or after each batch
      with ``scheduler_step="batch"``. The default (None) is "batch" for OneCycleLR, whose
      schedule counts batches, and "epoch" for the others. ``ReduceLROnPlateau`` is stepped
      per epoch with the value ``history[monitor]``; ``monitor`` defaults to ``"val_loss"``
      when there is a ``val_loader``, else ``"loss"`` (build the scheduler with
      ``mode="max"`` to monitor an accuracy).
    - ``clip_grad_norm``: if given, gradients are clipped to this total norm before each step.

    The training loss and metrics are means over the epoch's batches, weighted by batch size,
    each measured on its batch before that batch's update (as Keras does), so they mix the
    weights of the whole epoch; the validation values use the weights at the epoch's end.
    """
    op = "fit"
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
        raise ValueError(f"fit: epochs must be a non-negative integer, got {epochs!r}")
    if not callable(loss_fn):
        raise TypeError(f"fit: loss_fn must be a function(output, target), got "
                        f"{type(loss_fn).__name__}")
    _check_loader(train_loader, "train_loader", op)
    if val_loader is not None:
        _check_loader(val_loader, "val_loader", op)
    metric_fns = resolve_metrics(metrics, op)
    if device is not None:
        device = as_device(device)
        _check_model_on(model, device, op)
    per_batch, plateau = _scheduler_plan(scheduler, scheduler_step)
    if plateau:
        keys = ["loss", *metric_fns]
        keys += [f"val_{key}" for key in keys] if val_loader is not None else []
        monitor = monitor or ("val_loss" if val_loader is not None else "loss")
        if monitor not in keys:
            raise ValueError(f"fit: monitor={monitor!r} is not among the values fit records: "
                             f"{keys}")

    history = History()
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        lr = optimizer.param_groups[0]["lr"]
        model.train()
        running = RunningMeans()
        checked = epoch > 1
        # the bar is updated by hand: iterating over it would close it when the loader ends,
        # before the validation results join its last line
        with _progress_bar(progress, f"epoch {epoch}/{epochs}", _length(train_loader)) as bar:
            for batch in train_loader:
                batch = _to(batch, device)
                inputs, target = _split(batch, op)
                if not checked:
                    _check_batch_device(model, inputs, op)
                    checked = True
                optimizer.zero_grad()
                output = model(*inputs)
                loss = loss_fn(output, target)
                loss.backward()
                if clip_grad_norm is not None:
                    clip_grad_norm_(model.parameters(), clip_grad_norm)
                optimizer.step()
                if per_batch:
                    scheduler.step()
                n = _batch_size(target, inputs)
                running.add("loss", loss.item(), n)
                with no_grad():
                    for name, fn in metric_fns.items():
                        running.add(name, fn(output.detach(), target), n)
                bar.set_postfix(_postfix(running.means()), refresh=False)
                bar.update()
            if not running.counts:
                raise ValueError("fit: train_loader produced no batches")
            record = running.means()
            if val_loader is not None:
                results = evaluate(model, val_loader, loss_fn, metric_fns, device)
                record.update({f"val_{name}": value for name, value in results.items()})
            bar.set_postfix(_postfix(record), refresh=False)
        if scheduler is not None and not per_batch:
            if plateau:
                scheduler.step(record[monitor])
            else:
                scheduler.step()
        record["lr"] = lr
        record["time"] = time.perf_counter() - start
        history.append(record)
    return history


def _scheduler_plan(scheduler, scheduler_step):
    """(step after each batch?, is ReduceLROnPlateau?)"""
    if scheduler_step not in (None, "epoch", "batch"):
        raise ValueError(f"fit: scheduler_step must be 'epoch' or 'batch', got "
                         f"{scheduler_step!r}")
    if scheduler is None:
        return False, False
    if not hasattr(scheduler, "step"):
        raise TypeError(f"fit: scheduler must be a learning-rate scheduler (with a step() "
                        f"method), got {type(scheduler).__name__}")
    plateau = isinstance(scheduler, ReduceLROnPlateau)
    if scheduler_step is None:
        scheduler_step = "batch" if isinstance(scheduler, OneCycleLR) else "epoch"
    if plateau and scheduler_step == "batch":
        raise ValueError("fit: ReduceLROnPlateau compares one value per epoch; use "
                         "scheduler_step='epoch'")
    return scheduler_step == "batch", plateau


# -- evaluate and predict --------------------------------------------------------------------
def evaluate(model, loader, loss_fn=None, metrics=None, device=None):
    """The mean loss and metrics of ``model`` over ``loader``, in eval mode with no gradients.

    Returns a dict ``{"loss": …, "<metric>": …}`` (``"loss"`` only with a ``loss_fn``), each
    value the mean over the samples (batches weighted by size). Each module's train/eval
    mode is restored afterwards.
    """
    op = "evaluate"
    _check_loader(loader, "loader", op)
    metric_fns = resolve_metrics(metrics, op)
    if loss_fn is None and not metric_fns:
        raise ValueError("evaluate: nothing to compute; pass a loss_fn, metrics, or both")
    if device is not None:
        device = as_device(device)
        _check_model_on(model, device, op)
    running = RunningMeans()
    with _eval_mode(model), no_grad():
        for batch in loader:
            inputs, target = _split(_to(batch, device), op)
            if not running.counts:
                _check_batch_device(model, inputs, op)
            output = model(*inputs)
            n = _batch_size(target, inputs)
            if loss_fn is not None:
                running.add("loss", loss_fn(output, target).item(), n)
            for name, fn in metric_fns.items():
                running.add(name, fn(output, target), n)
    if not running.counts:
        raise ValueError("evaluate: the loader produced no batches")
    return running.means()


def predict(model, data, device=None, batch_size=256):
    """The model's outputs for every sample of ``data``, concatenated along dim 0.

    ``data``: a tensor (or array) of inputs, run in chunks of ``batch_size``; or a loader
    whose batches are inputs, or tuples whose last element is a target (ignored) and whose
    others are the inputs. Runs in eval mode with no gradients; the outputs stay on the
    model's device. With a shuffling loader the order is the loader's; to line outputs up
    with targets use a loader with ``shuffle=False`` (or the data set's ``targets``).
    """
    op = "predict"
    if device is not None:
        device = as_device(device)
        _check_model_on(model, device, op)
    if not isinstance(data, Tensor) and hasattr(data, "shape"):
        data = as_tensor(data)
    if isinstance(data, Tensor):
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"predict: batch_size must be a positive integer, got "
                             f"{batch_size!r}")
        if data.ndim == 0 or data.shape[0] == 0:
            raise ValueError(f"predict: no samples in the input of shape {tuple(data.shape)}")
        batches = ((chunk,) for chunk in data.split(batch_size))
    else:
        _check_loader(data, "data", op)
        batches = (_inputs_of(batch) for batch in data)
    outputs = []
    with _eval_mode(model), no_grad():
        for inputs in batches:
            inputs = _to(inputs, device)
            if not outputs:
                _check_batch_device(model, inputs, op)
            outputs.append(model(*inputs))
    if not outputs:
        raise ValueError("predict: the loader produced no batches")
    if isinstance(outputs[0], (tuple, list)):  # a model with several outputs
        return type(outputs[0])(cat(list(parts)) for parts in zip(*outputs))
    return cat(outputs)


def _inputs_of(batch):
    if isinstance(batch, (tuple, list)):
        return tuple(batch[:-1]) if len(batch) >= 2 else tuple(batch)
    return (batch,)


__all__ = ["evaluate", "fit", "predict"]
