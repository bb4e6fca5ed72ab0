"""``SummaryWriter``: values logged during training, written as TensorBoard event files.

Each ``add_*`` call makes one ``Event`` (wall time, step, a ``Summary``; see ``summary.py``)
and hands it to the tensorboard package's ``EventFileWriter``, which queues it and appends
it to ``log_dir/events.out.tfevents.<time>.<host>…``, flushing every ``flush_secs`` seconds,
when ``max_queue`` events are waiting, and at ``flush()`` / ``close()``.
"""
import os
import socket
import time
from datetime import datetime

import numpy as np  # figures arrive as host arrays
from tensorboard.compat.proto.event_pb2 import Event, SessionLog
from tensorboard.summary.writer.event_file_writer import EventFileWriter

from ... import autograd, creation
from ...autograd.tensor import Tensor
from ...vision.utils import make_grid
from . import summary
from .graph import graph_def, trace


class SummaryWriter:
    """``SummaryWriter(log_dir=None, comment="", purge_step=None, max_queue=10, flush_secs=120,
    filename_suffix="")``, PyTorch's arguments.

    ``log_dir`` defaults to ``runs/<Mon>DD_HH-MM-SS_<host><comment>``. ``purge_step`` tells
    TensorBoard to hide events from an earlier run at that step or later (after a crash and
    a restart from a checkpoint). Every ``add_*`` takes ``global_step`` (the x axis) and
    ``walltime`` (seconds since the epoch; now by default).
    """

    def __init__(self, log_dir=None, comment="", purge_step=None, max_queue=10, flush_secs=120,
                 filename_suffix=""):
        if not log_dir:
            stamp = datetime.now().strftime("%b%d_%H-%M-%S")
            log_dir = os.path.join("runs", f"{stamp}_{socket.gethostname()}{comment}")
        self.log_dir = os.fspath(log_dir)
        self.purge_step = purge_step
        self.max_queue = max_queue
        self.flush_secs = flush_secs
        self.filename_suffix = filename_suffix
        self.file_writer = None
        self.all_writers = {}  # log directory -> EventFileWriter (add_scalars makes more)
        self._get_file_writer()

    def _get_file_writer(self):
        """The writer of ``log_dir``, opened again if ``close()`` closed it (as PyTorch)."""
        if self.file_writer is None:
            self.file_writer = EventFileWriter(self.log_dir, self.max_queue, self.flush_secs,
                                               self.filename_suffix)
            self.all_writers = {self.log_dir: self.file_writer}
            if self.purge_step is not None:
                self.file_writer.add_event(Event(step=self.purge_step,
                                                 file_version="brain.Event:2"))
                self.file_writer.add_event(Event(step=self.purge_step, session_log=SessionLog(
                    status=SessionLog.START)))
                self.purge_step = None
        return self.file_writer

    def get_logdir(self):
        """The directory the event files go to."""
        return self.log_dir

    def _add(self, record, global_step, walltime, writer=None):
        event = Event(wall_time=time.time() if walltime is None else walltime, summary=record)
        if global_step is not None:
            event.step = int(global_step)
        (writer or self._get_file_writer()).add_event(event)

    def add_scalar(self, tag, scalar_value, global_step=None, walltime=None, new_style=False,
                   double_precision=False):
        """One point of the curve ``tag``: a number, or a one-element tensor or array."""
        value = summary.scalar_value(scalar_value, tag)
        self._add(summary.scalar(tag, value, new_style, double_precision), global_step, walltime)

    def add_scalars(self, main_tag, tag_scalar_dict, global_step=None, walltime=None):
        """Several curves in one chart: each ``tag`` is written as ``main_tag`` in its own run,
        the subdirectory ``log_dir/<main_tag>_<tag>``, which TensorBoard overlays."""
        walltime = time.time() if walltime is None else walltime
        for tag, value in tag_scalar_dict.items():
            run_dir = os.path.join(self._get_file_writer().get_logdir(),
                                   f"{main_tag.replace('/', '_')}_{tag}")
            writer = self.all_writers.get(run_dir)
            if writer is None:
                writer = self.all_writers[run_dir] = EventFileWriter(
                    run_dir, self.max_queue, self.flush_secs, self.filename_suffix)
            record = summary.scalar(main_tag, summary.scalar_value(value, main_tag))
            self._add(record, global_step, walltime, writer)

    def add_histogram(self, tag, values, global_step=None, bins="tensorflow", walltime=None,
                      max_bins=None):
        """The distribution of ``values`` (a tensor or array of any shape). ``bins``: numpy's
        (a count, edges, or a rule such as "auto"), or "tensorflow", exponential buckets."""
        if isinstance(bins, str) and bins == "tensorflow":
            bins = summary.exponential_bins()
        self._add(summary.histogram(tag, values, bins, max_bins), global_step, walltime)

    def add_image(self, tag, img_tensor, global_step=None, walltime=None, dataformats="CHW"):
        """One image: floats in [0, 1] (scaled by 255) or uint8, laid out as ``dataformats``."""
        self._add(summary.image(tag, summary.hwc_image(img_tensor, dataformats)),
                  global_step, walltime)

    def add_images(self, tag, img_tensor, global_step=None, walltime=None, dataformats="NCHW"):
        """A batch of images tiled 8 to a row, without gaps, as one image."""
        batch = summary.host_array(img_tensor)
        dataformats = dataformats.upper()
        if sorted(dataformats) != sorted("NCHW") or batch.ndim != 4:
            raise ValueError(f"add_images: dataformats {dataformats!r} does not describe a batch "
                             f"of shape {batch.shape} (use 'NCHW' or 'NHWC')")
        nchw = batch.transpose([dataformats.index(axis) for axis in "NCHW"])
        grid = make_grid(creation.tensor(nchw), nrow=8, padding=0).numpy()
        self.add_image(tag, grid, global_step, walltime, dataformats="CHW")

    def add_figure(self, tag, figure, global_step=None, close=True, walltime=None):
        """A matplotlib figure as an image (a list of figures: one image, side by side as
        ``add_images`` tiles them); ``close`` closes the figures once drawn."""
        if isinstance(figure, (list, tuple)):
            drawn = [summary.figure_image(f, close) for f in figure]
            if len({d.shape for d in drawn}) != 1:
                raise ValueError(f"add_figure: the figures must have one size to be tiled, got "
                                 f"{sorted({d.shape[:2] for d in drawn})}")
            self.add_images(tag, np.stack(drawn), global_step, walltime, dataformats="NHWC")
        else:
            self.add_image(tag, summary.figure_image(figure, close), global_step, walltime,
                           dataformats="HWC")

    def add_hparams(self, hparam_dict, metric_dict, hparam_domain_discrete=None, run_name=None,
                    global_step=None):
        """One row of the HParams dashboard: the run's hyperparameters (numbers, strings,
        bools) and its final metrics, written to the run ``log_dir/<run_name>`` (the time,
        by default), as PyTorch does."""
        experiment, start, end = summary.hparams(hparam_dict, metric_dict, hparam_domain_discrete)
        run_dir = os.path.join(self._get_file_writer().get_logdir(), run_name or str(time.time()))
        with SummaryWriter(log_dir=run_dir) as run:
            for record in (experiment, start, end):
                run._add(record, None, None)
            for tag, value in metric_dict.items():
                run.add_scalar(tag, value, global_step)

    def add_text(self, tag, text_string, global_step=None, walltime=None):
        """A (markdown) string, shown in the text dashboard."""
        self._add(summary.text(tag, text_string), global_step, walltime)

    def add_graph(self, model, input_to_model=None, verbose=False, use_strict_trace=True):
        """The graph of ``model(*input_to_model)``: the operations its forward pass puts on
        the tape, its parameters and inputs, for TensorBoard's graph dashboard.

        The forward pass runs once, in eval mode (so batch norm statistics do not move);
        the modes are restored afterwards and no gradient is computed.
        """
        if input_to_model is None:
            raise ValueError("add_graph: input_to_model is needed to run the forward pass "
                             "whose tape is drawn")
        inputs = ([input_to_model] if isinstance(input_to_model, Tensor)
                  else list(input_to_model))
        # Inputs that require grad, so every operation lands on the tape even when the
        # model's weights are frozen; detached, so the caller's tensors are untouched.
        traced = [t.detach().requires_grad_(t.dtype.is_floating_point) for t in inputs]
        modes = [(module, module.training) for module in model.modules()]
        model.eval()
        try:
            with autograd.enable_grad():
                outputs, calls = trace(model, traced)
        finally:
            for module, training in modes:
                module.training = training
        if not outputs:
            raise ValueError(f"add_graph: {type(model).__name__} returned no tensor, so there "
                             f"is no tape to draw")
        if verbose:
            autograd.print_graph(outputs, params=model)
        event = Event(wall_time=time.time(),
                      graph_def=graph_def(outputs, model, traced, calls).SerializeToString())
        self._get_file_writer().add_event(event)

    def flush(self):
        """Write every queued event to disk now."""
        for writer in self.all_writers.values():
            writer.flush()

    def close(self):
        """Flush and close the event files; a later ``add_*`` opens a new one."""
        for writer in self.all_writers.values():
            writer.flush()
            writer.close()
        self.file_writer = None
        self.all_writers = {}

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        self.close()
