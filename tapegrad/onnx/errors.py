"""The errors of ONNX export and import, and the message for a missing ``onnx`` package."""

INSTALL_HINT = 'ONNX export and import need the onnx package: pip install "tapegrad[onnx]"'


class ExportError(RuntimeError):
    """A model (or one of its operations) that cannot be written as an ONNX graph."""


class OnnxImportError(RuntimeError):
    """An ONNX graph that cannot be turned into a tapegrad Module."""


def require_onnx():
    """The ``onnx`` module, or an ImportError that says how to install it."""
    try:
        import onnx
    except ImportError as error:
        raise ImportError(INSTALL_HINT) from error
    return onnx
