"""The `sweep` group: what a sweep selects on (derivtrain/sweep/selection.py), and its checks."""
from dataclasses import dataclass

from derivtrain.errors import ConfigError, choice_error

MODES = ("auto", "max", "min")
# what evaluate() reports per task (derivtrain/trainer/metrics.py); log_likelihood only for likelihood models
METRICS_BY_TASK = {"classification": ("loss", "accuracy", "f1_macro", "log_likelihood"),
                   "regression": ("loss", "mse", "r2", "log_likelihood"),
                   "density": ("loss", "log_likelihood", "aic", "bic")}
METRIC_NAMES = tuple(sorted({name for names in METRICS_BY_TASK.values() for name in names}))
MONITORS = ("auto", *(f"{split}/{name}" for split in ("val", "train") for name in METRIC_NAMES))


@dataclass
class SweepSchema:
    """What a sweep selects on (derivtrain/sweep/selection.py): each job returns it, the summary ranks by it."""
    monitor: str = "auto"  # auto (val/accuracy, val/r2 or val/log_likelihood by task) | val/<metric> | train/<metric>
    mode: str = "auto"  # auto (max for accuracy, f1_macro, r2, log_likelihood; min otherwise) | max | min


SCHEMAS = {"sweep": SweepSchema}


def check_sweep_config(sweep) -> None:
    """sweep.monitor names a validation (or training) metric; sweep.mode is auto, max or min."""
    if str(sweep.monitor).startswith("test/"):
        raise ConfigError(f"sweep.monitor={sweep.monitor}: a sweep selects on validation and reports test once; "
                          f"use sweep.monitor=val/{str(sweep.monitor)[5:]}")
    if sweep.monitor not in MONITORS:
        raise choice_error("sweep.monitor", sweep.monitor, MONITORS)
    if sweep.mode not in MODES:
        raise choice_error("sweep.mode", sweep.mode, MODES)
