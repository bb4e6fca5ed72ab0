"""Plots of explanations: each returns (Figure, Axes), draws what it says, and leaves no pyplot
figure behind."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (only to check that plot.py leaves it alone)
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

import tapegrad as tg  # noqa: E402
from tapegrad.explain import plot  # noqa: E402
from tapegrad.explain.lime.explanation import Explanation  # noqa: E402

rng = np.random.default_rng(0)


@pytest.fixture(autouse=True)
def no_pyplot(monkeypatch):
    """No plot may show a figure or leave one open in pyplot."""
    plt.close("all")

    def show(*args, **kwargs):
        raise AssertionError("plt.show() was called")

    monkeypatch.setattr(plt, "show", show)
    yield
    assert plt.get_fignums() == []


def saved(fig, tmp_path, name):
    path = tmp_path / f"{name}.png"
    fig.savefig(path)
    assert path.stat().st_size > 1000
    return path


# -- normalisation ---------------------------------------------------------------------------
def test_the_threshold_is_where_the_sorted_values_reach_the_percentile_of_their_sum():
    assert plot.cumulative_sum_threshold([1, 1, 1, 1, 96], 98) == 96   # 4 < 98 ≤ 100
    assert plot.cumulative_sum_threshold([2] + [1] * 98, 98) == 1      # 98 ones reach 98
    assert plot.cumulative_sum_threshold(np.zeros(4), 98) == 0


def test_outlier_clipping_clips_the_top_percent_of_the_attribution_mass_to_one():
    attr = rng.uniform(0, 1, (10, 10))
    attr[3, 4] = 3.0  # two outliers, holding less than 10% of the total
    attr[7, 7] = -2.5
    magnitudes = np.sort(np.abs(attr).ravel())
    sums = np.cumsum(magnitudes)
    threshold = magnitudes[np.nonzero(sums >= 0.9 * sums[-1])[0][0]]
    norm = plot.normalize_attr(attr, "absolute_value", outlier_perc=10)
    np.testing.assert_allclose(norm, np.minimum(np.abs(attr) / threshold, 1.0))
    assert norm[3, 4] == 1.0 and norm[7, 7] == 1.0  # both outliers clipped
    assert 0 < norm.min() and np.median(norm) < 1
    signed = plot.normalize_attr(attr, "all", outlier_perc=10)
    np.testing.assert_allclose(signed, np.clip(attr / threshold, -1, 1))
    assert signed[7, 7] == -1.0


def test_positive_and_negative_signs_keep_one_side_as_magnitudes_in_zero_one():
    attr = np.array([[2.0, -1.0], [0.5, -4.0]])
    np.testing.assert_allclose(plot.normalize_attr(attr, "positive", outlier_perc=0),
                               [[1.0, 0.0], [0.25, 0.0]])
    np.testing.assert_allclose(plot.normalize_attr(attr, "negative", outlier_perc=0),
                               [[0.0, 0.25], [0.0, 1.0]])
    np.testing.assert_array_equal(plot.normalize_attr(np.zeros((3, 3))), 0.0)


def test_attributions_are_summed_over_channels_in_either_layout():
    chw = rng.standard_normal((3, 5, 6))
    expected = plot.normalize_attr(chw.sum(axis=0), "all")
    np.testing.assert_allclose(plot.normalize_attr(tg.tensor(chw), "all"), expected)
    np.testing.assert_allclose(plot.normalize_attr(chw.transpose(1, 2, 0), "all"), expected)
    np.testing.assert_allclose(plot.normalize_attr(tg.tensor(chw[None]), "all"), expected)
    with pytest.raises(ValueError, match="cannot tell the channels"):
        plot.normalize_attr(np.zeros((5, 6, 7)))


# -- image_attr ------------------------------------------------------------------------------
def gaussian_scene():
    yy, xx = np.mgrid[0:16, 0:16]
    blob = np.exp(-((yy - 8) ** 2 + (xx - 5) ** 2) / 20.0)
    image = np.stack([blob, 0.5 * blob, 1 - blob]).astype(np.float32)    # (3, H, W)
    attr = np.stack([blob * (xx - 8) / 8.0] * 3).astype(np.float32)      # signed
    return image, attr


@pytest.mark.parametrize("method,sign", [
    ("heat_map", "all"), ("heat_map", "absolute_value"), ("blended_heat_map", "positive"),
    ("blended_heat_map", "all"), ("original_image", "absolute_value"),
    ("masked_image", "positive"), ("alpha_scaling", "negative")])
def test_image_attr_draws_every_method_into_a_new_figure(method, sign, tmp_path):
    image, attr = gaussian_scene()
    fig, ax = plot.image_attr(tg.tensor(attr), tg.tensor(image), method=method, sign=sign,
                              title=f"{method} {sign}", show_colorbar=True)
    assert isinstance(fig, Figure) and isinstance(ax, Axes) and ax.figure is fig
    assert ax.get_title() == f"{method} {sign}"
    saved(fig, tmp_path, f"{method}_{sign}")


def test_the_heat_map_drawn_is_the_normalised_map():
    image, attr = gaussian_scene()
    fig, ax = plot.image_attr(attr, method="heat_map", sign="all", outlier_perc=5)
    np.testing.assert_allclose(ax.images[-1].get_array(),
                               plot.normalize_attr(attr, "all", outlier_perc=5))
    assert ax.images[-1].get_clim() == (-1.0, 1.0)
    fig, ax = plot.image_attr(attr, image.transpose(1, 2, 0), method="alpha_scaling",
                              sign="positive")
    rgba = ax.images[-1].get_array()
    np.testing.assert_allclose(rgba[..., 3], plot.normalize_attr(attr, "positive"))
    np.testing.assert_allclose(rgba[..., :3], image.transpose(1, 2, 0))


def test_image_attr_draws_into_a_given_axes(tmp_path):
    image, attr = gaussian_scene()
    fig = Figure(figsize=(6, 3))
    left, right = fig.subplots(1, 2)
    got_fig, got_ax = plot.image_attr(attr, image, ax=right)
    assert got_fig is fig and got_ax is right and len(right.images) == 2
    assert not left.images


def test_image_attr_errors_name_the_problem():
    image, attr = gaussian_scene()
    with pytest.raises(ValueError, match="needs a map in \\[0, 1\\]"):
        plot.image_attr(attr, image, method="masked_image", sign="all")
    with pytest.raises(ValueError, match="needs the image"):
        plot.image_attr(attr, method="blended_heat_map")
    with pytest.raises(ValueError, match="unknown method 'heatmap'"):
        plot.image_attr(attr, image, method="heatmap")
    with pytest.raises(ValueError, match="map is 16 × 16 but the image is 8 × 8"):
        plot.image_attr(attr, image[:, :8, :8])


# -- LIME masks ------------------------------------------------------------------------------
def test_boundaries_are_where_the_label_changes_to_the_right_or_below():
    labels = np.array([[0, 0, 1],
                       [0, 0, 1],
                       [2, 2, 2]])
    np.testing.assert_array_equal(plot.segment_boundaries(labels),
                                  [[False, True, False],
                                   [True, True, True],
                                   [False, False, False]])
    assert not plot.segment_boundaries(np.zeros((4, 4), dtype=int)).any()


def quadrant_explanation():
    image = np.full((4, 4, 3), 0.5)
    segments = np.array([[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 3, 3], [2, 2, 3, 3]])
    explanation = Explanation(image=image, segments=segments)
    explanation.add(1, (0.0, [(0, 0.5), (3, -0.3), (1, 0.1), (2, 0.01)], 1.0, 0.5))
    return explanation


def test_lime_mask_tints_supporting_superpixels_green_and_opposing_ones_red(tmp_path):
    explanation = quadrant_explanation()
    fig, ax = plot.lime_mask(explanation, 1, num_features=2, alpha=0.5, min_size=4)
    drawn = ax.images[0].get_array()
    np.testing.assert_allclose(drawn[0, 0], 0.25 + 0.5 * np.array(plot.GREEN))
    np.testing.assert_allclose(drawn[3, 3], 0.25 + 0.5 * np.array(plot.RED))
    np.testing.assert_allclose(drawn[0, 3], 0.5)          # weight 0.1: not among the top 2
    np.testing.assert_allclose(drawn[1, 1], plot.YELLOW)  # a boundary
    np.testing.assert_allclose(drawn[plot.segment_boundaries(explanation.segments)],
                               np.tile(plot.YELLOW, (7, 1)))
    saved(fig, tmp_path, "lime_small")
    fig, ax = plot.lime_mask(explanation, 1, positive_only=True, num_features=2, min_size=4)
    drawn = ax.images[0].get_array()
    np.testing.assert_allclose(drawn[3, 3], 0.5)           # negative ones are not shown
    assert not np.allclose(drawn[0, 3], 0.5)               # the second positive one is
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["supports"]


def test_lime_mask_enlarges_small_images_so_that_boundaries_fall_between_pixels(tmp_path):
    fig, ax = plot.lime_mask(quadrant_explanation(), 1)
    drawn = ax.images[0].get_array()
    assert drawn.shape == (320, 320, 3)
    np.testing.assert_allclose(drawn[158, 0], drawn[0, 0])  # superpixel 0 up to row 159
    np.testing.assert_allclose(drawn[159, 0], plot.YELLOW)  # the last row of superpixel 0
    saved(fig, tmp_path, "lime_large")


def test_lime_mask_needs_an_image_explanation():
    with pytest.raises(ValueError, match="no image and segments"):
        plot.lime_mask(Explanation(), 1)
    with pytest.raises(KeyError, match="label 7 was not explained"):
        plot.lime_mask(quadrant_explanation(), 7)


# -- bars and text ---------------------------------------------------------------------------
def test_feature_bars_are_sorted_by_magnitude_with_the_largest_on_top(tmp_path):
    weights = [("a", 0.1), ("b", -0.7), ("c", 0.4), ("d", -0.05)]
    fig, ax = plot.feature_bars(weights, title="weights")
    bars = ax.patches
    assert [b.get_width() for b in bars] == pytest.approx([-0.05, 0.1, 0.4, -0.7])
    assert [t.get_text() for t in ax.get_yticklabels()] == ["d", "a", "c", "b"]
    green, red = matplotlib.colors.to_rgba(plot.GREEN), matplotlib.colors.to_rgba(plot.RED)
    assert [b.get_facecolor() for b in bars] == [red, green, green, red]
    saved(fig, tmp_path, "bars")
    fig, ax = plot.feature_bars(dict(weights), num_features=2)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["c", "b"]


def test_feature_bars_takes_an_explanation_and_shows_its_top_ten():
    explanation = Explanation(feature_names=[f"f{i}" for i in range(12)])
    explanation.add(0, (0.0, [(i, 1.0 / (i + 1)) for i in range(12)], 1.0, 0.0))
    fig, ax = plot.feature_bars(explanation)
    assert len(ax.patches) == 10
    assert ax.get_yticklabels()[-1].get_text() == "f0"
    assert ax.get_title() == "Local explanation for label 0"


def text_rows(fig, ax):
    """The height of each text's anchor, in pixels: one value per line."""
    return [round(t.get_transform().transform(t.get_position())[1], 3) for t in ax.texts]


