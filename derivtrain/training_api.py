"""derivtrain.train(*overrides, run_dir=None): the command line's run, called from Python.

    run = derivtrain.train("model=svm", "data=iris", "trainer.max_epochs=50", run_dir="outputs/iris_svm")
    run.metrics["test/accuracy"], run.path, run.model.predict(X)

The same steps as `python -m derivtrain ...` (derivtrain/cli.py): the overrides are checked,
Hydra composes the config and runs the job (the run folder gets .hydra/, metrics.json,
checkpoints/, split.npz and TensorBoard events exactly as on the command line), and
derivtrain/run.py trains. What the CLI turns into exit code 2 and one line on stderr is raised
here as derivtrain.ConfigError with that line; nothing is printed. One run per call: sweeps
(`-m`) are the command line's.
"""
from dataclasses import dataclass, field
from pathlib import Path

from derivtrain.errors import ConfigError, UserError


@dataclass
class Run:
    """A finished run: its folder, its final metrics (metrics.json), and the trained model."""

    path: Path
    metrics: dict
    _model: object = field(default=None, repr=False)

    @property
    def model(self):
        """What derivtrain.load_run(path) returns (loaded on first use)."""
        if self._model is None:
            from derivtrain.api import load_run

            self._model = load_run(self.path)
        return self._model


def train(*overrides, run_dir=None) -> Run:
    """Train as `python -m derivtrain *overrides` would (run_dir: hydra.run.dir; None = the CLI's
    outputs/<date>/<time>-<model>-<data>); returns the Run. Bad configuration or input raises
    derivtrain.ConfigError with the CLI's one-line message, before anything is written."""
    from derivtrain.friendly import describe_user_error

    args = [str(o) for o in overrides]
    if run_dir is not None:
        args.append(f"hydra.run.dir={Path(run_dir)}")
    given = next((a.split("=", 1)[1] for a in reversed(args) if a.startswith("hydra.run.dir=")), None)
    existed = given is not None and Path(given).exists()
    try:
        outcome = _run_job(args, remove_on_error=not existed)
    except Exception as exc:  # noqa: BLE001 - Hydra's composition errors arrive here, as on the CLI
        outcome = exc
    if isinstance(outcome, BaseException):
        if isinstance(outcome, ConfigError):
            raise outcome
        message = describe_user_error(outcome)
        if message is None:
            raise outcome
        raise ConfigError(message) from outcome
    metrics, path = outcome
    return Run(path=Path(path), metrics=metrics)


def _run_job(args: list, remove_on_error: bool):
    """The CLI's checks, then Hydra's run of one job: (metrics, run folder), or the job's exception."""
    from hydra._internal.hydra import Hydra
    from hydra._internal.utils import create_config_search_path
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig
    from hydra.initialize import get_gh_backup, restore_gh_from_backup

    from derivtrain.cli import _refuse_to_overwrite, _shared_run_folder
    from derivtrain.config import check_overrides, register_schemas
    from derivtrain.paths import config_dir
    from derivtrain.plugins import check_plugins
    from derivtrain.sweep import register_resolvers

    if "-m" in args or "--multirun" in args:
        raise UserError("derivtrain.train runs one job; sweeps (-m) run from the command line")
    args = _shared_run_folder(args)  # a resumed run goes on in its own folder
    _refuse_to_overwrite(args)
    check_overrides(args)
    check_plugins(config_dir())
    register_schemas()
    register_resolvers()
    # Hydra keeps process-wide state (GlobalHydra, HydraConfig): ours for this run, the caller's after
    saved_global, saved_hydra_config = get_gh_backup(), HydraConfig.instance().cfg
    GlobalHydra.instance().clear()
    try:
        hydra = Hydra.create_main_hydra2(task_name="derivtrain",
                                         config_search_path=create_config_search_path(str(config_dir())))
        return hydra.run(config_name="config", task_function=lambda cfg: _job(cfg, remove_on_error),
                         overrides=args, with_log_configuration=False).return_value
    finally:
        restore_gh_from_backup(saved_global)
        HydraConfig.instance().cfg = saved_hydra_config


def _job(cfg, remove_on_error: bool):
    """What derivtrain/cli.py's job does for one run, returning instead of printing and exiting:
    (metrics, run folder), or the exception the CLI would report. A folder this call created for a
    run that bad input stopped is removed (it holds only Hydra's .hydra/): nothing is left behind."""
    import shutil

    from hydra.core.hydra_config import HydraConfig

    from derivtrain.lock import run_folder_lock
    from derivtrain.run import run

    run_dir = HydraConfig.get().runtime.output_dir
    try:
        with run_folder_lock(run_dir):
            return run(cfg, run_dir), run_dir
    except Exception as exc:  # noqa: BLE001 - returned: Hydra would print a banner for a raised one
        if remove_on_error and isinstance(exc, UserError) and not _holds_a_run(Path(run_dir)):
            shutil.rmtree(run_dir, ignore_errors=True)
        return exc


def _holds_a_run(folder: Path) -> bool:
    return any(p.name not in (".hydra",) for p in folder.iterdir()) if folder.is_dir() else False
