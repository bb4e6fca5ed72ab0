"""Pictures of explanations, with matplotlib, headless.

- ``image_attr``: an attribution map as a heat map, alone or over its image (Captum's
  ``visualize_image_attr``: the same methods, signs, colormaps and outlier clipping);
- ``lime_mask``: a LIME image explanation: superpixel boundaries, the superpixels that
  support the label tinted green and those against it red;
- ``feature_bars``: (feature, weight) pairs as horizontal bars (LIME's
  ``as_pyplot_figure``);
- ``text_attr``: the words of a text on backgrounds coloured by their weights.

Each function returns ``(fig, ax)``: it draws into ``ax`` when given (on that axes'
figure), else into a new ``matplotlib.figure.Figure`` with an Agg canvas. Nothing here
touches pyplot: no global figure is created or left open, nothing is shown; save with
``fig.savefig(path)`` (a notebook shows a returned figure as it shows any Figure).
matplotlib is imported when a function is first called, not with ``tapegrad.explain``.
"""
import math

import numpy as np

from .. import backend
from ..autograd.tensor import Tensor

METHODS = ("blended_heat_map", "heat_map", "original_image", "masked_image", "alpha_scaling")
SIGNS = ("absolute_value", "positive", "negative", "all")
# Captum's default colormaps (vmin, vmax) per sign; "all" is red-white-green in [-1, 1].
DEFAULT_CMAPS = {"absolute_value": "Blues", "positive": "Greens", "negative": "Reds",
                 "all": None}
GREEN, RED, YELLOW = (0.10, 0.65, 0.15), (0.85, 0.12, 0.10), (1.0, 0.85, 0.0)


# -- image attributions --------------------------------------------------------------------------
def normalize_attr(attr, sign="absolute_value", outlier_perc=2):
    """The attribution map that ``image_attr`` draws, as a host float64 array (H, W).

    ``attr`` (C, H, W), (H, W, C) or (H, W) (a tensor or an array; a leading batch dim of 1
    is dropped) is summed over its channels, then, as Captum's ``_normalize_image_attr``:

    - ``"all"``: a / t clipped to [−1, 1];
    - ``"positive"``: max(a, 0) / t clipped to [0, 1];
    - ``"negative"``: the magnitude of the negative part, max(−a, 0) / t clipped to [0, 1];
    - ``"absolute_value"``: |a| / t clipped to [0, 1];

    where the threshold t is Captum's: sort the values v that the sign keeps (|a|, max(a, 0)
    or max(−a, 0)) in increasing order, and take the first at which their running sum
    reaches (100 − ``outlier_perc``)% of the total. The largest values holding the top
    ``outlier_perc``% of the attribution *mass* are thus clipped to 1, so that a few extreme
    pixels do not wash the rest of the map out. An all-zero map stays zero.
    """
    op = "normalize_attr"
    if sign not in SIGNS:
        raise ValueError(f"{op}: unknown sign {sign!r}; expected one of {', '.join(SIGNS)}")
    if isinstance(outlier_perc, bool) or not isinstance(outlier_perc, (int, float)) or \
            not 0 <= outlier_perc < 100:
        raise ValueError(f"{op}: outlier_perc must be a number in [0, 100), got "
                         f"{outlier_perc!r}")
    a = _summed_map(op, attr, "attr")
    if sign == "all":
        kept, low = a, -1.0
        magnitudes = np.abs(a)
    elif sign == "positive":
        kept = magnitudes = np.maximum(a, 0.0)
        low = 0.0
    elif sign == "negative":
        kept = magnitudes = np.maximum(-a, 0.0)
        low = 0.0
    else:
        kept = magnitudes = np.abs(a)
        low = 0.0
    threshold = cumulative_sum_threshold(magnitudes, 100 - outlier_perc)
    if threshold == 0:
        return np.zeros_like(kept)
    return np.clip(kept / threshold, low, 1.0)


