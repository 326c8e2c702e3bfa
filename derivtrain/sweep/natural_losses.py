"""A sweep's jobs get each model's natural loss for their data's task, as a single run does.

A single run composes its config itself (derivtrain/launch.py) and adds `loss=<natural>` where the
task calls for it (derivtrain/config/natural_loss.py). A sweep's jobs are composed by Hydra's
launcher from each job's overrides, so `-m model=mlp data=diabetes,digits` would train diabetes
with cross-entropy. While a sweep runs, the launcher's `launch` is wrapped: each job's overrides
are composed once here and get `loss=<natural>` appended where it differs from the composed loss,
before Hydra composes the job. The job then runs, writes (.hydra/overrides.yaml, its folder name
`0_data=diabetes,loss=mse`) and is recorded (jobs.json) with the loss it trains with.

The price: one more composition per distinct choice of model and data keys among the jobs that
name no loss (two where the loss changes), as costly as Hydra's own composition of a job (1.0 s
each measured on a loaded 2-core machine): a sweep over seeds or learning rates composes once
per model and data, not once per job.
A job whose overrides do not compose, or whose natural loss does not, is left as it was: Hydra
reports the first, the run's own check (derivtrain/run.py:check_compatible) the second, each as
that job's failure.
"""
def natural_losses_per_job():
    """A context: while it lasts, each launched job gets its natural loss (module docstring)."""
    from derivtrain.sweep.launches import wrapped_launches

    return wrapped_launches(lambda launch, hydra_context, config:
                            _with_natural_losses(launch, hydra_context.config_loader, config))


def _with_natural_losses(launch, config_loader, master_config):
    decided = {}  # the model and data keys of a job -> its loss override (None: the composed loss)

    def launch_with_natural_losses(job_overrides, initial_job_idx):
        job_overrides = [job_with_natural_loss(list(o), config_loader, master_config, decided) for o in job_overrides]
        return launch(job_overrides, initial_job_idx=initial_job_idx)

    return launch_with_natural_losses


def _model_and_data(overrides: list) -> tuple:
    """What a job's natural loss depends on: its model and data choices and keys."""
    return tuple(sorted(o for o in overrides if o.partition("=")[0].lstrip("+~").split(".")[0].split("/")[0]
                        in ("model", "data")))


def job_with_natural_loss(overrides: list, config_loader, master_config, decided=None) -> list:
    """The job's overrides, with `loss=<natural>` appended where the task calls for it."""
    from derivtrain.config.natural_loss import user_chose_loss

    if user_chose_loss(overrides):  # cheap: no composition for a sweep that names the loss
        return overrides
    decided = {} if decided is None else decided
    key = _model_and_data(overrides)
    if key not in decided:
        decided[key] = _loss_override(overrides, config_loader, master_config)
    override = decided[key]
    return overrides if override is None else overrides + [override]


def _loss_override(overrides: list, config_loader, master_config):
    from derivtrain.config.natural_loss import loss_override

    try:
        config = config_loader.load_sweep_config(master_config, overrides)
        override = loss_override(config, overrides)
        if override is not None:
            config_loader.load_sweep_config(master_config, overrides + [override])  # the option exists
    except Exception:  # noqa: BLE001 - the job's own composition reports it, as that job's failure
        return None
    return override
