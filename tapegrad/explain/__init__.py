"""``tapegrad.explain``: why did the model say that?

Gradient methods on tapegrad models, with Captum's calling convention
(``Method(model).attribute(inputs, target=...)``): Saliency, InputXGradient,
IntegratedGradients, NoiseTunnel (SmoothGrad), GradCAM. Perturbation methods on any
callable: Occlusion, KernelShap, and the LIME explainers (LimeTabular, LimeImage,
LimeText) returning an Explanation. ``segment`` has quickshift and SLIC superpixels,
``metrics`` the faithfulness checks (deletion/insertion AUC, infidelity, sensitivity-max,
the randomisation test) and ``plot`` the pictures.
"""
from . import lime, linear_models, metrics, plot, segment
from .grad_cam import GradCAM
from .integrated_gradients import IntegratedGradients
from .kernel_shap import KernelShap
from .lime import Explanation, LimeImage, LimeTabular, LimeText
from .noise_tunnel import NoiseTunnel
from .occlusion import Occlusion
from .saliency import InputXGradient, Saliency

__all__ = ["Explanation", "GradCAM", "InputXGradient", "IntegratedGradients", "KernelShap",
           "LimeImage", "LimeTabular", "LimeText", "NoiseTunnel", "Occlusion", "Saliency",
           "lime", "linear_models", "metrics", "plot", "segment"]