def cumulative_sum_threshold(values, percentile):
    """Captum's outlier threshold: the smallest of the sorted non-negative ``values`` at
    which their running sum reaches ``percentile``% of their total (0 for an empty or
    all-zero array)."""
    ordered = np.sort(np.asarray(values, dtype=np.float64).reshape(-1))
    if ordered.size == 0:
        return 0.0
    sums = np.cumsum(ordered)
    if sums[-1] <= 0:
        return 0.0
    index = int(np.searchsorted(sums, sums[-1] * 0.01 * percentile, side="left"))
    return float(ordered[min(index, ordered.size - 1)])


def image_attr(attr, image=None, method="blended_heat_map", sign="absolute_value",
               outlier_perc=2, cmap=None, alpha_overlay=0.5, title=None, ax=None,
               show_colorbar=False, figsize=(4.0, 4.0)):
    """Draw an attribution map (Captum's ``visualize_image_attr``); returns ``(fig, ax)``.

    ``attr`` and ``image``: (C, H, W), (H, W, C) or (H, W), tensors or arrays (a 3-d one
    whose first dim is 1, 3 or 4 and last is not is channels-first; when both could be,
    tensors are taken as channels-first and arrays as channels-last). The map is
    ``normalize_attr(attr, sign, outlier_perc)``. The image is shown as it is when its
    values are in [0, 1] (uint8 images are divided by 255), else rescaled from its
    min..max to [0, 1].

    ``method``:
    - ``"heat_map"``: the map alone;
    - ``"blended_heat_map"``: the map (opacity ``alpha_overlay``) over the image in gray;
    - ``"original_image"``: the image alone;
    - ``"masked_image"``: the image multiplied by the map (not for sign="all");
    - ``"alpha_scaling"``: the image with the map as its opacity (not for sign="all").

    Colormaps (``cmap`` overrides): Blues for absolute values, Greens for positive, Reds
    for negative (in [0, 1]), and a diverging red-white-green in [−1, 1] for ``"all"``.
    """
    op = "image_attr"
    if method not in METHODS:
        raise ValueError(f"{op}: unknown method {method!r}; expected one of "
                         f"{', '.join(METHODS)}")
    if sign not in SIGNS:
        raise ValueError(f"{op}: unknown sign {sign!r}; expected one of {', '.join(SIGNS)}")
    if method in ("masked_image", "alpha_scaling") and sign == "all":
        raise ValueError(f"{op}: method {method!r} needs a map in [0, 1]; use sign "
                         f"'absolute_value', 'positive' or 'negative', not 'all'")
    needs_image = method != "heat_map"
    if needs_image and image is None:
        raise ValueError(f"{op}: method {method!r} needs the image; pass image=")
    if not 0 <= alpha_overlay <= 1:
        raise ValueError(f"{op}: alpha_overlay must be in [0, 1], got {alpha_overlay!r}")
    shown = None
    if image is not None:
        shown = _display_image(op, image)
    norm = None
    if method != "original_image":
        norm = normalize_attr(attr, sign, outlier_perc)
        if shown is not None and shown.shape[:2] != norm.shape:
            raise ValueError(f"{op}: the attributions' map is {norm.shape[0]} × "
                             f"{norm.shape[1]} but the image is {shown.shape[0]} × "
                             f"{shown.shape[1]}")
    fig, ax = _figure_and_axes(ax, figsize)
    vmin, vmax = (-1.0, 1.0) if sign == "all" else (0.0, 1.0)
    if cmap is None:
        cmap = _red_white_green() if sign == "all" else DEFAULT_CMAPS[sign]
    mappable = None
    if method == "heat_map":
        mappable = ax.imshow(norm, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
    elif method == "blended_heat_map":
        gray = shown.mean(axis=2) if shown.ndim == 3 else shown
        ax.imshow(gray, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
        mappable = ax.imshow(norm, cmap=cmap, vmin=vmin, vmax=vmax, alpha=alpha_overlay,
                             interpolation="nearest")
    elif method == "original_image":
        _show_image(ax, shown)
    elif method == "masked_image":
        _show_image(ax, shown * (norm[:, :, None] if shown.ndim == 3 else norm))
    else:  # alpha_scaling
        rgb = shown if shown.ndim == 3 else np.repeat(shown[:, :, None], 3, axis=2)
        ax.imshow(np.concatenate([rgb, norm[:, :, None]], axis=2), interpolation="nearest")
    ax.set_axis_off()
    if show_colorbar and mappable is not None:
        fig.colorbar(mappable, ax=ax, shrink=0.8)
    if title is not None:
        ax.set_title(title)
    return fig, ax


# -- LIME ------------------------------------------------------------------------------------
def segment_boundaries(labels):
    """Where superpixels meet: a bool array (H, W), True at a pixel whose label differs from
    the label of the pixel to its right or below it (a line one pixel wide, on the
    left/upper side of every border)."""
    labels = _host(labels)
    if labels.ndim != 2:
        raise ValueError(f"segment_boundaries: labels must be a label map (H, W), got shape "
                         f"{tuple(labels.shape)}")
    edge = np.zeros(labels.shape, dtype=bool)
    edge[:, :-1] |= labels[:, 1:] != labels[:, :-1]
    edge[:-1, :] |= labels[1:, :] != labels[:-1, :]
    return edge


def lime_mask(explanation, label, positive_only=False, num_features=5, ax=None,
              alpha=0.45, title=None, figsize=(4.0, 4.0), min_size=320):
    """A LIME image explanation drawn over its image; returns ``(fig, ax)``.

    The ``num_features`` superpixels of largest |weight| for ``label`` (with
    ``positive_only``: the largest positive weights only) are tinted, with opacity
    ``alpha``, green where they support the label and red where they count against it;
    the boundaries of all the superpixels are drawn in yellow (``segment_boundaries``).
    Small images are enlarged (each pixel repeated) to at least ``min_size`` pixels on
    their longer side before the boundaries are drawn, so that the lines run between the
    original pixels instead of covering them.
    """
    op = "lime_mask"
    image, segments = getattr(explanation, "image", None), getattr(explanation, "segments",
                                                                     None)
    if image is None or segments is None:
        raise ValueError(f"{op}: the explanation has no image and segments; it must come "
                         f"from LimeImage")
    label = explanation._label(label)
    if isinstance(num_features, bool) or not isinstance(num_features, int) or \
            num_features < 0:
        raise ValueError(f"{op}: num_features must be an int ≥ 0, got {num_features!r}")
    pairs = explanation.weights[label]
    if positive_only:
        pairs = [(f, w) for f, w in pairs if w > 0]
    pairs = pairs[:num_features]
    shown = _display_image(op, image, channels_first=False)
    rgb = shown if shown.ndim == 3 else np.repeat(shown[:, :, None], 3, axis=2)
    segments = _host(segments)
    if segments.shape != rgb.shape[:2]:
        raise ValueError(f"{op}: segments of shape {segments.shape} do not match the image "
                         f"{rgb.shape[:2]}")
    scale = max(1, math.ceil(min_size / max(segments.shape)))
    rgb = np.repeat(np.repeat(rgb, scale, axis=0), scale, axis=1)
    segments = np.repeat(np.repeat(segments, scale, axis=0), scale, axis=1)
    # a colour per superpixel: where a pixel's superpixel has one, blend it in
    features = np.array([f for f, _ in pairs], dtype=np.int64)
    colours = np.array([GREEN if w > 0 else RED for _, w in pairs]).reshape(-1, 3)
    size = int(max(segments.max(initial=0), features.max(initial=0))) + 1
    tinted = np.zeros(size, dtype=bool)
    tinted[features] = True
    colour_of = np.zeros((size, 3))
    colour_of[features] = colours
    where = tinted[segments]
    out = rgb.copy()
    out[where] = (1 - alpha) * rgb[where] + alpha * colour_of[segments[where]]
    out[segment_boundaries(segments)] = YELLOW
    fig, ax = _figure_and_axes(ax, figsize)
    ax.imshow(out, interpolation="nearest")
    ax.set_axis_off()
    signs = {w > 0 for _, w in pairs}
    if signs:
        from matplotlib.patches import Patch
        handles = [Patch(color=GREEN, label="supports")] if True in signs else []
        handles += [Patch(color=RED, label="against")] if False in signs else []
        ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0),
                  ncol=len(handles), frameon=False, fontsize="small")
    ax.set_title(f"label {label}" if title is None else title)
    return fig, ax


