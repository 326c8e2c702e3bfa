"""Progress over epochs: a tqdm bar on a terminal; elsewhere (a log file, CI) one line per interval.

Under torchrun only rank 0 reports: every rank trains the same epochs, one line each is noise.
Numbers are shown as in the final metrics table (4 decimals), the same keys in the same order.
"""
import os
import sys
import time

from derivtrain.logging.console import log

LINES_PER_RUN = 10  # a line every ~10% of the epochs ...
MAX_SECONDS_BETWEEN_LINES = 30.0  # ... and at least every 30 s, so a long run shows it is alive


class Progress:
    def __init__(self, total_epochs: int, initial: int, mode="auto"):
        mode = str(mode).lower()  # "auto", "true"/"false", or the bools Hydra makes of them
        self.silent = int(os.environ.get("RANK", "0")) != 0
        on_terminal = sys.stderr.isatty() if mode == "auto" else mode == "true"
        self.total, self.bar = total_epochs, None
        self.every = max(1, total_epochs // LINES_PER_RUN)
        self.last_line = time.monotonic()
        if on_terminal and not self.silent:
            from tqdm import tqdm

            self.bar = tqdm(total=total_epochs, initial=initial, unit="epoch", dynamic_ncols=True, leave=False)

    def update(self, epoch: int, metrics: dict) -> None:
        """Called once per epoch with host-side numbers already synced at the logging interval."""
        if self.silent:
            return
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(format_metrics(metrics), refresh=False)
            return
        now = time.monotonic()
        if epoch % self.every == 0 or epoch == self.total or now - self.last_line >= MAX_SECONDS_BETWEEN_LINES:
            self.last_line = now
            shown = " ".join(f"{k}={v}" for k, v in format_metrics(metrics).items())
            log.info("epoch %d/%d %s", epoch, self.total, shown)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def format_metrics(metrics: dict) -> dict:
    """{name: text}: train/* before val/*, each as format_number writes it (the final table's format)."""
    return {k: format_number(metrics[k]) for k in sorted(metrics, key=lambda k: (not k.startswith("train/"), k))}


def format_number(value: float) -> str:
    """4 decimals, or 3 significant digits where 4 decimals would hide the number: an optimality
    gap of 4.6e-07 printed as 0.0000 beside `converged False` reads as a contradiction."""
    if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e6):
        return f"{value:.3g}"
    return f"{value:.4f}"
