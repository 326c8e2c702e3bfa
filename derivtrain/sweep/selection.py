"""The metric a sweep selects on: each job returns it (Hydra's Optuna sweeper optimizes it) and the
summary ranks the jobs by it.

sweep.monitor=auto reads val/accuracy (classifiers), val/r2 (regression) or val/log_likelihood
(density models). Selection reads validation metrics, never test ones: a model picked by its test
score has an optimistic test score.
"""
import math

from derivtrain.config.schemas.sweep import METRICS_BY_TASK
from derivtrain.errors import ConfigError
from derivtrain.trainer.early_stopping import HIGHER_IS_BETTER

AUTO_MONITORS = ("val/accuracy", "val/r2", "val/log_likelihood")  # the first a run has decides


def check_monitor_available(sweep, objective, spec) -> None:
    """Before training: the monitored metric is one this run will report."""
    if sweep is None or sweep.monitor == "auto":
        return
    from derivtrain.trainer.metrics import has_log_likelihood

    task = "density" if "density" in objective.model.tasks else spec.task
    split, name = sweep.monitor.split("/", 1)
    available = [n for n in METRICS_BY_TASK[task] if n != "log_likelihood" or has_log_likelihood(objective)]
    if name not in available:
        choices = ", ".join(f"{split}/{n}" for n in available)
        raise ConfigError(f"sweep.monitor={sweep.monitor} is not reported for this {task} model; choices: {choices}")


def check_selectable(cfg) -> None:
    """In a sweep: a validation split to select on (test rows are for reporting only)."""
    monitors_val = cfg.sweep.monitor == "auto" or cfg.sweep.monitor.startswith("val/")
    if monitors_val and cfg.data.val_size == 0 and not cfg.data.get("cv_folds"):
        raise ConfigError(f"data.val_size=0 leaves no validation rows for the sweep to select on "
                          f"(sweep.monitor={cfg.sweep.monitor}); set data.val_size=0.1 or data.cv_folds=5")


def monitored_key(monitor: str, metrics: dict) -> str | None:
    """The metric `monitor` stands for in these metrics (auto: the first of AUTO_MONITORS), or None."""
    if monitor != "auto":
        return monitor if monitor in metrics else None
    return next((key for key in AUTO_MONITORS if key in metrics), None)


def direction(monitor: str, mode: str) -> str:
    """max or min. auto: max for accuracy, f1_macro, r2 and log_likelihood (every auto monitor)."""
    if mode != "auto":
        return mode
    return "max" if monitor == "auto" or monitor.split("/")[-1] in HIGHER_IS_BETTER else "min"


def optuna_direction(monitor: str, mode: str) -> str:
    """hydra.sweeper.direction for Hydra's Optuna sweeper (the resolver derivtrain_direction)."""
    return "maximize" if direction(monitor, mode) == "max" else "minimize"


def selection_value(metrics: dict, sweep) -> tuple[str | None, float | None]:
    """(key, value) a job returns to its sweeper; (None, None) when the run has no such metric."""
    key = monitored_key(sweep.monitor, metrics)
    return (key, float(metrics[key])) if key else (None, None)


def is_usable(value) -> bool:
    """A number a sweeper can compare (Optuna refuses NaN; a NaN r2 means constant targets)."""
    return value is not None and math.isfinite(value)
