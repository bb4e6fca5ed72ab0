"""``tapegrad.explain``: why did the model say that? Attributions with Captum's calling
convention (``Method(model).attribute(inputs, target=...)``)."""
from .grad_cam import GradCAM
from .integrated_gradients import IntegratedGradients
from .noise_tunnel import NoiseTunnel
from .occlusion import Occlusion
from .saliency import InputXGradient, Saliency

__all__ = ["GradCAM", "InputXGradient", "IntegratedGradients", "NoiseTunnel", "Occlusion",
           "Saliency"]