# -- feature weights -------------------------------------------------------------------------
def feature_bars(weights, title=None, ax=None, label=None, num_features=None, figsize=None):
    """Horizontal bars of feature weights, as LIME's ``as_pyplot_figure``; returns
    ``(fig, ax)``.

    ``weights``: a list of (name, weight) pairs, a dict {name: weight}, or an
    ``Explanation`` (then its ``as_list(label)``). The bars are sorted by |weight|, the
    largest at the top, green for positive and red for negative weights; only the
    ``num_features`` largest are drawn (None: all of a list or dict, and 10 of an
    Explanation, LIME's default)."""
    op = "feature_bars"
    if hasattr(weights, "as_list") and callable(weights.as_list):
        label = weights._label(label)
        if title is None:
            title = f"Local explanation for label {label}"
        weights = weights.as_list(label)
        if num_features is None:
            num_features = 10
    elif isinstance(weights, dict):
        weights = list(weights.items())
    try:
        pairs = [(str(name), float(w)) for name, w in weights]
    except (TypeError, ValueError):
        raise TypeError(f"{op}: weights must be (name, weight) pairs, a dict or an "
                        f"Explanation, got {type(weights).__name__}") from None
    pairs.sort(key=lambda pair: -abs(pair[1]))
    if num_features is not None:
        if isinstance(num_features, bool) or not isinstance(num_features, int) or \
                num_features < 0:
            raise ValueError(f"{op}: num_features must be an int ≥ 0 or None, got "
                             f"{num_features!r}")
        pairs = pairs[:num_features]
    pairs.reverse()  # barh draws from the bottom: the largest last, at the top
    names = [name for name, _ in pairs]
    values = [w for _, w in pairs]
    fig, ax = _figure_and_axes(ax, figsize or (6.0, 0.35 * len(pairs) + 1.2))
    positions = np.arange(len(pairs))
    ax.barh(positions, values, color=[GREEN if w > 0 else RED for w in values],
            align="center")
    ax.set_yticks(positions, names)
    ax.axvline(0.0, color="black", linewidth=0.8)
    ax.set_xlabel("weight")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    if title is not None:
        ax.set_title(title)
    return fig, ax


