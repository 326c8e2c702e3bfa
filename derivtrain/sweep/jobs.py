"""One job of a sweep: its folder name, its label, and what a failed job leaves behind.

A job's folder (hydra.sweep.subdir) is `<job number>_<the overrides the sweep varies>`, e.g.
`3_model=svm,optim.lr=0.1` (Hydra's hydra.job.override_dirname; the CLI excludes the overrides
every job shares): TensorBoard names each run by its folder, so `tensorboard --logdir <sweep
folder>` shows which run is which. The number keeps names unique.
"""
import json
import re
import sys
import traceback
from pathlib import Path

from derivtrain.writes import write_text

FAILED_FILE = "failed.json"  # {"reason": one line, "exit_code": 1 or 2}, beside the job's .hydra/
MAX_FOLDER_NAME = 120  # characters; file systems allow 255, and TensorBoard's run list stays readable


def job_folder_name(number, overrides: str) -> str:
    """`3_model=svm,optim.lr=0.1` from 3 and "model=svm,optim.lr=0.1": characters outside
    [A-Za-z0-9._=,+-] (a '/' in a path, brackets) become '_'; at most MAX_FOLDER_NAME characters."""
    safe = re.sub(r"[^A-Za-z0-9._=,+\-]", "_", str(overrides))
    return f"{number}_{safe}"[:MAX_FOLDER_NAME] if safe else str(number)


def job_label(number, overrides) -> str:
    return f"job {number}: {' '.join(overrides) or '(defaults)'}"


class FailedJob:
    """What a failed job returns to Hydra's sweeper instead of a number.

    float() of it raises: Hydra's Optuna sweeper then marks the trial failed (its warning quotes
    this reason) and runs the others. The job itself does not raise: Hydra's sweepers stop the
    whole sweep on a job's exception, before the summary is written.
    """

    def __init__(self, reason: str):
        self.reason = reason

    def __float__(self) -> float:
        raise ValueError(self.reason)

    def __repr__(self) -> str:
        return f"failed: {self.reason}"


def record_failure(run_dir, reason: str, exit_code: int) -> FailedJob:
    """Write the job's failed.json (read by the summary and by the CLI's exit code)."""
    Path(run_dir).mkdir(parents=True, exist_ok=True)
    write_text(run_dir, FAILED_FILE, json.dumps({"reason": reason, "exit_code": exit_code}) + "\n")
    return FailedJob(reason)


def job_result(metrics: dict, cfg, run_dir, label: str | None):
    """What `_train` returns: the monitored metric (sweep.monitor). In a sweep (label given) a job
    without a usable one (NaN r2, no validation metric) is recorded as failed instead."""
    from derivtrain.sweep.selection import is_usable, selection_value

    key, value = selection_value(metrics, cfg.sweep) if "sweep" in cfg else (None, None)
    if label is None or is_usable(value):
        return value
    reason = f"{key} is {value}" if key else f"no {cfg.sweep.monitor} metric (is there a validation split?)"
    print(f"derivtrain: {label} failed: {reason}", file=sys.stderr)
    return record_failure(run_dir, reason, exit_code=1)


def job_failed(exc: Exception, run_dir, label: str) -> FailedJob:
    """A sweep job's error: one line on stderr (and a bug's traceback) and in its failed.json.
    Exit codes as the CLI's: 2 bad configuration or input, 1 divergence or a bug."""
    from derivtrain.error_messages import describe_user_error
    from derivtrain.trainer.guard import TrainingDiverged

    if isinstance(exc, TrainingDiverged):
        reason, code = str(exc), 1
    elif (message := describe_user_error(exc)) is not None:
        reason, code = message, 2
    else:  # a bug: where it happened matters
        traceback.print_exception(exc)
        first = str(exc).strip().splitlines()
        reason, code = f"{type(exc).__name__}: {first[0] if first else ''}", 1
    print(f"derivtrain: {label} failed: {reason}", file=sys.stderr)
    return record_failure(run_dir, reason, code)


def read_failure(job_dir: Path) -> dict | None:
    path = job_dir / FAILED_FILE
    return json.loads(path.read_text()) if path.is_file() else None


def register_resolvers() -> None:
    """The resolvers conf/config.yaml and the CLI use: job folder names, Optuna's direction."""
    from omegaconf import OmegaConf

    from derivtrain.sweep.selection import optuna_direction

    OmegaConf.register_new_resolver("derivtrain_job_folder", job_folder_name, replace=True)
    OmegaConf.register_new_resolver("derivtrain_direction", optuna_direction, replace=True)
