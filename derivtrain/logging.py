"""Where training reports go: TensorBoard event files, the progress bar, the `derivtrain` logger.

Only the `derivtrain` logger is configured (Hydra's job logging is off): libraries keep theirs.
TensorBoard is imported only when logger=tensorboard.
"""
import logging
import sys

log = logging.getLogger("derivtrain")


def configure_logging() -> None:
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("[derivtrain] %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False


class NullLogger:
    """logger=none: the run still writes metrics.json and checkpoints, no event files."""

    def log_scalars(self, scalars: dict, step: int) -> None:
        pass

    def log_histograms(self, model, step: int) -> None:
        pass

    def log_text(self, tag: str, text: str) -> None:
        pass

    def log_hparams(self, hparams: dict, metrics: dict) -> None:
        pass

    def log_figure(self, tag: str, make_figure, step: int = 0) -> None:
        """make_figure() builds a matplotlib Figure. A callable, so that loggers that keep no
        figures (logger=none) never build one and never import matplotlib."""
        pass

    def close(self) -> None:
        pass


class TensorBoardLogger(NullLogger):
    def __init__(self, run_dir, histogram_every_n_epochs: int = 10, purge_step=None):
        from torch.utils.tensorboard import SummaryWriter

        # purge_step: a resumed run tells TensorBoard to drop the old file's points from that step
        # on (logged after the checkpoint, before the interruption), so no step appears twice
        self.writer = SummaryWriter(log_dir=str(run_dir), purge_step=purge_step)
        self.histogram_every_n_epochs = histogram_every_n_epochs

    def log_scalars(self, scalars: dict, step: int) -> None:
        for tag, value in scalars.items():
            self.writer.add_scalar(tag, value, step)

    def log_histograms(self, model, step: int) -> None:
        for name, p in model.named_parameters():
            self.writer.add_histogram(f"weights/{name}", p.detach().cpu(), step)
            if p.grad is not None:
                self.writer.add_histogram(f"gradients/{name}", p.grad.detach().cpu(), step)

    def log_text(self, tag: str, text: str) -> None:
        self.writer.add_text(tag, text)

    def log_hparams(self, hparams: dict, metrics: dict) -> None:
        # SummaryWriter.add_hparams would open a second writer in a new sub-folder; writing the
        # three hparams summaries into this writer keeps them in the run's own event file.
        from torch.utils.tensorboard.summary import hparams as hparams_summaries

        clean = {k: v if isinstance(v, (int, float, str, bool)) else str(v) for k, v in hparams.items()}
        for summary in hparams_summaries(clean, metrics):
            self.writer.file_writer.add_summary(summary)
        for tag, value in metrics.items():
            self.writer.add_scalar(tag, value)

    def log_figure(self, tag: str, make_figure, step: int = 0) -> None:
        # rendered with the Agg canvas directly: SummaryWriter.add_figure imports pyplot to close it
        import numpy as np
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        canvas = FigureCanvasAgg(make_figure())
        canvas.draw()
        self.writer.add_image(tag, np.asarray(canvas.buffer_rgba())[:, :, :3], step, dataformats="HWC")

    def close(self) -> None:
        self.writer.close()


def make_logger(cfg, run_dir, purge_step=None):
    if cfg.name == "tensorboard":
        return TensorBoardLogger(run_dir, cfg.histogram_every_n_epochs, purge_step)
    return NullLogger()


class Progress:
    """A tqdm bar over epochs on a terminal; elsewhere a quiet line every ~10% of the epochs."""

    def __init__(self, total_epochs: int, initial: int, mode="auto"):
        mode = str(mode).lower()  # "auto", "true"/"false", or the bools Hydra makes of them
        on_terminal = sys.stderr.isatty() if mode == "auto" else mode == "true"
        self.total, self.bar = total_epochs, None
        self.every = max(1, total_epochs // 10)
        if on_terminal:
            from tqdm import tqdm

            self.bar = tqdm(total=total_epochs, initial=initial, unit="epoch", dynamic_ncols=True, leave=False)

    def update(self, epoch: int, metrics: dict) -> None:
        """Called once per epoch with host-side numbers already synced at the logging interval."""
        shown = {k: f"{v:.4g}" for k, v in metrics.items()}
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(shown, refresh=False)
        elif epoch % self.every == 0 or epoch == self.total:
            log.info("epoch %d/%d %s", epoch, self.total, " ".join(f"{k}={v}" for k, v in shown.items()))

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
