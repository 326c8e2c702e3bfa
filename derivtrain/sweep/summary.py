"""After a multirun (`python -m derivtrain -m ...`): one table of every job, best first.

A Hydra callback (conf/config.yaml, hydra.callbacks.sweep_summary) that reads each job's
metrics.json (or failed.json) and .hydra/overrides.yaml, and the sweep's jobs.json (a job that
never ran is a row too), and writes into the sweep folder:
  summary.csv / summary.md    every job, ranked by the monitored validation metric; failed jobs
                              last, with their reason; test/* as trailing columns (report only)
  summary_by_config.csv / .md when seeds or folds repeat a configuration: mean, std and n per
                              configuration (derivtrain/sweep/repeats.py)
Each job's event file carries its hyper-parameters, so `tensorboard --logdir <sweep folder>`
compares the jobs in the HPARAMS tab. Only the standard library and OmegaConf are imported here:
Hydra builds callbacks for every run.
"""
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from hydra.experimental.callback import Callback

from derivtrain.sweep.jobs import read_failure
from derivtrain.sweep.selection import direction, monitored_key
from derivtrain.sweep.tables import markdown_table, write_csv
from derivtrain.writes import write_text

SELECTION_NOTE = ("Select on validation, report test once: pick a job by its val/* columns; its test/* "
                  "columns then estimate how that model does on new data (picking by them would make that "
                  "estimate optimistic).")


@dataclass
class Job:
    folder: str
    overrides: list
    metrics: dict = field(default_factory=dict)
    reason: str | None = None  # None: finished
    exit_code: int = 0

    @property
    def failed(self) -> bool:
        return self.reason is not None


def collect(sweep_dir: Path) -> list:
    """Every job of the sweep, in job-number order: finished, failed, never finished, or never run
    (recorded in jobs.json by derivtrain/sweep/launches.py, but its worker died first)."""
    from omegaconf import OmegaConf

    from derivtrain.sweep.launches import read_jobs

    recorded = read_jobs(sweep_dir)
    errors = {job["job"]: job["error"] for job in recorded if job.get("error")}
    folders = {p.parent for name in ("metrics.json", "failed.json") for p in sweep_dir.glob(f"*/{name}")}
    folders |= {p.parents[1] for p in sweep_dir.glob("*/.hydra/overrides.yaml")}
    jobs = []
    for folder in folders:
        overrides_file = folder / ".hydra" / "overrides.yaml"
        overrides = [str(o) for o in OmegaConf.load(overrides_file)] if overrides_file.is_file() else []
        metrics_file = folder / "metrics.json"
        job = Job(folder.name, overrides, json.loads(metrics_file.read_text()) if metrics_file.is_file() else {})
        failure = read_failure(folder)
        if failure:
            job.reason, job.exit_code = failure["reason"], failure["exit_code"]
        elif not metrics_file.is_file():
            error = errors.get(_job_order(folder)[0])
            job.reason = f"did not finish: {error}" if error else "did not finish (no metrics.json)"
            job.exit_code = 1
        jobs.append(job)
    jobs += _never_ran(recorded, jobs)
    return sorted(jobs, key=lambda job: _job_order(Path(job.folder)))


def _never_ran(recorded: list, jobs: list) -> list:
    """The recorded jobs that left no folder: a job folder is named after its number (jobs.py),
    or else matched by its overrides."""
    numbers = {_job_order(Path(job.folder))[0] for job in jobs}
    unnumbered = [job.overrides for job in jobs if not re.match(r"\d+", job.folder)]
    missing = [job for job in recorded if job["job"] not in numbers and job.get("overrides") not in unnumbered]
    return [Job(str(job["job"]), list(job.get("overrides") or []), exit_code=1,
                reason=f"never ran: {job.get('error') or 'the sweep stopped before it'}") for job in missing]


def _job_order(folder: Path):
    number = re.match(r"\d+", folder.name)
    return (int(number.group()) if number else float("inf"), folder.name)


def rank(jobs: list, monitor: str = "auto", mode: str = "auto") -> tuple:
    """(finished jobs best first, then failed ones; the metric that decided, or None)."""
    done = [job for job in jobs if not job.failed]
    keys = {monitored_key(monitor, job.metrics) for job in done}
    failed = [job for job in jobs if job.failed]
    if len(keys) != 1 or None in keys:
        return done + failed, None  # nothing finished, or the jobs report different metrics
    key = keys.pop()
    sign = -1 if direction(key, mode) == "max" else 1
    return sorted(done, key=lambda job: sign * job.metrics[key]) + failed, key


def metric_columns(jobs: list, key: str | None) -> list:
    """The monitored metric, the other val/* metrics, then test/* (reported, never selected on)."""
    names = {name for job in jobs for name in job.metrics}
    val = sorted(n for n in names if n.startswith("val/") and n != key)
    test = sorted(n for n in names if n.startswith("test/"))
    return ([key] if key else []) + val + test


def write_summary(sweep_dir: Path, monitor: str = "auto", mode: str = "auto") -> str | None:
    """Write summary.csv and summary.md (and summary_by_config.* for repeats); returns the text shown."""
    from derivtrain.sweep.repeats import write_by_config

    jobs, key = rank(collect(sweep_dir), monitor, mode)
    if not jobs:
        return None
    columns = metric_columns(jobs, key)
    header = ["rank", "job", "status", "overrides", *columns, "reason"]
    rows = [[i + 1 if not job.failed else "", job.folder, "failed" if job.failed else "ok", " ".join(job.overrides),
             *(job.metrics.get(c, "") for c in columns), job.reason or ""] for i, job in enumerate(jobs)]
    write_csv(sweep_dir / "summary.csv", header, rows)
    n_failed = sum(job.failed for job in jobs)
    lines = [ranked_by(key, mode, any(not job.failed for job in jobs)), "", SELECTION_NOTE, "",
             f"{len(jobs)} jobs: {len(jobs) - n_failed} finished, {n_failed} failed.", "",
             *markdown_table(header, rows)]
    text = "\n".join(lines) + "\n"
    write_text(sweep_dir, "summary.md", text)
    by_config = write_by_config(sweep_dir, jobs, key, mode, columns)
    return text + (f"\n{by_config}" if by_config else "")


def ranked_by(key: str | None, mode: str, any_finished: bool = True) -> str:
    if key is None:
        return ("In job order: the finished jobs have no common validation metric to rank by." if any_finished
                else "In job order: no job finished.")
    better = "higher" if direction(key, mode) == "max" else "lower"
    return f"Ranked by {key} ({better} is better)."


class SweepSummary(Callback):
    def on_multirun_end(self, config, **kwargs) -> None:
        from omegaconf import OmegaConf

        sweep_dir = Path(config.hydra.sweep.dir)
        monitor = OmegaConf.select(config, "sweep.monitor", default="auto")
        mode = OmegaConf.select(config, "sweep.mode", default="auto")
        text = write_summary(sweep_dir, monitor, mode)
        if text:
            print(f"\nsweep summary ({sweep_dir / 'summary.md'}):\n{text}")
