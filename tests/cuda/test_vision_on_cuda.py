"""Image grids, image files and TensorBoard summaries from cuda tensors: the grid stays on
cuda and equals the cpu's; files and summaries take the pixels from the device."""
import numpy as np
import pytest

import tapegrad as tg
from tapegrad.vision.io import encode_png, read_image
from tapegrad.vision.utils import make_grid, save_image

pytestmark = pytest.mark.cuda


def test_make_grid_on_cuda_stays_there_and_equals_the_cpu_grid():
    batch = tg.rand(5, 3, 4, 6)
    kwargs = {"nrow": 2, "padding": 1, "pad_value": 0.25, "normalize": True, "scale_each": True}
    on_gpu = make_grid(batch.to("cuda"), **kwargs)
    assert on_gpu.device.type == "cuda"
    np.testing.assert_allclose(on_gpu.cpu().numpy(), make_grid(batch, **kwargs).numpy(),
                               atol=1e-6)


def test_files_from_cuda_tensors(tmp_path):
    batch = tg.rand(4, 3, 5, 5)
    save_image(batch.to("cuda"), tmp_path / "gpu.png")
    save_image(batch, tmp_path / "cpu.png")
    assert tg.equal(read_image(tmp_path / "gpu.png"), read_image(tmp_path / "cpu.png"))
    image = tg.randint(0, 256, (3, 2, 2)).to(dtype=tg.uint8)
    assert tg.equal(encode_png(image.to("cuda")), encode_png(image))


def test_summaries_from_cuda_tensors(tmp_path):
    pytest.importorskip("tensorboard")
    from tapegrad.utils.tensorboard import SummaryWriter
    with SummaryWriter(tmp_path) as writer:
        writer.add_scalar("x", tg.tensor(0.5, device="cuda"), 0)
        writer.add_histogram("h", tg.randn(100, device="cuda"), 0)
        writer.add_image("i", tg.rand(3, 4, 4, device="cuda"), 0)
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    run = EventAccumulator(str(tmp_path)).Reload()
    assert run.Scalars("x")[0].value == 0.5 and run.Histograms("h")[0].histogram_value.num == 100
    assert (run.Images("i")[0].height, run.Images("i")[0].width) == (4, 4)
