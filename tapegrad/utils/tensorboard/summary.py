"""Values as TensorBoard ``Summary`` records (protocol buffers from the tensorboard package).

An event file is a sequence of ``Event`` records, each with a wall time, a step and one
``Summary``; a ``Summary`` holds tagged values. TensorBoard's dashboards pick them up by kind:
``simple_value`` (scalars), ``histo`` (histograms), ``image`` (PNG bytes), and tensors
marked with a plugin name (text, new-style scalars).
"""
import numpy as np  # summaries are host-side data

from tensorboard.compat.proto.summary_pb2 import HistogramProto, Summary, SummaryMetadata
from tensorboard.compat.proto.tensor_pb2 import TensorProto
from tensorboard.compat.proto.tensor_shape_pb2 import TensorShapeProto
from tensorboard.plugins.text.plugin_data_pb2 import TextPluginData

from ...autograd.tensor import Tensor
from ...creation import from_numpy
from ...vision.io import encode_png  # tapegrad's own PNG writer


def host_array(values):
    """A tensor, array, list or number as a host numpy array (a tensor is detached first)."""
    if isinstance(values, Tensor):
        return values.detach().cpu().numpy()
    return np.asarray(values)


def scalar_value(value, tag):
    """One number from a Python number, a 0-d (or one-element) tensor or array."""
    array = host_array(value)
    if array.dtype.kind not in "biuf":
        raise ValueError(f"add_scalar: {tag!r} needs a number, got {type(value).__name__} "
                         f"{value!r}")
    if array.size != 1:
        raise ValueError(f"add_scalar: {tag!r} needs a single number, got an array of shape "
                         f"{array.shape}")
    return array.reshape(()).item()


def scalar(tag, value, new_style=False, double_precision=False):
    """A scalar: ``simple_value`` (float32), or with ``new_style`` a 0-d tensor for the scalars
    plugin (float64 with ``double_precision``)."""
    if not new_style:
        return Summary(value=[Summary.Value(tag=tag, simple_value=float(value))])
    if double_precision:
        tensor = TensorProto(dtype="DT_DOUBLE", double_val=[value])  # no shape: a scalar
    else:
        tensor = TensorProto(dtype="DT_FLOAT", float_val=[value])
    metadata = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name="scalars"))
    return Summary(value=[Summary.Value(tag=tag, tensor=tensor, metadata=metadata)])


def exponential_bins():
    """TensorBoard's default bucket edges: ±1e-12 · 1.1^k up to ±1e20, and 0."""
    positive, edge = [], 1e-12
    while edge < 1e20:
        positive.append(edge)
        edge *= 1.1
    return [-e for e in reversed(positive)] + [0.0] + positive


def histogram(tag, values, bins, max_bins=None):
    """The histogram of ``values`` over ``bins`` (numpy's: a count, edges or a rule's name).

    TensorBoard reads bucket i as the count in (bucket_limit[i-1], bucket_limit[i]], so only
    the span of non-empty bins is kept, led by one empty bucket whose right edge is where
    the span starts. With ``max_bins``, groups of ⌊bins / max_bins⌋ neighbouring bins merge
    (PyTorch's rule, which can leave a few more than ``max_bins``).
    """
    values = host_array(values)
    if values.dtype.kind not in "biuf":
        raise ValueError(f"add_histogram: {tag!r} needs numbers, got values of dtype "
                         f"{values.dtype}")
    values = values.astype(np.float64).reshape(-1)
    if values.size == 0:
        raise ValueError(f"add_histogram: {tag!r} has no values")
    if not np.isfinite(values).all():
        raise ValueError(f"add_histogram: {tag!r} holds NaN or infinite values")
    counts, edges = np.histogram(values, bins=bins)
    if max_bins is not None and len(counts) > max_bins:
        group = len(counts) // max_bins
        counts = np.pad(counts, (0, -len(counts) % group)).reshape(-1, group).sum(axis=1)
        edges = np.append(edges[:-1:group], edges[-1])
    nonzero = np.flatnonzero(counts)
    first, last = nonzero[0], nonzero[-1]
    # Right edges of bins first-1 … last; bin first-1 (or a blank one) opens the span.
    kept_counts = np.concatenate([[0], counts[first:last + 1]])
    right_edges = edges[first:last + 2]
    proto = HistogramProto(min=values.min(), max=values.max(), num=values.size,
                           sum=values.sum(), sum_squares=values.dot(values),
                           bucket_limit=right_edges.tolist(), bucket=kept_counts.tolist())
    return Summary(value=[Summary.Value(tag=tag, histo=proto)])


