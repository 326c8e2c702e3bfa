"""One `python -m derivtrain ...` run (not a sweep), in the order that writes nothing too early:

    compose    the config as Hydra composes it, with its hydra node (run folder, choices, overrides)
    check      validate the values; for trainer.resume, the checkpoint and that it continues the
               same training; the run folder (derivtrain/run_folder.py)
    claim      signal handlers first, then create + lock the folder: from here on the run writes
    run        derivtrain.run.run; .hydra/ is written once set-up has passed its checks

Hydra's own runner would write .hydra/ before any of our checks, so a refused run would leave a
folder behind (or rewrite a running job's files); a sweep (-m) still goes through Hydra.
"""
import errno
import os
import sys
from pathlib import Path

from derivtrain.trainer.interrupt import StopRequests, TrainingInterrupted


# a run folder that stops taking writes mid-run (full, read-only, permissions changed)
_WRITE_FAILURES = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM)


def compose_run(args):
    """The config with its hydra node; HydraConfig is set, so ${now:...} and ${hydra:...} resolve."""
    from hydra import compose, initialize_config_dir
    from hydra.core.hydra_config import HydraConfig

    from derivtrain.paths import config_dir

    from derivtrain.config.natural_loss import with_natural_loss

    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3", job_name="derivtrain"):
        config = with_natural_loss(  # model=mlp data=diabetes: composed again with loss=mse
            lambda overrides: compose(config_name="config", overrides=overrides, return_hydra_config=True), list(args))
    HydraConfig.instance().set_config(config)
    return config


def single_run(args) -> None:
    from derivtrain.logging import configure_logging

    configure_logging()
    metrics, _ = launch(args)
    if metrics is not None:  # under torchrun, rank 0 reports
        with StopRequests():  # the run is complete: a stop now is not "before the run" (and it ends anyway)
            print_metrics(metrics, None)


def print_metrics(metrics: dict, label: str | None) -> None:
    from derivtrain.logging.progress import format_number

    width = max(map(len, metrics))
    print(("\n" + label + "\n" if label else "")
          + "\n".join(f"{k:<{width}}  {format_number(v)}" if isinstance(v, float) else f"{k:<{width}}  {v}"
                      for k, v in sorted(metrics.items())))


def launch(args, report: bool = True):
    """compose, check, claim, run: (the final metrics, the run folder). `report`: the command
    line's messages for a stop or a write failure (then exit 1); derivtrain.train raises instead."""
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import open_dict, read_write

    from derivtrain.config.plan import make_plan
    from derivtrain.resume import announce_auto, load_resume, resolve_auto
    from derivtrain.run import run
    from derivtrain.run_folder import claimed, gives_run_dir, plan_run_folder, task_config, write_hydra_files

    main_rank = int(os.environ.get("RANK", "0")) == 0
    try:
        config = compose_run(args)
        auto = resolve_auto(config)  # trainer.resume=auto: this run's own last checkpoint, if any
        cfg = task_config(config)
        plan = make_plan(cfg)  # validated once, its fitter chosen: what the run uses
        folder = plan_run_folder(config, gives_run_dir(args), check=main_rank)
        if cfg.trainer.resume and main_rank:
            load_resume(cfg, folder.path)  # the checkpoint continues this training: before anything is written
        with read_write(config.hydra.runtime), open_dict(config.hydra.runtime):
            config.hydra.runtime.output_dir = str(folder.path)
        HydraConfig.instance().set_config(config)
        if not main_rank:  # under torchrun: rank 0 claims the folder and writes in it
            folder.path.mkdir(parents=True, exist_ok=True)
            run(plan, folder.path)
            return None, folder.path
        with StopRequests() as stop, claimed(folder) as run_dir:
            def before_fit():  # set-up has passed every check: a resume is accepted, .hydra/ is written
                announce_auto(auto)
                write_hydra_files(config, run_dir)

            try:
                metrics = run(plan, run_dir, stop_requests=stop, before_fit=before_fit)
            except TrainingInterrupted as exc:
                if report:
                    report_interrupted(exc, run_dir, args, folder.in_place)
                raise
            except OSError as exc:
                if exc.errno not in _WRITE_FAILURES or not report:
                    raise
                report_write_failure(exc, run_dir)
                sys.exit(1)  # not a configuration error: the folder and its checkpoints stay
    finally:
        HydraConfig.instance().cfg = None  # as Hydra's runner leaves it
    return metrics, run_dir


def report_interrupted(exc: TrainingInterrupted, run_dir: Path, args, in_place: bool) -> None:
    """The one message of a stopped run (the CLI then exits 130)."""
    if not exc.saved:
        what = (f"{run_dir} is as it was (resume it as before)" if in_place else
                "nothing was trained, so there is nothing to resume (no run folder is kept)")
        print(f"derivtrain: interrupted ({exc}): {what}", file=sys.stderr)
        return
    resume = [a for a in args if a.partition("=")[0].lstrip("+") not in ("trainer.resume", "hydra.run.dir")]
    print(f"derivtrain: interrupted ({exc}); checkpoint written. Resume with:\n"
          f"  python -m derivtrain {' '.join(resume)} trainer.resume={run_dir}", file=sys.stderr)


def report_write_failure(exc: OSError, run_dir: Path) -> None:
    """A run folder that stopped taking writes: what happened, what is kept, how to go on."""
    full = exc.errno in (errno.ENOSPC, errno.EDQUOT)
    what = "no space left on the device" if full else exc.strerror
    fix = "free some space" if full else "make it writable"
    if (run_dir / "checkpoints" / "last.pt").exists():
        print(f"derivtrain: error: {what} (writing in {run_dir}); its last checkpoint is intact: {fix}, then "
              f"resume with trainer.resume={run_dir}", file=sys.stderr)
    else:
        print(f"derivtrain: error: {what} (writing in {run_dir}), before any checkpoint: {fix}, then run again",
              file=sys.stderr)
