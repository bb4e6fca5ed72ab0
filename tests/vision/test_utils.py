"""make_grid's pixel layout, normalisation and gradients; save_image's files."""
import io

import numpy as np
import pytest
from matplotlib import image as mpimg

import tapegrad as tg
from tapegrad.autograd.gradcheck import gradcheck
from tapegrad.vision.utils import make_grid, save_image


def numbered(n, c, h, w):
    """Images whose pixels count up from 1, so each one's place in the grid can be read off."""
    return tg.arange(1, n * c * h * w + 1, dtype=tg.float32).reshape(n, c, h, w)


def test_five_images_in_rows_of_two_with_padding_one():
    grid = make_grid(numbered(5, 3, 2, 3), nrow=2, padding=1)
    # 3 rows of (2 + 1) pixels + 1, 2 columns of (3 + 1) pixels + 1
    assert grid.shape == (3, 10, 9)
    channel0 = grid[0].numpy()
    image = numbered(5, 3, 2, 3).numpy()
    for k in range(5):
        row, column = divmod(k, 2)
        top, left = 1 + row * 3, 1 + column * 4
        np.testing.assert_array_equal(channel0[top:top + 2, left:left + 3], image[k, 0])
    padding = np.ones_like(channel0, dtype=bool)
    for k in range(5):
        row, column = divmod(k, 2)
        padding[1 + row * 3:3 + row * 3, 1 + column * 4:4 + column * 4] = False
    assert (channel0[padding] == 0).all()  # the gaps, the border and the empty sixth cell


def test_pad_value_fills_the_gaps_and_the_empty_cells():
    grid = make_grid(tg.zeros(3, 3, 2, 2), nrow=2, padding=2, pad_value=0.5).numpy()
    assert grid.shape == (3, 10, 10)
    assert (grid[:, 6:8, 6:8] == 0.5).all()   # the fourth cell, which has no image
    assert (grid[:, 2:4, 2:4] == 0).all() and (grid[:, 0:2, :] == 0.5).all()


def test_nrow_larger_than_the_batch_gives_one_row():
    assert make_grid(tg.zeros(3, 3, 4, 4), nrow=8, padding=2).shape == (3, 8, 20)
    assert make_grid(tg.zeros(3, 3, 4, 4), nrow=1, padding=0).shape == (3, 12, 4)


def test_gray_images_become_rgb_and_one_image_comes_back_unpadded():
    gray = numbered(2, 1, 2, 2)
    grid = make_grid(gray, padding=0)
    assert grid.shape == (3, 2, 4)
    assert tg.equal(grid[0], grid[1]) and tg.equal(grid[1], grid[2])
    one = numbered(1, 3, 4, 5)
    assert tg.equal(make_grid(one, padding=7), one[0])
    assert make_grid(tg.zeros(4, 5)).shape == (3, 4, 5)  # (H, W)
    assert make_grid(tg.zeros(1, 4, 5)).shape == (3, 4, 5)  # (1, H, W)


def test_a_list_of_images_is_stacked():
    images = [tg.full((3, 2, 2), float(k)) for k in range(3)]
    assert tg.equal(make_grid(images, padding=1), make_grid(tg.stack(images), padding=1))


def test_normalize_maps_the_batch_range_to_0_1():
    batch = tg.tensor([[[[-2.0, 0.0]]], [[[1.0, 2.0]]]])
    grid = make_grid(batch, padding=0, normalize=True)
    np.testing.assert_allclose(grid[0].numpy(), [[0, 0.5, 0.75, 1]])


def test_scale_each_normalises_every_image_by_its_own_range():
    batch = tg.tensor([[[[-2.0, 0.0]]], [[[1.0, 2.0]]]])
    grid = make_grid(batch, padding=0, normalize=True, scale_each=True)
    np.testing.assert_allclose(grid[0].numpy(), [[0, 1, 0, 1]])


def test_value_range_clamps_then_scales():
    batch = tg.tensor([[[[-1.0, 0.25]]], [[[0.5, 3.0]]]])
    grid = make_grid(batch, padding=0, normalize=True, value_range=(0.0, 1.0))
    np.testing.assert_allclose(grid[0].numpy(), [[0, 0.25, 0.5, 1]])
    with pytest.raises(TypeError, match="value_range has to be a tuple"):
        make_grid(batch, normalize=True, value_range=[0, 1])


