"""Your own operation with your own backward: ``autograd.Function``, as in PyTorch.

    class Exp(tg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            y = x.exp()
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, grad):
            y, = ctx.saved_tensors
            return grad * y

    y = Exp.apply(x)

``forward`` runs without recording (its inside is not on the tape); ``apply`` then puts
one Node on the tape whose backward is yours. Check it with ``autograd.gradcheck``.
"""
from . import anomaly, grad_mode
from .tape import Node, mark_view
from .tensor import Tensor, wrap


class FunctionCtx(Node):
    """The ``ctx`` of a custom Function: the Node it puts on the tape."""

    def __init__(self, function_class, args):
        super().__init__(function_class.__name__, None,
                         [a if isinstance(a, Tensor) else None for a in args])
        self.function_class = function_class
        self.to_save = ()
        self.output_meta = ()

    def save_for_backward(self, *tensors):
        for t in tensors:
            if t is not None and not isinstance(t, Tensor):
                raise TypeError(f"{self.op}.save_for_backward: expected tensors (or None), got "
                                f"{type(t).__name__}; keep other values as attributes of ctx")
        self.to_save = tensors

    def mark_non_differentiable(self, *outputs):
        self.non_differentiable = tuple(outputs)

    def set_materialize_grads(self, value):
        self.materialize_grads = bool(value)

    def name(self):
        return f"{self.op}Backward"


class Function:
    """Subclass with ``forward(ctx, *args)`` and ``backward(ctx, *grads)`` staticmethods."""

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("a Function subclass must define forward(ctx, ...)")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("a Function subclass must define backward(ctx, ...) to be "
                                  "differentiated")

    @classmethod
    def apply(cls, *args, **kwargs):
        ctx = FunctionCtx(cls, args)
        with grad_mode.no_grad():
            outputs = cls.forward(ctx, *args, **kwargs)
        single = not isinstance(outputs, tuple)
        outputs = (outputs,) if single else outputs
        recording = grad_mode._enabled and any(ctx.needs_input_grad)
        results = []
        for i, out in enumerate(outputs):
            if isinstance(out, Tensor) and any(out is a for a in args):
                out = mark_view(wrap(out.array, out.device), out)  # don't rewire the caller's input
            results.append(out)
        if not recording:
            return results[0] if single else tuple(results)
        ctx.n_outputs = len(results)
        ctx.output_meta = tuple((o.array.shape, o.array.dtype, o.device) if isinstance(o, Tensor)
                                else None for o in results)
        ctx.backward_fn = lambda node, *grads: cls.backward(node, *grads)
        if anomaly._enabled:
            ctx.anomaly_trace = anomaly.user_frame()
        non_differentiable = ctx.non_differentiable
        for i, out in enumerate(results):
            if not isinstance(out, Tensor) or not out.dtype.is_floating_point:
                continue
            if any(out is nd for nd in non_differentiable):
                continue
            out.grad_fn = ctx
            out._output_nr = i
        ctx.save(ctx.to_save)
        ctx.to_save = ()
        return results[0] if single else tuple(results)
