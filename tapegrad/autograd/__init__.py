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

__all__ = ["Graph", "GraphNode", "draw_graph", "graph", "print_graph", "AnomalyError", "detect_anomaly", "is_anomaly_enabled", "set_detect_anomaly", "Function", "FunctionCtx", "GradcheckError", "Size", "Tensor", "backward",
           "enable_grad", "grad", "gradcheck", "gradgradcheck", "is_grad_enabled", "no_grad", "profile",
           "set_grad_enabled", "Variable"]
