"""After a multirun (`python -m derivtrain -m ...`): one table of every job, best first.

A Hydra callback (conf/config.yaml, hydra.callbacks.sweep_summary) that reads each job's
metrics.json and .hydra/overrides.yaml and writes summary.csv and summary.md into the sweep
folder. Each job's event file already carries its hyper-parameters, so
`tensorboard --logdir <sweep folder>` compares the jobs in the HPARAMS tab.
Only the standard library is imported here: Hydra builds callbacks for every run.
"""
import csv
import json
from pathlib import Path

from hydra.experimental.callback import Callback

# the metric a sweep is ranked by: the first one the jobs have, with its direction
RANKING = (("test/accuracy", "max"), ("test/r2", "max"), ("test/log_likelihood", "max"), ("test/loss", "min"))


def collect(sweep_dir: Path) -> list:
    """[(job folder name, overrides list, metrics dict)] for every finished job."""
    from omegaconf import OmegaConf

    jobs = []
    for metrics_file in sorted(sweep_dir.glob("*/metrics.json")):
        job = metrics_file.parent
        overrides_file = job / ".hydra" / "overrides.yaml"
        overrides = list(OmegaConf.load(overrides_file)) if overrides_file.is_file() else []
        jobs.append((job.name, overrides, json.loads(metrics_file.read_text())))
    return jobs


def rank(jobs: list) -> tuple:
    """Jobs best first, and the metric that decided."""
    for metric, direction in RANKING:
        if jobs and all(metric in m for _, _, m in jobs):
            sign = -1 if direction == "max" else 1
            return sorted(jobs, key=lambda job: sign * job[2][metric]), metric
    return jobs, None


def write_summary(sweep_dir: Path) -> str | None:
    jobs, metric = rank(collect(sweep_dir))
    if not jobs:
        return None
    keys = sorted({k for _, _, m in jobs for k in m if k.startswith("test/")} | {"train/steps"})
    header = ["rank", "job", "overrides", *keys]
    rows = [[i + 1, name, " ".join(overrides), *(m.get(k, "") for k in keys)]
            for i, (name, overrides, m) in enumerate(jobs)]
    with open(sweep_dir / "summary.csv", "w", newline="") as f:
        csv.writer(f).writerows([header, *rows])
    fmt = lambda v: f"{v:.4f}" if isinstance(v, float) else str(v)  # noqa: E731
    lines = [f"Ranked by {metric or 'job number'}.", "", "| " + " | ".join(header) + " |",
             "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    text = "\n".join(lines) + "\n"
    (sweep_dir / "summary.md").write_text(text)
    return text


class SweepSummary(Callback):
    def on_multirun_end(self, config, **kwargs) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        text = write_summary(sweep_dir)
        if text:
            print(f"\nsweep summary ({sweep_dir / 'summary.csv'}):\n{text}")
