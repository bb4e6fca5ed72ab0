"""Plots: each returns its figure and axes, saves a PNG when given a path, and leaves no
figure open in pyplot (they never go through pyplot)."""
import numpy as np
import pytest
from matplotlib import pyplot
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

import tapegrad as tg
from tapegrad.training import (History, confusion_matrix, plot_confusion_matrix, plot_filters,
                               plot_history, plot_image_grid, plot_lr_schedule)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def no_pyplot_figures_left_open():
    before = pyplot.get_fignums()
    yield
    assert pyplot.get_fignums() == before


def assert_png(path):
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 1000


def history():
    h = History()
    for epoch in range(5):
        h.append({"loss": 1 / (epoch + 1), "accuracy": 0.5 + 0.1 * epoch,
                  "val_loss": 1.2 / (epoch + 1), "val_accuracy": 0.45 + 0.1 * epoch,
                  "lr": 0.1 * 0.5 ** epoch, "time": 0.01})
    return h


def red_frames(ax):
    return [patch for patch in ax.patches
            if isinstance(patch, Rectangle) and patch.get_edgecolor()[:3] == (1, 0, 0)]


# -- curves ------------------------------------------------------------------------------------
def test_plot_history_draws_one_panel_per_quantity_with_train_and_val_curves(tmp_path):
    fig, axes = plot_history(history(), path=tmp_path / "history.png")
    assert isinstance(fig, Figure) and all(isinstance(ax, Axes) for ax in axes)
    assert [ax.get_title() for ax in axes] == ["loss", "accuracy"]  # not lr or time
    assert [line.get_label() for line in axes[0].lines] == ["training", "validation"]
    np.testing.assert_allclose(axes[1].lines[1].get_ydata(), [0.45, 0.55, 0.65, 0.75, 0.85])
    assert_png(tmp_path / "history.png")


def test_plot_history_takes_a_plain_dict_and_chosen_keys():
    fig, axes = plot_history({"loss": [3.0, 2.0, 1.0], "accuracy": [0.1, 0.2, 0.3]},
                             keys=["loss"])
    assert len(axes) == 1 and len(axes[0].lines) == 1
    with pytest.raises(KeyError, match="no 'f1' or 'val_f1' in the history"):
        plot_history(history(), keys=["f1"])
    with pytest.raises(ValueError, match="nothing to plot"):
        plot_history({})


def test_plot_lr_schedule_of_a_history_or_a_list(tmp_path):
    fig, ax = plot_lr_schedule(history(), path=tmp_path / "lr.png")
    assert isinstance(fig, Figure) and isinstance(ax, Axes)
    assert ax.get_xlabel() == "epoch" and list(ax.lines[0].get_xdata()) == [1, 2, 3, 4, 5]
    assert_png(tmp_path / "lr.png")
    fig, ax = plot_lr_schedule([0.1, 0.2, 0.3])
    assert ax.get_xlabel() == "step"


def test_a_plot_can_go_into_axes_of_your_own():
    fig = Figure()
    ax = fig.add_subplot()
    assert plot_lr_schedule([0.1, 0.2], ax=ax) == (fig, ax)


