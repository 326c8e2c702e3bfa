"""`python -m derivtrain [overrides]`: the Hydra entry point and the exit-code contract.

Exit codes: 0 success; 2 bad configuration or input (one line on stderr, no traceback unless
DERIVTRAIN_DEBUG=1); 130 interrupted; 1 anything else (a bug: the traceback is printed).
"""
import errno
import os
import re
import sys
import traceback
from contextlib import nullcontext
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode

from derivtrain.config import check_overrides, register_schemas
from derivtrain.errors import UserError
from derivtrain.error_messages import describe_user_error
from derivtrain.paths import config_dir
from derivtrain.plugins import check_plugins
from derivtrain.sweep import register_resolvers
from derivtrain.sweep.claim import run_sweep
from derivtrain.sweep.command_line import prepare_sweep, sweep_outcome
from derivtrain.sweep.jobs import job_failed, job_label, job_result
from derivtrain.sweep.natural_losses import natural_losses_per_job
from derivtrain.launch import print_metrics, single_run
from derivtrain.lock import run_folder_lock
from derivtrain.resume import is_finished
from derivtrain.run_folder import gives_run_dir
from derivtrain.pipes import quiet_on_broken_pipe
from derivtrain.trainer.guard import TrainingDiverged
from derivtrain.trainer.interrupt import StoppedBeforeTheRun, TrainingInterrupted, stops_raise
from derivtrain.usage import MAIN_USAGE, print_help, wants_help


@hydra.main(config_path=str(config_dir()), config_name="config", version_base="1.3")
def _train(cfg):
    """One job of a sweep (-m): it returns the metric the sweep selects on, and a failed job is
    recorded (failed.json, one line) instead of ending the sweep (derivtrain/sweep/). A single run
    does not come here: derivtrain/launch.py runs it (it claims its folder before writing)."""
    from derivtrain.logging import configure_logging
    from derivtrain.run import run
    from derivtrain.sweep.selection import check_selectable

    configure_logging()
    hydra_cfg = HydraConfig.get()
    run_dir = hydra_cfg.runtime.output_dir
    in_sweep = hydra_cfg.mode == RunMode.MULTIRUN
    label = job_label(hydra_cfg.job.num, hydra_cfg.overrides.task) if in_sweep else None
    try:
        if in_sweep:
            check_selectable(cfg)
        with run_folder_lock(run_dir) if int(os.environ.get("RANK", "0")) == 0 else nullcontext():
            metrics = run(cfg, run_dir)
    except TrainingInterrupted as exc:
        from derivtrain.launch import report_interrupted

        report_interrupted(exc, run_dir, [a for a in sys.argv[1:] if a not in ("-m", "--multirun")], in_place=False)
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - reported here so Hydra adds no job-failure banner
        if not in_sweep:
            _exit_for(exc)
        return job_failed(exc, run_dir, label)
    if int(os.environ.get("RANK", "0")) != 0:
        return None  # under torchrun, rank 0 reports
    print_metrics(metrics, label)
    return job_result(metrics, cfg, run_dir, label)


@quiet_on_broken_pipe
def main() -> None:
    # Hydra would print its own report and exit 1; we want the exceptions, to map them to exit codes
    os.environ["HYDRA_FULL_ERROR"] = "1"
    if wants_help(sys.argv[1:]):  # ours: Hydra's would list its internal schema/* groups
        sys.exit(print_help(main_help()))
    sweep_dir = None
    try:
        sys.argv[1:] = _shared_run_folder(sys.argv[1:])
        sys.argv[1:], sweep_dir = prepare_sweep(sys.argv[1:])
        if int(os.environ.get("RANK", "0")) == 0:  # other torchrun ranks join rank 0's folder
            _refuse_to_overwrite(sys.argv[1:])
        check_overrides(sys.argv[1:])
        check_plugins(config_dir())  # clashes exit 2 now; broken plugins warn once
        register_schemas()
        register_resolvers()
        if sweep_dir is None and not _hydra_flags(sys.argv[1:]):
            return single_run(sys.argv[1:])  # derivtrain/launch.py: claims its folder before writing
        # a sweep claims its folder and records its jobs (derivtrain/sweep/claim.py); one whose folder
        # is an interpolation (${now:...}) is left to Hydra, and Hydra's flags (--cfg job) only print
        with stops_raise():  # a sweep writes between its jobs: a stop unwinds (and says where they are)
            if sweep_dir is not None and not _prints_only(sys.argv[1:]) and "${" not in str(sweep_dir):
                run_sweep(_train, sweep_dir)
            else:
                with natural_losses_per_job() if sweep_dir is not None else nullcontext():  # each job's loss
                    _train()
    except BrokenPipeError:  # the reader of stdout left (`| head`): quiet_on_broken_pipe's case
        raise
    except (Exception, KeyboardInterrupt) as exc:  # noqa: BLE001 - composition errors arrive here
        if isinstance(exc, StoppedBeforeTheRun) and sweep_dir is not None:  # between jobs: theirs are kept
            exc = KeyboardInterrupt(f"{exc.signal_name} during the sweep; its finished jobs are in {sweep_dir}")
        _exit_for(exc)
    if sweep_dir is not None:  # the jobs recorded their failures; the sweep's exit code says so
        code, message = sweep_outcome(sweep_dir)
        if code:
            print(f"derivtrain: error: {message}", file=sys.stderr)
            sys.exit(code)


