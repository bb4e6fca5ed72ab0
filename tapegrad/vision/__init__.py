"""torchvision's names for tapegrad: ``datasets``, ``transforms``, ``models``, ``utils``
(image grids), ``io`` (image files) and ``ops``.

    from tapegrad.vision import datasets, models, transforms, utils
    data = datasets.FakeData(size=64, image_size=(3, 32, 32))
    net = models.resnet18(num_classes=10)
    utils.save_image(tg.rand(16, 3, 32, 32), "grid.png", nrow=4)

``datasets`` and ``transforms`` are the ones in ``tapegrad.data``, under the names
torchvision gives them.
"""
from . import datasets, io, models, ops, transforms, utils

__all__ = ["datasets", "io", "models", "ops", "transforms", "utils"]
