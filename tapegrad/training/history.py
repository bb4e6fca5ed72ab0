"""``History``: what ``fit`` records, one value per epoch under each name."""


class History(dict):
    """A dict from a name to a list with one value per epoch, filled by ``fit``.

    The names:

    - ``"loss"``: the training loss, the mean over the epoch's samples (each batch's loss
      weighted by its size; the loss is measured while the weights change, as Keras does);
    - one entry per metric, e.g. ``"accuracy"``, measured the same way on the training
      batches;
    - ``"val_loss"``, ``"val_accuracy"``, …: the same on ``val_loader`` at the end of the
      epoch, in eval mode (only when a ``val_loader`` is given);
    - ``"lr"``: the learning rate of the optimizer's first parameter group at the start of
      the epoch (with a per-batch scheduler it changes during the epoch);
    - ``"time"``: the epoch's wall-clock time in seconds, validation included.

    ``history.epochs`` is the list of epoch numbers, ``[1, 2, …]``, for plotting.
    """

    @property
    def epochs(self):
        return list(range(1, len(self.get("loss", ())) + 1))

    def append(self, values):
        """Add one epoch's values (a dict name → number)."""
        for name, value in values.items():
            self.setdefault(name, []).append(float(value))

    def __repr__(self):
        last = ", ".join(f"{name}={values[-1]:.4g}" for name, values in self.items() if values)
        return f"History({len(self.epochs)} epochs{': last ' + last if last else ''})"


__all__ = ["History"]
