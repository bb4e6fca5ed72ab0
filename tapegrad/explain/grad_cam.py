"""Grad-CAM (Selvaraju et al. 2017): where in the image a convolutional layer saw the
evidence for a class.

A convolutional layer's output A has K channels, each a map over the image (h × w). The
gradient of the class score y with respect to A says how much each position of each
channel matters; its spatial mean αₖ = mean over (i, j) of ∂y/∂Aₖᵢⱼ is the importance
of channel k. The map is the channels weighted by their importance,

    L = ReLU(Σₖ αₖ Aₖ),

kept positive (ReLU) because only the evidence *for* the class is wanted, and resized
bilinearly from h × w to the input's H × W so that it can be laid over the image.

A forward hook on the layer hands us A while the model runs; the gradient ∂y/∂A comes
from autograd.grad, so nothing is accumulated into any ``.grad``. The hook is removed
afterwards, even when the model raises.
"""
import numpy

from .. import backend
from ..autograd import enable_grad, grad as autograd_grad
from ..autograd.tensor import Tensor, wrap
from . import _attribution as A


class GradCAM:
    """``GradCAM(model, layer).attribute(inputs, target=None, relu=True, upsample=True)``
    → (N, 1, H, W) maps for inputs (N, C, H, W) (or (N, 1, h, w) with ``upsample=False``);
    ``layer`` is a module inside ``model`` whose output is (N, K, h, w)."""

    def __init__(self, model, layer):
        if not callable(model):
            raise TypeError(f"GradCAM: model must be callable, got {type(model).__name__}")
        if not callable(getattr(layer, "register_forward_hook", None)):
            raise TypeError(f"GradCAM: layer must be a tapegrad.nn.Module inside the model, "
                            f"got {type(layer).__name__}")
        self.model = model
        self.layer = layer

    def attribute(self, inputs, target=None, relu=True, upsample=True):
        op = "GradCAM"
        inputs = A.check_inputs(op, inputs)
        x, device = A.prepared(op, self.model, inputs)
        n = x.shape[0]
        target = A.Target.parse(op, target, n)
        activations, gradients = self._activations_and_gradients(op, x, device, target)
        xp = device.xp
        spatial = tuple(range(2, activations.ndim))
        alpha = gradients.mean(axis=spatial, keepdims=True)          # (N, K, 1, 1)
        cam = (alpha * activations).sum(axis=1, keepdims=True)       # (N, 1, h, w)
        if relu:
            cam = xp.maximum(cam, 0)
        if upsample:
            if inputs.ndim != activations.ndim:
                raise ValueError(f"{op}: cannot upsample a map of shape {tuple(cam.shape)} to "
                                 f"inputs of shape {tuple(inputs.shape)}: they have different "
                                 f"numbers of spatial dims; pass upsample=False")
            cam = linear_resize(cam, tuple(inputs.shape[2:]))
        return A.result(cam, inputs)

    def _activations_and_gradients(self, op, x, device, target):
        """The layer's output A and ∂(selected output)/∂A, as arrays."""
        captured = []

        def keep(module, args, output):
            captured.append(output)

        handle = self.layer.register_forward_hook(keep)
        try:
            leaf = wrap(x, device, requires_grad=True)  # so that A is on the tape
            with enable_grad():
                output = self.model(leaf)
                if not captured:
                    raise RuntimeError(f"{op}: the layer {type(self.layer).__name__} did not "
                                       f"run when the model was called; is it inside the "
                                       f"model?")
                if len(captured) > 1:
                    raise RuntimeError(f"{op}: the layer {type(self.layer).__name__} ran "
                                       f"{len(captured)} times in one forward pass; Grad-CAM "
                                       f"needs a layer that runs once")
                activations = captured[0]
                if not isinstance(activations, Tensor) or activations.ndim < 3 or \
                        activations.shape[0] != x.shape[0]:
                    shape = tuple(activations.shape) if isinstance(activations, Tensor) else \
                        type(activations).__name__
                    raise ValueError(f"{op}: the layer's output must be a tensor (N, K, h, w) "
                                     f"with N = {x.shape[0]}, got {shape}")
                if not isinstance(output, Tensor):
                    raise TypeError(f"{op}: the model must return a tapegrad Tensor, got "
                                    f"{type(output).__name__}")
                scores = target.select(op, output, numpy.arange(x.shape[0]))
                if not scores.requires_grad or not activations.requires_grad:
                    gradient = None
                else:
                    gradient, = autograd_grad(scores.sum(), activations, allow_unused=True)
        finally:
            handle.remove()
        array = activations.detach().array
        if gradient is None:  # the output does not depend on the layer
            return array, device.xp.zeros_like(array)
        return array, gradient.array


def linear_resize(array, size):
    """``array`` (N, C, *spatial) resized to ``size`` by linear interpolation along each
    spatial axis in turn (bilinear for images), PyTorch's ``align_corners=False`` rule:
    output position o samples the input at (o + ½)·(in/out) − ½, clamped to [0, in − 1]."""
    xp = backend.device_of_array(array).xp
    for axis, out_len in enumerate(size, start=2):
        in_len = array.shape[axis]
        if in_len == out_len:
            continue
        source = (numpy.arange(out_len) + 0.5) * (in_len / out_len) - 0.5
        source = numpy.clip(source, 0, in_len - 1)
        below = numpy.floor(source).astype(numpy.int64)
        above = numpy.minimum(below + 1, in_len - 1)
        shape = [1] * array.ndim
        shape[axis] = out_len
        weight = xp.asarray((source - below).astype(array.dtype)).reshape(shape)
        array = (xp.take(array, xp.asarray(below), axis=axis) * (1 - weight)
                 + xp.take(array, xp.asarray(above), axis=axis) * weight)
    return array
