"""LIME (Ribeiro, Singh & Guestrin 2016, "Why should I trust you?"): explain one
prediction with a weighted linear model fitted to the model's outputs on perturbations
of the instance. ``LimeTabular``, ``LimeImage`` and ``LimeText`` perturb their data type;
``base`` holds the kernel, feature selection and local fit they share; every explainer
returns an ``Explanation``.
"""
from .explanation import Explanation
from .image import LimeImage
from .tabular import LimeTabular
from .text import LimeText

__all__ = ["Explanation", "LimeImage", "LimeTabular", "LimeText"]