def test_a_constant_image_normalises_without_dividing_by_zero():
    grid = make_grid(tg.full((2, 3, 2, 2), 4.0), normalize=True, scale_each=True)
    assert np.isfinite(grid.numpy()).all() and (grid.numpy() == 0).all()


def test_normalize_leaves_the_input_alone():
    batch = tg.tensor([[[[-2.0, 4.0]]], [[[1.0, 2.0]]]])
    make_grid(batch, normalize=True)
    assert batch.tolist() == [[[[-2.0, 4.0]]], [[[1.0, 2.0]]]]


def test_uint8_images_keep_their_dtype():
    grid = make_grid(tg.full((2, 3, 2, 2), 9, dtype=tg.uint8), padding=1, pad_value=255)
    assert grid.dtype is tg.uint8 and grid.numpy().max() == 255 and grid.numpy().min() == 9


def test_gradients_flow_back_to_each_image():
    batch = tg.randn(3, 2, 2, 3, dtype=tg.float64, requires_grad=True)
    assert gradcheck(lambda x: make_grid(x, nrow=2, padding=1, pad_value=0.3), (batch,))
    assert gradcheck(lambda x: make_grid(x, normalize=True, value_range=(-1.0, 1.0)), (batch,))


def test_bad_inputs_say_what_was_expected():
    with pytest.raises(TypeError, match="tensor or list of tensors expected, got ndarray"):
        make_grid(np.zeros((2, 3, 4, 4)))
    with pytest.raises(TypeError, match="list containing int"):
        make_grid([tg.zeros(3, 2, 2), 3])
    with pytest.raises(ValueError, match=r"got shape \(1, 2, 3, 4, 5\)"):
        make_grid(tg.zeros(1, 2, 3, 4, 5))


# -- save_image ----------------------------------------------------------------------------------

def test_save_image_writes_the_grid_as_8_bit_png(tmp_path):
    batch = tg.rand(5, 3, 6, 7)
    path = tmp_path / "grid.png"
    save_image(batch, path, nrow=3, padding=1)
    expected = np.floor(make_grid(batch, nrow=3, padding=1).numpy() * 255 + 0.5).clip(0, 255)
    read_back = mpimg.imread(path)  # matplotlib's own PNG reader: floats k / 255
    assert read_back.shape == (15, 25, 3)
    np.testing.assert_array_equal(np.round(read_back * 255), expected.transpose(1, 2, 0))


def test_save_image_clamps_values_outside_0_1(tmp_path):
    save_image(tg.tensor([[[[-1.0, 0.5, 2.0]]]]), tmp_path / "x.png")
    assert (np.round(mpimg.imread(tmp_path / "x.png") * 255)[0, :, 0] == [0, 128, 255]).all()


def test_save_image_writes_other_formats_and_file_objects(tmp_path):
    save_image(tg.rand(2, 3, 8, 8), tmp_path / "grid.jpg")
    assert mpimg.imread(tmp_path / "grid.jpg").shape == (12, 22, 3)
    buffer = io.BytesIO()
    save_image(tg.rand(2, 3, 8, 8), buffer, format="png")
    assert buffer.getvalue()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="format="):
        save_image(tg.rand(2, 3, 8, 8), io.BytesIO())


def test_matches_torchvision_when_it_is_installed():
    pytest.importorskip("torchvision")
    torch = pytest.importorskip("torch")
    from torchvision.utils import make_grid as theirs
    x = np.random.default_rng(0).standard_normal((5, 3, 4, 5)).astype(np.float32)
    for kwargs in ({}, {"nrow": 2, "padding": 1, "pad_value": 0.5},
                   {"normalize": True, "scale_each": True}):
        np.testing.assert_allclose(make_grid(tg.tensor(x), **kwargs).numpy(),
                                   theirs(torch.from_numpy(x), **kwargs).numpy(), atol=1e-6)


def test_make_grid_refuses_an_empty_batch_and_a_row_of_no_images():
    with pytest.raises(ValueError, match="no images to tile"):
        make_grid(tg.zeros(0, 3, 4, 4))
    with pytest.raises(ValueError, match="nrow must be a positive int, got 0"):
        make_grid(tg.zeros(5, 3, 4, 4), nrow=0)