def main_help() -> str:
    """--help: the usage, with every option of every group (plugins' included; * = default)."""
    from omegaconf import OmegaConf

    from derivtrain.plugins import config_options

    options = {}
    for conf in (config_dir(), *(p.conf_dir for p in check_plugins(config_dir()))):
        for group, option in config_options(conf):
            if not group.startswith("schema"):
                options.setdefault(group, set()).add(option)
    defaults = {}
    for entry in OmegaConf.load(config_dir() / "config.yaml").defaults:
        if hasattr(entry, "items"):
            defaults.update({str(k): str(v) for k, v in entry.items()})
    lines = [f"  {group}: " + ", ".join(o + ("*" if defaults.get(group) == o else "") for o in sorted(opts))
             for group, opts in sorted(options.items())]
    return MAIN_USAGE.format(groups="\n".join(lines))


# Hydra's flags that print and exit without running a job; any other flag is not derivtrain's
_HYDRA_INFO_FLAGS = ("--cfg", "-c", "--info", "-i", "--hydra-help", "--version", "--shell-completion", "-sc",
                     "--resolve", "--package", "-p")


def _hydra_flags(args) -> bool:
    flags = [a.split("=", 1)[0] for a in args if a.startswith("-")]
    unknown = [f for f in flags if f not in _HYDRA_INFO_FLAGS]
    if unknown:
        raise UserError(f"{unknown[0]} is not an option of python -m derivtrain (it takes group=option and "
                        "key=value overrides, -m for a sweep); see python -m derivtrain --help")
    return bool(flags)


def _prints_only(args) -> bool:
    """Hydra's flags that print and exit: a sweep with them runs no job and claims no folder."""
    return any(a.split("=", 1)[0] in _HYDRA_INFO_FLAGS for a in args)


def _exit_for(exc: BaseException) -> None:
    if isinstance(exc, TrainingInterrupted):  # derivtrain/launch.py has said what was saved
        sys.exit(130)
    if isinstance(exc, KeyboardInterrupt):  # its text, if any: which signal, and that nothing was written
        print(f"derivtrain: interrupted ({exc})" if str(exc) else "derivtrain: interrupted", file=sys.stderr)
        sys.exit(130)
    if isinstance(exc, TrainingDiverged):  # not a bug, not bad input: say what happened in one line
        print(f"derivtrain: error: {exc}", file=sys.stderr)
        sys.exit(1)
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):  # a disk that filled up midway
        where = f" writing {exc.filename}" if exc.filename else ""
        print(f"derivtrain: error: no space left on the device{where}; free some space and run again",
              file=sys.stderr)
        sys.exit(1)
    message = describe_user_error(exc)
    if message is None:
        traceback.print_exception(exc)
        sys.exit(1)
    if os.environ.get("DERIVTRAIN_DEBUG") == "1":
        traceback.print_exception(exc)
    print(f"derivtrain: error: {message}", file=sys.stderr)
    sys.exit(2)


def _shared_run_folder(args) -> list:
    """The run folder when the command line leaves it open: a resumed run's own folder; under
    torchrun one folder for every rank, not one timestamp each.

    torchrun gives all ranks the same TORCHELASTIC_RUN_ID, so the folder is named after it
    (`<run id>-<model>-<data>`); only rank 0 writes Hydra's .hydra/ there.
    """
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or "-m" in args or "--multirun" in args:
        return args
    resume = next((a.split("=", 1)[1] for a in args if a.startswith("trainer.resume=")), None)
    if resume and Path(resume).is_dir() and not is_finished(Path(resume)) and not gives_run_dir(args):
        args = [*args, f"hydra.run.dir={resume}"]  # every rank goes on in the resumed run's own folder
    if not any(a.startswith("hydra.run.dir=") for a in args):
        import datetime

        run_id = os.environ.get("TORCHELASTIC_RUN_ID", "none")
        if run_id == "none":
            raise UserError("several ranks without a TORCHELASTIC_RUN_ID: launch with torchrun, "
                            "or pass one hydra.run.dir=... to every rank")
        # named like a single run's <time>-<model>-<data>, the rendezvous id in the time's place (ranks agree
        # on it, and a restarted job finds its folder again); --standalone's id is a uuid4: its first 8 digits
        run_id = run_id[:8] if re.fullmatch(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", run_id) else run_id
        name = f"{run_id}-${{hydra:runtime.choices.model}}-${{hydra:runtime.choices.data}}"
        args = [*args, f"hydra.run.dir=outputs/{datetime.date.today():%Y-%m-%d}/{name}"]
    if int(os.environ.get("RANK", "0")) != 0:
        args = [*args, "hydra.output_subdir=null"]
    return args


def _refuse_to_overwrite(args) -> None:
    """A sweep's folder: refused, before Hydra writes anything, when it holds a sweep or cannot be
    written. (A single run's folder is checked and claimed by derivtrain/run_folder.py.)"""
    for arg in args:
        key, _, value = arg.partition("=")
        folder = Path(value)
        if key.lstrip("+") != "hydra.sweep.dir":
            continue
        _check_writable(key, folder)
        if (folder / "summary.csv").exists() or any(folder.glob("*/metrics.json")) or any(folder.glob("*/failed.json")):
            raise UserError(f"hydra.sweep.dir={folder} already holds a sweep; pick a new folder")


def _check_writable(key: str, folder: Path) -> None:
    existing = folder.absolute()
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise UserError(f"{key}={folder} cannot be created: {existing} is not a writable folder; "
                        "choose another folder")
