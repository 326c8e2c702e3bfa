"""One job of a sweep: its folder name, its label, and what a failed job leaves behind.

A job's folder (hydra.sweep.subdir) is `<job number>_<the overrides the sweep varies>`, e.g.
`3_model=svm,optim.lr=0.1` (Hydra's hydra.job.override_dirname; the CLI excludes the overrides
every job shares): TensorBoard names each run by its folder, so `tensorboard --logdir <sweep
folder>` shows which run is which. The number keeps names unique.
"""
import json
import re
from pathlib import Path

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
    (Path(run_dir) / FAILED_FILE).write_text(json.dumps({"reason": reason, "exit_code": exit_code}) + "\n")
    return FailedJob(reason)


def read_failure(job_dir: Path) -> dict | None:
    path = job_dir / FAILED_FILE
    return json.loads(path.read_text()) if path.is_file() else None


def register_resolvers() -> None:
    """The resolvers conf/config.yaml and the CLI use: job folder names, Optuna's direction."""
    from omegaconf import OmegaConf

    from derivtrain.sweep.selection import optuna_direction

    OmegaConf.register_new_resolver("derivtrain_job_folder", job_folder_name, replace=True)
    OmegaConf.register_new_resolver("derivtrain_direction", optuna_direction, replace=True)
