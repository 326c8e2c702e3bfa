"""Every job a sweep launches is recorded before it starts, so the summary lists it whatever
happens to the process that was to run it.

Hydra's sweepers hand batches of jobs to a launcher: the basic one runs them in this process,
joblib and submitit in worker processes. A worker killed with SIGKILL leaves its job without a
failed.json, and the launcher then raises here for the whole batch: the batch's jobs that had not
started leave no folder at all (4 jobs on 2 joblib workers, one killed: 2 of them were listed
nowhere). So while a sweep runs, the launcher its sweeper builds is wrapped: a batch's jobs (number,
overrides) go into <sweep folder>/jobs.json before the batch starts, and the launcher's error, if
it raises, beside each of them. The summary (summary.py) makes every recorded job without a result a
`failed` row with that reason.

Hydra has no callback between a sweeper and its launcher, hence the wrapper around
Plugins.instantiate_launcher, put back when the sweep ends.
"""
import json
import re
from contextlib import contextmanager
from pathlib import Path

from derivtrain.writes import write_text

JOBS_FILE = "jobs.json"  # [{"job": number, "overrides": [...], "error": one line or null}, ...]
_MAX_REASON = 300  # characters of the launcher's error kept (joblib's runs to several sentences)


@contextmanager
def wrapped_launches(wrap):
    """While the sweep runs, each launcher Hydra builds has its `launch` replaced by
    wrap(launch, hydra_context, config) (several of these nest: the last one entered runs first)."""
    from hydra.core.plugins import Plugins

    original = Plugins.instantiate_launcher

    def instantiate_launcher(self, hydra_context, task_function, config):
        launcher = original(self, hydra_context=hydra_context, task_function=task_function, config=config)
        launcher.launch = wrap(launcher.launch, hydra_context, config)
        return launcher

    Plugins.instantiate_launcher = instantiate_launcher
    try:
        yield
    finally:
        Plugins.instantiate_launcher = original


@contextmanager
def recording_jobs(sweep_dir: Path):
    jobs: list = []
    with wrapped_launches(lambda launch, hydra_context, config: _recorded(launch, Path(sweep_dir), jobs)):
        yield


def _recorded(launch, sweep_dir: Path, jobs: list):
    def recorded_launch(job_overrides, initial_job_idx):
        batch = [{"job": initial_job_idx + i, "overrides": [str(o) for o in overrides], "error": None}
                 for i, overrides in enumerate(job_overrides)]
        jobs.extend(batch)
        _write(sweep_dir, jobs)
        try:
            return launch(job_overrides, initial_job_idx=initial_job_idx)
        except Exception as exc:
            for job in batch:
                job["error"] = launch_error(exc)
            _write(sweep_dir, jobs)
            raise

    return recorded_launch


def launch_error(exc: Exception) -> str:
    """One line: the exception's type, its first sentence and any sentence on exit codes (joblib's
    TerminatedWorkerError says which signal killed the worker there)."""
    sentences = [" ".join(s.split()) for s in re.split(r"(?<=\.)\s+|\n+", str(exc)) if s.strip()]
    kept = sentences[:1] + [s for s in sentences[1:] if "exit code" in s]
    line = f"{type(exc).__name__}: {' '.join(kept)}" if kept else type(exc).__name__
    return line if len(line) <= _MAX_REASON else line[:_MAX_REASON - 3] + "..."


def read_jobs(sweep_dir: Path) -> list:
    """The recorded jobs ([] for a sweep run without the record, or one whose record is unreadable)."""
    try:
        jobs = json.loads((Path(sweep_dir) / JOBS_FILE).read_text())
    except (OSError, ValueError):
        return []
    if not isinstance(jobs, list):
        return []
    return [{"job": job["job"], "error": str(job["error"]) if job.get("error") else None,
             "overrides": [str(o) for o in job["overrides"]] if isinstance(job.get("overrides"), list) else []}
            for job in jobs if isinstance(job, dict) and isinstance(job.get("job"), int)]


def _write(sweep_dir: Path, jobs: list) -> None:
    """Temp file + rename in the (locked) sweep folder: a reader never sees half a record, and a
    link planted at the name is refused (derivtrain/writes.py)."""
    write_text(sweep_dir, JOBS_FILE, json.dumps(jobs, indent=1))
