"""TensorBoardLogger: one event file in the run folder (logger=tensorboard).

Tag names, the custom-scalars layout and the HPARAMS row come from dashboard.py; the summaries
are torch.utils.tensorboard's; the file is written in batches by events.py (TensorBoard's own
writer costs 50-80 us an event, as much as a small training step).
"""
from derivtrain.logging import dashboard
from derivtrain.logging.base import NullLogger

HISTOGRAM_BUCKETS = 30


class TensorBoardLogger(NullLogger):
    def __init__(self, run_dir, histogram_every_n_epochs: int = 10, purge_step=None):
        from torch.utils.tensorboard import summary

        from derivtrain.logging.events import EventFile

        self.summary = summary
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
        for summary in _session_summaries(dashboard.hparams(cfg, metrics)):
            self.events.add_summary(summary)

    def log_figure(self, tag: str, make_figure, step: int = 0) -> None:
        # rendered with the Agg canvas directly: SummaryWriter.add_figure imports pyplot to close it
        import numpy as np
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        canvas = FigureCanvasAgg(make_figure())
        canvas.draw()
        pixels = np.asarray(canvas.buffer_rgba())[:, :, :3]
        self.events.add_summary(self.summary.image(tag, pixels, dataformats="HWC"), step)

    def close(self) -> None:
        self.events.close()

def _session_summaries(row: dict) -> list:
    """The HPARAMS plugin's session start (the row's values) and end (success) summaries."""
    from tensorboard.compat.proto.summary_pb2 import Summary, SummaryMetadata
    from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2

    start = plugin_data_pb2.SessionStartInfo()
    for key, value in row.items():
        if isinstance(value, bool):
            start.hparams[key].bool_value = value
        elif isinstance(value, (int, float)):
            start.hparams[key].number_value = value
        else:
            start.hparams[key].string_value = value
    end = plugin_data_pb2.SessionEndInfo(status=api_pb2.Status.Value("STATUS_SUCCESS"))

    def summary(tag, **content):
        data = plugin_data_pb2.HParamsPluginData(version=metadata.PLUGIN_DATA_VERSION, **content)
        plugin = SummaryMetadata.PluginData(plugin_name=metadata.PLUGIN_NAME, content=data.SerializeToString())
        return Summary(value=[Summary.Value(tag=tag, metadata=SummaryMetadata(plugin_data=plugin))])

    return [summary(metadata.SESSION_START_INFO_TAG, session_start_info=start),
            summary(metadata.SESSION_END_INFO_TAG, session_end_info=end)]
