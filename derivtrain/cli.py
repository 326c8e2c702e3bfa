"""`python -m derivtrain [overrides]`: the Hydra entry point and the exit-code contract.

Exit codes: 0 success; 2 bad configuration or input (one line on stderr, no traceback unless
DERIVTRAIN_DEBUG=1); 130 interrupted; 1 anything else (a bug: the traceback is printed).
"""
import os
import sys
import traceback
from contextlib import nullcontext
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig

from derivtrain.config import check_overrides, register_schemas
from derivtrain.errors import UserError
from derivtrain.friendly import describe_user_error
from derivtrain.paths import config_dir
from derivtrain.plugins import check_plugins
from derivtrain.lock import run_folder_lock
from derivtrain.pipes import quiet_on_broken_pipe
from derivtrain.train.guard import TrainingDiverged
from derivtrain.train.interrupt import TrainingInterrupted
from derivtrain.usage import main_help, print_help, wants_help


@hydra.main(config_path=str(config_dir()), config_name="config", version_base="1.3")
def _train(cfg) -> None:
    from derivtrain.logging import configure_logging
    from derivtrain.run import run

    configure_logging()
    run_dir = HydraConfig.get().runtime.output_dir
    try:
        with run_folder_lock(run_dir) if int(os.environ.get("RANK", "0")) == 0 else nullcontext():
            metrics = run(cfg, run_dir)
    except TrainingInterrupted as exc:
        resume = [a for a in sys.argv[1:] if not a.startswith(("trainer.resume=", "hydra.run.dir="))]
        print(f"derivtrain: interrupted ({exc}); checkpoint written. Resume with:\n"
              f"  python -m derivtrain {' '.join(resume)} trainer.resume={run_dir}", file=sys.stderr)
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - reported here so Hydra adds no job-failure banner
        _exit_for(exc)
    if int(os.environ.get("RANK", "0")) != 0:
        return  # under torchrun, rank 0 reports
    width = max(map(len, metrics))
    print("\n".join(f"{k:<{width}}  {v:.4f}" if isinstance(v, float) else f"{k:<{width}}  {v}"
                    for k, v in sorted(metrics.items())))


@quiet_on_broken_pipe
def main() -> None:
    # Hydra would print its own report and exit 1; we want the exceptions, to map them to exit codes
    os.environ["HYDRA_FULL_ERROR"] = "1"
    if wants_help(sys.argv[1:]):  # ours: Hydra's would list its internal schema/* groups
        sys.exit(print_help(main_help()))
    try:
        sys.argv[1:] = _shared_run_folder(sys.argv[1:])
        if int(os.environ.get("RANK", "0")) == 0:  # other torchrun ranks join rank 0's folder
            _refuse_to_overwrite(sys.argv[1:])
        check_overrides(sys.argv[1:])
        check_plugins(config_dir())  # clashes exit 2 now; broken plugins warn once
        register_schemas()
        _train()
    except BrokenPipeError:  # the reader of stdout left (`| head`): quiet_on_broken_pipe's case
        raise
    except (Exception, KeyboardInterrupt) as exc:  # noqa: BLE001 - composition errors arrive here
        _exit_for(exc)


def _exit_for(exc: BaseException) -> None:
    if isinstance(exc, KeyboardInterrupt):
        print("derivtrain: interrupted", file=sys.stderr)
        sys.exit(130)
    if isinstance(exc, TrainingDiverged):  # not a bug, not bad input: say what happened in one line
        print(f"derivtrain: error: {exc}", file=sys.stderr)
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

    torchrun gives all ranks the same TORCHELASTIC_RUN_ID, so the folder is named after it; only
    rank 0 writes Hydra's .hydra/ there.
    """
    resume = next((a.split("=", 1)[1] for a in args if a.startswith("trainer.resume=")), None)
    if resume and Path(resume).is_dir() and not any(a.startswith("hydra.run.dir=") for a in args):
        args = [*args, f"hydra.run.dir={resume}"]  # a resumed run goes on in its own folder
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or "-m" in args or "--multirun" in args:
        return args
    if not any(a.startswith("hydra.run.dir=") for a in args):
        import datetime

        run_id = os.environ.get("TORCHELASTIC_RUN_ID", "none")
        if run_id == "none":
            raise UserError("several ranks without a TORCHELASTIC_RUN_ID: launch with torchrun, "
                            "or pass one hydra.run.dir=... to every rank")
        args = [*args, f"hydra.run.dir=outputs/{datetime.date.today():%Y-%m-%d}/ddp-{run_id}"]
    if int(os.environ.get("RANK", "0")) != 0:
        args = [*args, "hydra.output_subdir=null"]
    return args


def _refuse_to_overwrite(args) -> None:
    """Refuse, before Hydra writes anything, output folders that hold a run or cannot be written."""
    resumed = {a.split("=", 1)[1] for a in args if a.startswith("trainer.resume=")}
    for arg in args:
        key, _, value = arg.partition("=")
        folder = Path(value)
        if key in ("hydra.run.dir", "hydra.sweep.dir"):
            _check_writable(key, folder)
        if key == "hydra.run.dir" and value in resumed:
            continue  # continuing a run in its own folder is the point
        if key == "hydra.run.dir" and ((folder / "metrics.json").exists() or (folder / "checkpoints").exists()):
            raise UserError(f"hydra.run.dir={folder} already holds a run; pick a new folder "
                            f"(to continue that run: trainer.resume={folder} with a new hydra.run.dir)")
        if key == "hydra.sweep.dir" and ((folder / "summary.csv").exists() or any(folder.glob("*/metrics.json"))):
            raise UserError(f"hydra.sweep.dir={folder} already holds a sweep; pick a new folder")


def _check_writable(key: str, folder: Path) -> None:
    existing = folder.absolute()
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise UserError(f"{key}={folder} cannot be created: {existing} is not a writable folder; "
                        "choose another folder")
