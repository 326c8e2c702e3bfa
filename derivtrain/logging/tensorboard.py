"""TensorBoardLogger: one event file in the run folder (logger=tensorboard).

Tag names, the custom-scalars layout and the HPARAMS row come from dashboard.py; the summaries
are built from TensorBoard's protos (summaries.py); the file is written in batches by events.py
(TensorBoard's own writer costs 50-80 us an event, as much as a small training step).
"""
import derivtrain.logging.dashboard as dashboard
from derivtrain.logging.base import NullLogger

HISTOGRAM_BUCKETS = 30


class TensorBoardLogger(NullLogger):
    def __init__(self, run_dir, histogram_every_n_epochs: int = 10, purge_step=None):
        import derivtrain.logging.summaries as summaries
        from derivtrain.logging.events import EventFile

        self.summary = summaries
        self.events = EventFile(run_dir, purge_step)  # purge_step: where a resumed run goes on
        self.histogram_every_n_epochs = histogram_every_n_epochs
        self.prefix = ""  # "<task>/" once log_run_start knows the task

    def log_run_start(self, cfg, task: str) -> None:
        from omegaconf import OmegaConf

        self.prefix = dashboard.curve_tag(task, "")
        self.log_text("config", "```\n" + OmegaConf.to_yaml(cfg, resolve=True) + "\n```")
        self.events.add_summary(self.summary.custom_scalars(dashboard.layout(task)))

    def log_scalars(self, scalars: dict, step: int) -> None:
        # one event for all of them, built when the file is written
        self.events.add_scalars([(self.prefix + tag, float(v)) for tag, v in scalars.items()], step)

    def log_histograms(self, model, step: int) -> None:
        for name, p in model.named_parameters():
            if p.numel() < 2:  # a histogram of one number is a spike: nothing to read
                continue
            # under the task, after its curves (dashboard.py)
            self._histogram(f"{self.prefix}weights/{name}", p, step)
            if p.grad is not None:
                self._histogram(f"{self.prefix}weights/{name}/grad", p.grad, step)

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
        self.log_text("results", dashboard.results_markdown(metrics))
        # SummaryWriter.add_hparams would open a second writer in a new sub-folder and add the
        # metrics as one-point charts; the session summaries go into this run's own event file.
        # No experiment summary: TensorBoard then builds the HPARAMS table from every run's
        # session (a sweep mixing tasks shows all their columns) and takes the curves as metrics.
        for summary in self.summary.hparams_session(dashboard.hparams(cfg, metrics)):
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
