"""Repeats of a configuration: seeds (`-m trainer.seed=0,1,2`) and folds (`-m data.cv_folds=5`).

summary_by_config.csv/.md has one row per configuration (a job's overrides without trainer.seed
and data.fold) with the mean, the sample standard deviation (n - 1) and n of every metric over
its finished jobs, ranked by the monitored metric's mean. One number per job hides how much of a
difference between configurations is noise; the std over seeds or folds shows it.
"""
import statistics
from pathlib import Path

from derivtrain.sweep.selection import direction
from derivtrain.sweep.tables import markdown_table, write_csv
from derivtrain.writes import write_text

REPEAT_KEYS = ("trainer.seed", "data.fold")  # what varies between repeats of one configuration


def config_of(overrides) -> str:
    """The configuration a job repeats: its overrides without the repeat keys."""
    kept = [o for o in overrides if o.split("=", 1)[0].lstrip("+~") not in REPEAT_KEYS]
    return " ".join(kept) or "(defaults)"


def aggregate(jobs: list, columns: list) -> dict:
    """{column: (mean, std)} over the finished jobs; std is None for a single job."""
    stats = {}
    for column in columns:
        values = [job.metrics[column] for job in jobs if not job.failed and column in job.metrics]
        if values:
            stats[column] = (statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else None)
    return stats


def write_by_config(sweep_dir: Path, jobs: list, key: str | None, mode: str, columns: list) -> str | None:
    """Write summary_by_config.csv/.md when some configuration ran more than once; returns the markdown."""
    groups: dict = {}
    for job in jobs:
        groups.setdefault(config_of(job.overrides), []).append(job)
    if all(len(group) == 1 for group in groups.values()):
        return None
    table = [(config, group, aggregate(group, columns)) for config, group in groups.items()]
    if key is not None:
        sign = -1 if direction(key, mode) == "max" else 1
        table.sort(key=lambda row: (key not in row[2], sign * row[2][key][0] if key in row[2] else 0))
    header = ["rank", "config", "n", "failed"] + [f"{c}_{s}" for c in columns for s in ("mean", "std")]
    rows = []
    for i, (config, group, stats) in enumerate(table):
        n = sum(not job.failed for job in group)
        cells = [v if v is not None else "" for c in columns for v in stats.get(c, ("", ""))]
        rows.append([i + 1 if n else "", config, n, len(group) - n, *cells])
    write_csv(sweep_dir / "summary_by_config.csv", header, rows)
    md_header = ["rank", "config", "n", "failed", *(f"{c} (mean ± std)" for c in columns)]
    md_rows = [[*row[:4], *(_mean_std(stats.get(c)) for c in columns)] for row, (_, _, stats) in zip(rows, table)]
    ranked = f"Ranked by the mean of {key}." if key else "In job order: no common validation metric."
    text = "\n".join([f"Per configuration over seeds and folds. {ranked} std: sample standard deviation.", "",
                      *markdown_table(md_header, md_rows)]) + "\n"
    write_text(sweep_dir, "summary_by_config.md", text)
    return text


def _mean_std(stat) -> str:
    if stat is None:
        return ""
    mean, std = stat
    return f"{mean:.4f}" if std is None else f"{mean:.4f} ± {std:.4f}"