def hwc_image(image, dataformats):
    """An image laid out as ``dataformats`` ("CHW", "HWC", "HW") as 8-bit (H, W, C), C = 3
    or 4: floats in [0, 1] are scaled by 255 and truncated, uint8 is kept; gray is repeated."""
    array = host_array(image)
    dataformats = dataformats.upper()
    if sorted(dataformats) not in (sorted("CHW"), sorted("HW")) or array.ndim != len(dataformats):
        raise ValueError(f"add_image: dataformats {dataformats!r} does not describe an image of "
                         f"shape {array.shape} (use 'CHW', 'HWC' or 'HW')")
    array = array.transpose([dataformats.index(axis) for axis in "HWC" if axis in dataformats])
    if array.ndim == 2:
        array = array[:, :, None]
    if array.shape[2] == 1:
        array = np.repeat(array, 3, axis=2)
    if array.shape[2] not in (3, 4):
        raise ValueError(f"add_image: an image has 1, 3 or 4 channels, got {array.shape[2]}")
    if array.dtype != np.uint8:
        array = (array.astype(np.float32) * 255).clip(0, 255).astype(np.uint8)
    return np.ascontiguousarray(array)


def image(tag, hwc):
    """An 8-bit (H, W, C) image as a PNG-encoded ``Summary.Image``."""
    height, width, channels = hwc.shape
    png = encode_png(from_numpy(np.ascontiguousarray(hwc.transpose(2, 0, 1)))).numpy().tobytes()
    return Summary(value=[Summary.Value(tag=tag, image=Summary.Image(
        height=height, width=width, colorspace=channels, encoded_image_string=png))])


def text(tag, text_string):
    """A string for the text dashboard (markdown), under ``tag + "/text_summary"``."""
    if not isinstance(text_string, str):
        raise TypeError(f"add_text: {tag!r} needs a string, got {type(text_string).__name__}")
    metadata = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(
        plugin_name="text", content=TextPluginData(version=0).SerializeToString()))
    tensor = TensorProto(dtype="DT_STRING", string_val=[text_string.encode("utf-8")],
                         tensor_shape=TensorShapeProto(dim=[TensorShapeProto.Dim(size=1)]))
    return Summary(value=[Summary.Value(tag=tag + "/text_summary", metadata=metadata,
                                        tensor=tensor)])


def hparams(hparam_dict, metric_dict, hparam_domain_discrete=None):
    """The three summaries the HParams dashboard reads: the experiment (which
    hyperparameters and metrics there are), and one run's start (its values) and end."""
    from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2
    from google.protobuf import struct_pb2

    if not isinstance(hparam_dict, dict) or not isinstance(metric_dict, dict):
        raise TypeError(f"add_hparams: hparam_dict and metric_dict must be dicts, got "
                        f"{type(hparam_dict).__name__} and {type(metric_dict).__name__}")
    domains = hparam_domain_discrete or {}
    infos, values = [], {}
    for name, value in hparam_dict.items():
        if isinstance(value, Tensor):
            value = value.item()
        if isinstance(value, bool):
            kind, values[name] = "DATA_TYPE_BOOL", struct_pb2.Value(bool_value=value)
        elif isinstance(value, (int, float)):
            kind, values[name] = "DATA_TYPE_FLOAT64", struct_pb2.Value(number_value=float(value))
        elif isinstance(value, str):
            kind, values[name] = "DATA_TYPE_STRING", struct_pb2.Value(string_value=value)
        elif value is None:
            continue   # an unset hyperparameter is left out, as PyTorch does
        else:
            raise ValueError(f"add_hparams: the value of {name!r} must be a number, a string, a "
                             f"bool or a one-element tensor, got {type(value).__name__}")
        info = api_pb2.HParamInfo(name=name, type=api_pb2.DataType.Value(kind))
        if name in domains:
            info.domain_discrete.extend([struct_pb2.Value(
                bool_value=v) if isinstance(v, bool) else struct_pb2.Value(number_value=v)
                if isinstance(v, (int, float)) else struct_pb2.Value(string_value=str(v))
                for v in domains[name]])
        infos.append(info)
    experiment = api_pb2.Experiment(hparam_infos=infos, metric_infos=[
        api_pb2.MetricInfo(name=api_pb2.MetricName(tag=tag)) for tag in metric_dict])
    start = plugin_data_pb2.SessionStartInfo(hparams=values)
    end = plugin_data_pb2.SessionEndInfo(status=api_pb2.Status.Value("STATUS_SUCCESS"))

    def summary_of(tag, **content):
        plugin_data = plugin_data_pb2.HParamsPluginData(
            version=metadata.PLUGIN_DATA_VERSION, **content)
        return Summary(value=[Summary.Value(
            tag=tag, metadata=metadata.create_summary_metadata(plugin_data),
            tensor=TensorProto(dtype="DT_FLOAT"))])
    return (summary_of(metadata.EXPERIMENT_TAG, experiment=experiment),
            summary_of(metadata.SESSION_START_INFO_TAG, session_start_info=start),
            summary_of(metadata.SESSION_END_INFO_TAG, session_end_info=end))


def figure_image(figure, close=True):
    """A matplotlib figure drawn into an 8-bit (H, W, 3) array (closed after, by default)."""
    import matplotlib.pyplot as plt
    if not hasattr(figure, "canvas"):
        raise TypeError(f"add_figure: expected a matplotlib Figure (or a list of them), got "
                        f"{type(figure).__name__}")
    figure.canvas.draw()
    rgb = np.asarray(figure.canvas.buffer_rgba())[..., :3].copy()
    if close:
        plt.close(figure)
    return rgb