# -- text ----------------------------------------------------------------------------------
def text_attr(tokens, weights, ax=None, title=None, fontsize=12, width=8.0):
    """The words of a text on backgrounds coloured by their weights, wrapped into lines;
    returns ``(fig, ax)``.

    ``tokens``: a list of words (or a string, split on whitespace); ``weights``: one number
    per token (a list, array or tensor), or a dict {word: weight} (e.g.
    ``dict(explanation.as_list(label))`` of a LimeText explanation; words not in it get 0).
    Green backgrounds for positive weights, red for negative, with an opacity proportional
    to |weight| / max |weight|. A new figure is ``width`` inches wide and as tall as the
    lines need; given an ``ax``, the words wrap at its width, from its top left corner.
    """
    op = "text_attr"
    if isinstance(tokens, str):
        tokens = tokens.split()
    tokens = [str(t) for t in tokens]
    if isinstance(weights, dict):
        values = np.array([float(weights.get(t, 0.0)) for t in tokens])
    else:
        values = _host(weights).astype(np.float64).reshape(-1)
        if values.shape[0] != len(tokens):
            raise ValueError(f"{op}: {values.shape[0]} weights for {len(tokens)} tokens; give "
                             f"one weight per token")
    largest = float(np.abs(values).max(initial=0.0)) or 1.0
    from matplotlib.transforms import ScaledTranslation
    created = ax is None
    fig, ax = _figure_and_axes(ax, (width, 1.0), layout=None)
    if created:
        ax.set_position([0.0, 0.0, 1.0, 1.0])
    ax.set_axis_off()
    margin = 0.15 * fig.dpi  # pixels around the text
    line_points = fontsize * 2.0
    space = 0.45 * fontsize * fig.dpi / 72
    available = ax.get_window_extent().width - 2 * margin
    placed, x, line = [], 0.0, 0
    for token, value in zip(tokens, values):
        strength = 0.85 * abs(value) / largest
        colour = (GREEN if value > 0 else RED) + (strength,)
        text = ax.text(0.0, 1.0, token, fontsize=fontsize, va="top", ha="left",
                       parse_math=False, transform=ax.transAxes,
                       bbox=dict(boxstyle="round,pad=0.2", facecolor=colour,
                                 edgecolor="none"))
        extent = text.get_window_extent().width
        if x > 0 and x + extent > available:
            line, x = line + 1, 0.0
        placed.append((text, x, line))
        x += extent + space
    top = (fontsize * 2.4 if title is not None else fontsize * 0.6) / 72  # inches
    if created:
        height = top + (line + 1) * line_points / 72 + 0.2
        fig.set_size_inches(width, height)
    for text, x, line in placed:
        offset = ScaledTranslation((x + margin) / fig.dpi, -top - line * line_points / 72,
                                   fig.dpi_scale_trans)
        text.set_transform(ax.transAxes + offset)
    if title is not None:
        ax.text(0.0, 1.0, title, fontsize=fontsize, fontweight="bold", va="top", ha="left",
                parse_math=False, transform=ax.transAxes + ScaledTranslation(
                    margin / fig.dpi, -0.1 * fontsize / 72, fig.dpi_scale_trans))
    return fig, ax