# -- confusion matrix --------------------------------------------------------------------------
def test_plot_confusion_matrix_writes_each_count_in_its_cell(tmp_path):
    matrix = confusion_matrix(tg.tensor([0, 1, 1, 2, 0]), tg.tensor([0, 1, 2, 2, 2]), 3)
    fig, ax = plot_confusion_matrix(matrix, class_names=["cat", "dog", "emu"],
                                    path=tmp_path / "cm.png")
    assert isinstance(fig, Figure) and isinstance(ax, Axes)
    assert [t.get_text() for t in ax.texts] == ["1", "0", "0", "0", "1", "0", "1", "1", "1"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["cat", "dog", "emu"]
    assert ax.get_xlabel() == "predicted class" and ax.get_ylabel() == "true class"
    assert_png(tmp_path / "cm.png")


def test_normalize_divides_each_row_by_its_total():
    fig, ax = plot_confusion_matrix([[3, 1], [0, 0]], normalize=True)
    assert [t.get_text() for t in ax.texts] == ["0.75", "0.25", "0.00", "0.00"]


def test_plot_confusion_matrix_rejects_a_non_square_matrix_and_wrong_names():
    with pytest.raises(ValueError, match=r"square \(C, C\) matrix, got shape \(2, 3\)"):
        plot_confusion_matrix(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="3 class names for a 2×2 matrix"):
        plot_confusion_matrix(np.zeros((2, 2)), class_names=["a", "b", "c"])


# -- image grids -------------------------------------------------------------------------------
def test_plot_image_grid_labels_each_image_and_frames_wrong_predictions_in_red(tmp_path):
    images = tg.rand(10, 1, 28, 28, generator=tg.Generator().manual_seed(0))
    predicted = tg.tensor([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    true = tg.tensor([0, 1, 2, 3, 4, 5, 6, 7, 9, 8])
    fig, ax = plot_image_grid(images, predicted, true, ncols=4, path=tmp_path / "grid.png")
    assert isinstance(fig, Figure) and isinstance(ax, Axes)
    assert len(ax.texts) == 10 and ax.texts[8].get_text() == "pred: 8\ntrue: 9"
    assert [t.get_color() for t in ax.texts].count("red") == 2
    assert len(red_frames(ax)) == 2
    assert ax.get_title() == "2 of 10 wrong (in red)"
    assert_png(tmp_path / "grid.png")


def test_plot_image_grid_takes_scores_class_names_colour_and_unlabelled_images():
    scores = tg.tensor([[0.1, 0.9], [0.8, 0.2]])
    fig, ax = plot_image_grid(tg.rand(2, 3, 8, 8), predicted=scores, true=[1, 1],
                              class_names=["cat", "dog"])
    assert [t.get_text() for t in ax.texts] == ["pred: dog\ntrue: dog", "pred: cat\ntrue: dog"]
    assert ax.images[0].get_array().shape[-1] == 3  # an RGB mosaic
    fig, ax = plot_image_grid(np.random.default_rng(0).normal(size=(3, 8, 8)))  # (N, H, W)
    assert len(ax.texts) == 0 and red_frames(ax) == []
    mosaic = ax.images[0].get_array()
    assert mosaic.min() >= 0 and mosaic.max() <= 1  # normalised, since it left [0, 1]


def test_plot_image_grid_rejects_bad_shapes():
    with pytest.raises(ValueError, match=r"expected images .* got shape \(2, 5, 8, 8\)"):
        plot_image_grid(np.zeros((2, 5, 8, 8)))
    with pytest.raises(ValueError, match=r"predicted must hold one class per image \(2\)"):
        plot_image_grid(np.zeros((2, 8, 8)), predicted=[1, 2, 3])


# -- filters -----------------------------------------------------------------------------------
@pytest.mark.parametrize("in_channels", [1, 3, 4])
def test_plot_filters_shows_each_filter_normalised_in_a_grid(tmp_path, in_channels):
    weight = tg.nn.Parameter(tg.randn(12, in_channels, 5, 5))
    fig, ax = plot_filters(weight, path=tmp_path / "filters.png")
    assert isinstance(fig, Figure) and isinstance(ax, Axes)
    mosaic = ax.images[0].get_array()
    assert mosaic.ndim == (3 if in_channels == 3 else 2)
    assert mosaic.shape[:2] == (2 * 6, 8 * 6)   # 2 rows of 8, each 5 pixels and a 1-pixel gap
    assert mosaic.min() == 0 and mosaic.max() == 1
    assert_png(tmp_path / "filters.png")


def test_plot_filters_needs_a_four_dimensional_weight():
    with pytest.raises(ValueError, match=r"\(out_channels, in_channels, kh, kw\), got shape "
                                         r"\(3, 5\)"):
        plot_filters(tg.randn(3, 5))
