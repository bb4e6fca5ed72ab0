"""Running a model once and writing down what the tape saw: ``trace(model, args)``.

The tracer is an observer of the tape (``autograd/tape.py``): every operation reports
its name, its input and output tensors, and its other arguments (``attrs``), whether
or not gradients are recorded. The model runs under ``no_grad`` in eval mode, so no
Node is built: only the list of events.

A tensor that reaches an operation without having come out of an earlier one is a
graph input, a parameter or buffer of the model, or a constant (a number promoted to a
tensor, a mask built with numpy). The events keep every tensor alive, so ``id()``
names each one uniquely for as long as the trace exists.
"""
from ..autograd import grad_mode, tape


class Event:
    """One operation as it ran: ``op`` with ``inputs`` (tensors or None) and ``outputs``.

    ``versions`` and ``output_versions`` are the tensors' version counters and their values
    at the time, to catch a tensor changed in place between the operation that made it
    and one that reads it.
    """

    __slots__ = ("attrs", "inputs", "op", "output_versions", "outputs", "versions")

    def __init__(self, op, inputs, outputs, attrs):
        self.op = op
        self.inputs = tuple(inputs)
        self.outputs = tuple(outputs)
        self.attrs = attrs or {}
        self.versions = tuple(None if t is None else _version(t) for t in inputs)
        self.output_versions = tuple(_version(t) for t in outputs)

    def __repr__(self):
        return f"Event({self.op}, {[tuple(t.shape) for t in self.outputs]})"


def _version(tensor):
    return tensor._version_counter, tensor._version_counter.value


class Tracer:
    """The observer: appends one Event per operation."""

    def __init__(self):
        self.events = []

    def __call__(self, op, inputs, outputs, node, attrs):
        self.events.append(Event(op, inputs, outputs, attrs))


def trace(model, args, kwargs):
    """``model(*args, **kwargs)`` run once in eval mode without gradients:
    (the events, the model's output)."""
    tracer = Tracer()
    was_training = getattr(model, "training", False)
    if hasattr(model, "eval"):
        model.eval()
    tape.add_observer(tracer)
    try:
        with grad_mode.no_grad():
            output = model(*args, **kwargs)
    finally:
        tape.remove_observer(tracer)
        if was_training:
            model.train()
    return tracer.events, output


def flatten_outputs(output):
    """The tensors of a model's output, in order: a tensor, or tuples/lists of them (nested,
    as LSTM's (output, (h, c))); None entries (MultiheadAttention without weights) skipped."""
    from ..autograd.tensor import Tensor
    if output is None:
        return []
    if isinstance(output, Tensor):
        return [output]
    if isinstance(output, (tuple, list)):
        return [t for item in output for t in flatten_outputs(item)]
    raise TypeError(f"tapegrad.onnx.export: the model returned a {type(output).__name__}; "
                    f"only tensors and (nested) tuples or lists of tensors can be exported")
