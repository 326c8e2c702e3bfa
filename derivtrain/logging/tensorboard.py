"""TensorBoardLogger: one event file in the run folder (logger=tensorboard).

Tag names, the custom-scalars layout and the HPARAMS row come from dashboard.py; the summaries
are built from TensorBoard's protos (summaries.py); the file is written in batches by events.py
(TensorBoard's own writer costs 50-80 us an event, as much as a small training step).
"""
import derivtrain.logging.dashboard as dashboard
from derivtrain.logging.base import NullLogger

HISTOGRAM_BUCKETS = 30


class TensorBoardLogger(NullLogger):
    draws_curves = True

    def __init__(self, run_dir, histogram_every_n_epochs: int = 10, purge_step=None):
        import derivtrain.logging.summaries as summaries
        from derivtrain.logging.events import EventFile

        self.summary = summaries
        self.events = EventFile(run_dir, purge_step)  # purge_step: where a resumed run goes on
        self.histogram_every_n_epochs = histogram_every_n_epochs
        self.task = ""  # known at log_run_start
        self.tags = {}  # a curve's name -> its tag (dashboard.curve_tag), one entry per curve
        self.charts = None  # the custom-scalars layout last written

    def log_run_start(self, cfg, task: str) -> None:
        from omegaconf import OmegaConf

        self.task = task
        self.log_text(dashboard.CONFIG_TEXT, "```\n" + OmegaConf.to_yaml(cfg, resolve=True) + "\n```")

    def log_scalars(self, scalars: dict, step: int) -> None:
        tags = self.tags
        if not tags.keys() >= scalars.keys():  # a curve's first point: its tag, perhaps a new chart
            self._new_curves(scalars, step)
        # one event for all of them, built when the file is written
        self.events.add_scalars([(tags[name], float(v)) for name, v in scalars.items()], step)

    def _new_curves(self, names, step: int) -> None:
        """Custom Scalars draws only charts the run has data for (a certified run logs no learning
        rate), and which curves a fitter logs is known only as they come: the layout is written
        again, at this step, when a chart gains a curve. TensorBoard reads the last one."""
        for name in names:
            self.tags.setdefault(name, dashboard.curve_tag(self.task, name))
        if not self.task:  # logged before log_run_start (a test, a crash): no task, no charts
            return
        charts = dashboard.layout(self.task, self.tags.values())
        if charts != self.charts:
            self.charts = charts
            self.events.add_summary(self.summary.custom_scalars(charts), step)

    def log_histograms(self, model, step: int) -> None:
        for name, p in model.named_parameters():
            if p.numel() < 2:  # a histogram of one number is a spike: nothing to read
                continue
            tag = dashboard.histogram_tag(self.task, name)  # after the task's curves (dashboard.py)
            self._histogram(tag, p, step)
            if p.grad is not None:
                self._histogram(f"{tag}/grad", p.grad, step)

    def _histogram(self, tag: str, values, step: int) -> None:
        # 30 equal buckets between min and max, as tf.summary.histogram: SummaryWriter's default
        # (~1,500 exponential edges, ~600 used) made a ~9 kB event, whose checksum alone took ~4 ms
        import numpy as np

        values = values.detach().cpu().numpy()
        finite = values if np.isfinite(values).all() else values[np.isfinite(values)]
        if finite.size == 0:  # a skipped step's NaN gradient: nothing to draw
            return
        summary = self.summary.histogram(tag, finite, HISTOGRAM_BUCKETS)
        self.events.add_summary(summary, step)

    def log_text(self, tag: str, text: str) -> None:
        self.events.add_summary(self.summary.text(tag, text))

    def log_results(self, cfg, metrics: dict) -> None:
        self.log_text(dashboard.RESULTS_TEXT, dashboard.results_markdown(metrics))
        # SummaryWriter.add_hparams would open a second writer in a new sub-folder and add the
        # metrics as one-point charts; the session summaries go into this run's own event file.
        # No experiment summary: TensorBoard then builds the HPARAMS table from every run's
        # session (a sweep mixing tasks shows all their columns) and takes the curves as metrics
        # (their last values: val/* among them); test/* are in the results table.
        for summary in self.summary.hparams_session(dashboard.hparams(cfg)):
            self.events.add_summary(summary)

    def log_figure(self, tag: str, make_figure, step: int = 0) -> None:
        # rendered with the Agg canvas directly: SummaryWriter.add_figure imports pyplot to close it
        import numpy as np
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        canvas = FigureCanvasAgg(make_figure())
        canvas.draw()
        pixels = np.asarray(canvas.buffer_rgba())[:, :, :3]
        from torch.utils.tensorboard import summary  # PNG encoding: only when an analysis draws

        self.events.add_summary(summary.image(tag, pixels, dataformats="HWC"), step)

    def flush(self) -> None:
        self.events.flush()

    def close(self) -> None:
        self.events.close()
