"""Sweeps (`python -m derivtrain -m ...`): what each job returns, what a failed job leaves, the summary.

    selection.py     the metric a job returns and the sweep ranks by (sweep.monitor, sweep.mode)
    jobs.py          a job's folder name and label; a failed job's failed.json
    summary.py       summary.csv/.md: every job, best first (the Hydra callback SweepSummary)
    repeats.py       summary_by_config.csv/.md: mean, std and n over seeds and folds
    command_line.py  what the CLI adds to a `-m` command line, and the sweep's exit code
    claim.py         the sweep folder checked, created and locked for the sweep's life
    launches.py      jobs.json: every job recorded before it starts (a killed worker's jobs are rows too)
    natural_losses.py  each job's loss=<natural> for its data's task, as a single run composes it

Hydra builds the SweepSummary callback (conf/config.yaml) in every process that runs jobs
(joblib and submitit workers too), so importing this package is where the resolvers that
conf/config.yaml uses get registered. It imports only the standard library, OmegaConf and Hydra.
"""
from derivtrain.sweep.jobs import register_resolvers
from derivtrain.sweep.summary import SweepSummary

__all__ = ["SweepSummary", "register_resolvers"]

register_resolvers()
