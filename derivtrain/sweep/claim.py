"""A sweep's folder is claimed as a run's is: checked, created and locked before Hydra writes anything
there, and held (derivtrain/lock.py) until the sweep's summary is written.

While the sweep holds it, nothing else writes under it: a second sweep into the same folder is
refused before its launcher rewrites a running job's .hydra/, and a single run is refused a folder
inside it (derivtrain/run_folder.py), so every job folder is the sweep's before its job starts.
A sweep folder is never a run's folder or inside one: its job folders would change a finished run.
"""
import os
from contextlib import contextmanager
from pathlib import Path

from derivtrain.errors import UserError
from derivtrain.lock import FolderInUse, acquire, check_not_inside_a_run, held_by, is_run_folder
from derivtrain.writes import make_folders, remove_empty

# what a sweep leaves in its folder: Hydra's multirun.yaml, derivtrain's record of its jobs and summary
_SWEEP_FILES = ("multirun.yaml", "jobs.json", "summary.csv", "summary.md")
# what a job leaves in its folder
_JOB_FILES = ("metrics.json", "failed.json", ".hydra")


def run_sweep(train, sweep_dir: Path) -> None:
    """`train()` (Hydra's multirun) with its folder claimed and every job it launches recorded; a
    sweeper that gives up after its jobs failed (Optuna with no finished trial, a worker killed)
    still leaves the summary of every job."""
    from derivtrain.sweep.command_line import sweep_outcome
    from derivtrain.sweep.launches import recording_jobs
    from derivtrain.sweep.natural_losses import natural_losses_per_job
    from derivtrain.sweep.summary import write_summary

    # the natural losses wrap the launcher outside the record: jobs.json lists each job's loss=<natural>
    with claimed_sweep(sweep_dir), recording_jobs(sweep_dir), natural_losses_per_job():
        try:
            train()
        except Exception:
            if not sweep_outcome(sweep_dir)[0]:
                raise
            write_summary(sweep_dir)


@contextmanager
def claimed_sweep(sweep_dir: Path):
    folder = Path(os.path.abspath(sweep_dir))
    if folder.is_dir() and (holder := held_by(folder)) is not None:
        raise _in_use(sweep_dir, holder)
    check_sweep_folder(folder)
    created = _create(folder)
    try:
        lock = acquire(folder)
    except FolderInUse:
        remove_empty(created)
        raise _in_use(sweep_dir, held_by(folder) or "another process") from None
    except BaseException:
        remove_empty(created)
        raise
    try:
        if holds_sweep(folder):  # again under the lock: a sweep that ended after the first check
            raise UserError(f"hydra.sweep.dir={sweep_dir} already holds a sweep; pick a new folder")
        yield folder
    except Exception:
        if not any(p.is_dir() for p in folder.iterdir()):
            # refused before its first job: what this sweep wrote goes (both were absent at the claim),
            # so the folder is left as it was, or removed if this sweep made it
            for name in ("multirun.yaml", "jobs.json"):
                (folder / name).unlink(missing_ok=True)
        raise
    finally:
        lock.release()
        remove_empty(created)


def _in_use(sweep_dir, holder: str) -> UserError:
    return UserError(f"hydra.sweep.dir={sweep_dir} is in use by {holder} (a sweep or a run); wait for it "
                     "to finish or pick another folder")


def check_sweep_folder(folder: Path) -> None:
    """A folder a sweep may write its jobs into (UserError, one line, otherwise)."""
    if folder.exists() and not folder.is_dir():
        raise UserError(f"hydra.sweep.dir={folder} is a file; pick a new folder")
    if folder.is_dir() and (is_run_folder(folder) or (folder / "metrics.json").exists()
                            or (folder / "checkpoints").exists()):
        raise UserError(f"hydra.sweep.dir={folder} is a run's folder, which a sweep never changes; "
                        "pick a new folder")
    if folder.is_dir() and holds_sweep(folder):
        raise UserError(f"hydra.sweep.dir={folder} already holds a sweep; pick a new folder")
    check_not_inside_a_run("hydra.sweep.dir", folder)


def holds_sweep(folder: Path) -> bool:
    if any((folder / name).exists() for name in _SWEEP_FILES):
        return True
    return any(child.is_dir() and any((child / name).exists() for name in _JOB_FILES)
               for child in folder.iterdir())


def _create(folder: Path) -> list:
    """The sweep folder and its missing parents (writes.make_folders): the ones this process made;
    one another process made a moment ago is left to the lock."""
    return make_folders(folder, "hydra.sweep.dir")