# -- shared --------------------------------------------------------------------------------------
def _figure_and_axes(ax, figsize, layout="constrained"):
    """The figure of ``ax``, or a new Figure (with an Agg canvas, outside pyplot) and its
    one axes; the constrained layout keeps titles, tick labels and colorbars inside."""
    if ax is not None:
        return ax.figure, ax
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = Figure(figsize=figsize, layout=layout)
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def _red_white_green():
    from matplotlib.colors import LinearSegmentedColormap
    return LinearSegmentedColormap.from_list("RdWhGn", ["red", "white", "green"])


def _host(value):
    if isinstance(value, Tensor):
        value = value.array
    return backend.to_numpy(value) if backend.is_array(value) else backend.host_array(value)


def _layout(op, value, name, channels_first=None):
    """``value`` as host float64 (H, W, C) or (H, W)."""
    a = _host(value)
    if a.ndim == 4 and a.shape[0] == 1:
        a = a[0]
    if a.ndim == 2:
        return a
    if a.ndim != 3:
        raise ValueError(f"{op}: {name} must be (C, H, W), (H, W, C) or (H, W), got shape "
                         f"{tuple(a.shape)}")
    first, last = a.shape[0] in (1, 3, 4), a.shape[-1] in (1, 3, 4)
    if channels_first is None:
        if first and last:
            channels_first = isinstance(value, Tensor)
        elif first or last:
            channels_first = first
        else:
            raise ValueError(f"{op}: cannot tell the channels of {name} of shape "
                             f"{tuple(a.shape)}: neither its first nor its last dim has 1, "
                             f"3 or 4 entries")
    return a.transpose(1, 2, 0) if channels_first else a


def _summed_map(op, attr, name):
    a = _layout(op, attr, name)
    a = a.astype(np.float64, copy=False)
    return a.sum(axis=2) if a.ndim == 3 else a


def _display_image(op, image, channels_first=None):
    """An image for imshow: host float64 (H, W, 3|4) or (H, W), values in [0, 1]."""
    a = _layout(op, image, "image", channels_first)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim == 3 and a.shape[2] not in (3, 4):
        raise ValueError(f"{op}: an image needs 1, 3 or 4 channels, got {a.shape[2]}")
    if a.dtype == np.uint8:
        return a / 255.0
    a = a.astype(np.float64)
    low, high = (float(a.min()), float(a.max())) if a.size else (0.0, 1.0)
    if low < 0 or high > 1:
        a = (a - low) / (high - low) if high > low else np.zeros_like(a)
    return a


def _show_image(ax, image):
    if image.ndim == 2:
        ax.imshow(image, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    else:
        ax.imshow(np.clip(image, 0.0, 1.0), interpolation="nearest")


__all__ = ["cumulative_sum_threshold", "feature_bars", "image_attr", "lime_mask",
           "normalize_attr", "segment_boundaries", "text_attr"]
