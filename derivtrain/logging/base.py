"""NullLogger: what a run may report, and logger=none (metrics.json and checkpoints, no event files)."""


class NullLogger:
    # whether curves are recorded: a fitter computes what only a curve shows (the certified solver's
    # gap at every iteration) only for a logger that draws it
    draws_curves = False

    def log_run_start(self, cfg, task: str) -> None:
        """Before training: the resolved config, and what the dashboard should show for `task`
        (classification, regression or density)."""

    def log_scalars(self, scalars: dict, step: int) -> None:
        """Curves: values logged at several steps of training (`train/loss`, `val/accuracy`, ...)."""

    def log_histograms(self, model, step: int) -> None:
        pass

    def log_text(self, tag: str, text: str) -> None:
        pass

    def log_results(self, cfg, metrics: dict) -> None:
        """After the run: the one-off numbers (test metrics, analysis) and the hyper-parameters."""

    def log_figure(self, tag: str, make_figure, step: int = 0) -> None:
        """make_figure() builds a matplotlib Figure. A callable, so that loggers that keep no
        figures (logger=none) never build one and never import matplotlib."""

    def flush(self) -> None:
        """What was logged so far goes to disk (before each checkpoint: a killed run keeps its points)."""

    def close(self) -> None:
        pass
