"""tapegrad.autograd: the Tensor, the tape it records, and reverse-mode differentiation."""
from . import methods as _methods  # noqa: F401  (makes the operations Tensor methods)
from .anomaly import AnomalyError, detect_anomaly, is_anomaly_enabled, set_detect_anomaly
from .engine import backward, grad
from .function import Function, FunctionCtx
from .gradcheck import GradcheckError, gradcheck, gradgradcheck
from .graph import Graph, GraphNode, draw_graph, graph, print_graph
from .grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .profiler import profile
from .tensor import Size, Tensor
from .variable import Variable

__all__ = ["AnomalyError", "Function", "FunctionCtx", "Graph", "GraphNode", "GradcheckError", "Size",
           "Tensor", "backward", "detect_anomaly", "draw_graph", "enable_grad", "grad", "gradcheck",
           "gradgradcheck", "graph", "is_anomaly_enabled", "is_grad_enabled", "no_grad",
           "print_graph", "profile", "set_detect_anomaly", "set_grad_enabled", "Variable"]
