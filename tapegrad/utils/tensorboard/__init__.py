"""TensorBoard logging (PyTorch's ``torch.utils.tensorboard``), through the ``tensorboard``
package: ``pip install tapegrad[tensorboard]``.

    from tapegrad.utils.tensorboard import SummaryWriter
    with SummaryWriter("runs/mnist") as writer:
        for step, loss in enumerate(losses):
            writer.add_scalar("loss/train", loss, step)
    # then: tensorboard --logdir runs

Where to read: ``writer.py`` (SummaryWriter: where the events go), ``summary.py`` (how a
scalar, a histogram, an image or a text becomes a ``Summary`` record) and ``graph.py`` (the
tape as the GraphDef that TensorBoard draws).
"""
try:
    import tensorboard  # noqa: F401
except ImportError as error:
    raise ImportError("tapegrad.utils.tensorboard writes event files with the tensorboard "
                      "package: pip install tensorboard (or tapegrad[tensorboard])") from error

from .writer import SummaryWriter

__all__ = ["SummaryWriter"]