def test_text_attr_colours_each_word_by_its_weight_and_wraps_long_texts(tmp_path):
    tokens = ("the film was not good but the actors were wonderful and the music was "
              "great " * 3).split()
    weights = np.linspace(-1, 1, len(tokens))
    fig, ax = plot.text_attr(tokens, tg.tensor(weights), title="sentiment")
    words = [t for t in ax.texts if t.get_text() != "sentiment"]
    assert [t.get_text() for t in words] == tokens
    first, last = words[0].get_bbox_patch(), words[-1].get_bbox_patch()
    np.testing.assert_allclose(first.get_facecolor(), plot.RED + (0.85,))
    np.testing.assert_allclose(last.get_facecolor(), plot.GREEN + (0.85,))
    rows = text_rows(fig, ax)[:-1]  # the title comes last
    assert len(set(rows)) >= 3 and rows == sorted(rows, reverse=True)  # top to bottom
    saved(fig, tmp_path, "text")


def test_text_attr_takes_a_string_and_a_dict_of_word_weights(tmp_path):
    fig, ax = plot.text_attr("good plot $5 bad", {"good": 2.0, "bad": -1.0})
    assert [t.get_text() for t in ax.texts] == ["good", "plot", "$5", "bad"]
    assert ax.texts[1].get_bbox_patch().get_facecolor()[3] == 0.0  # weight 0: no colour
    assert ax.texts[3].get_bbox_patch().get_facecolor()[3] == pytest.approx(0.425)
    assert len(set(text_rows(fig, ax))) == 1
    saved(fig, tmp_path, "short_text")
    with pytest.raises(ValueError, match="3 weights for 4 tokens"):
        plot.text_attr("good plot $5 bad", [1, 2, 3])


def test_text_attr_draws_into_a_given_axes():
    fig = Figure(figsize=(8, 4))
    top, bottom = fig.subplots(2, 1)
    got_fig, got_ax = plot.text_attr("a b c", [1, -1, 0], ax=bottom)
    assert got_fig is fig and got_ax is bottom and len(bottom.texts) == 3
    assert not top.texts
