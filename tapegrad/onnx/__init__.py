"""ONNX export and import: ``tapegrad.onnx.export(model, args, f)`` writes a model as an
ONNX graph, ``tapegrad.onnx.load(path)`` turns one back into a trainable Module.

Both need the ``onnx`` package (``pip install "tapegrad[onnx]"``); it is imported only
when one of them is called, so ``import tapegrad`` never needs it.
"""
from .errors import ExportError, OnnxImportError


def export(model, args, f, input_names=None, output_names=None, dynamic_axes=None,
           opset_version=None):
    """Write ``model`` run on ``args`` to ``f`` as an ONNX graph (see ``onnx/exporter.py``)."""
    from .exporter import export as _export
    return _export(model, args, f, input_names, output_names, dynamic_axes, opset_version)


def load(path):
    """An ONNX file (or ModelProto) as a tapegrad Module with trainable parameters (see
    ``onnx/importer.py``)."""
    from .importer import load as _load
    return _load(path)


__all__ = ["ExportError", "OnnxImportError", "export", "load"]
