"""``tapegrad.nn.functional`` (``import tapegrad.nn.functional as F``): every layer as a
function of its inputs and its parameters, e.g. ``F.linear(x, weight, bias)``.

One file per family; each file below adds its names here with one import line.
"""
from .linear import bilinear, linear
