"""Training helpers: ``fit``, ``evaluate`` and ``predict``, classification metrics, and plots.

    from tapegrad.training import fit, evaluate, accuracy, plot_history
    history = fit(model, train_loader, nn.CrossEntropyLoss(), optimizer, epochs=5,
                  val_loader=val_loader, metrics={"accuracy": accuracy})
    plot_history(history, path="history.png")

Where to read: ``fit.py`` (the training loop), ``history.py`` (what it records),
``metrics.py`` (accuracy, top-k, confusion matrix, precision/recall/F1) and ``plots.py``.
"""
from .fit import evaluate, fit, predict
from .history import History
from .metrics import (METRICS, RunningMeans, accuracy, confusion_matrix, precision_recall_f1,
                      resolve_metrics, top_k_accuracy)
from .plots import (plot_confusion_matrix, plot_filters, plot_history, plot_image_grid,
                    plot_lr_schedule)

__all__ = ["History", "METRICS", "RunningMeans", "accuracy", "confusion_matrix", "evaluate",
           "fit", "plot_confusion_matrix", "plot_filters", "plot_history", "plot_image_grid",
           "plot_lr_schedule", "precision_recall_f1", "predict", "resolve_metrics",
           "top_k_accuracy"]
