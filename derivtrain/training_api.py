"""derivtrain.train(*overrides, run_dir=None): the command line's run, called from Python.

    run = derivtrain.train("model=svm", "data=iris", "trainer.max_epochs=50", run_dir="outputs/iris_svm")
    run.metrics["test/accuracy"], run.path, run.model.predict(X)

The same steps as `python -m derivtrain ...` (derivtrain/cli.py, derivtrain/launch.py): the
overrides are checked, the config composed and validated, the run folder checked and claimed,
and derivtrain/run.py trains (the folder gets .hydra/, metrics.json, checkpoints/, split.npz and
TensorBoard events exactly as on the command line). What the CLI turns into exit code 2 and one
line on stderr is raised here as derivtrain.ConfigError with that line; nothing is printed. One
run per call: sweeps (`-m`) are the command line's.
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
    from derivtrain.error_messages import describe_user_error

    args = [str(o) for o in overrides]
    if run_dir is not None:
        args.append(f"hydra.run.dir={Path(run_dir)}")
    try:
        metrics, path = _launch(args)
    except ConfigError:
        raise
    except Exception as exc:  # noqa: BLE001 - Hydra's composition errors too, as the CLI reports them
        message = describe_user_error(exc)
        if message is None:
            raise
        raise ConfigError(message) from exc
    return Run(path=Path(path), metrics=metrics)


def _launch(args: list):
    """The command line's checks, then derivtrain/launch.py's run (compose, check, claim the
    folder, train): (metrics, run folder). Nothing printed; a stop or a write failure raises."""
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig
    from hydra.initialize import get_gh_backup, restore_gh_from_backup

    from derivtrain.config import check_overrides, register_schemas
    from derivtrain.launch import launch
    from derivtrain.paths import config_dir
    from derivtrain.plugins import check_plugins
    from derivtrain.sweep import register_resolvers

    flags = [a for a in args if a.startswith("-")]
    if flags:
        raise UserError(f"derivtrain.train takes overrides (group=option, key=value), not {flags[0]}; "
                        "sweeps (-m) and Hydra's flags are the command line's")
    check_overrides(args)
    check_plugins(config_dir())
    register_schemas()
    register_resolvers()
    # Hydra keeps process-wide state (GlobalHydra, HydraConfig): this run's while it runs, the caller's after
    saved_global, saved_hydra_config = get_gh_backup(), HydraConfig.instance().cfg
    GlobalHydra.instance().clear()
    try:
        return launch(args, report=False)
    finally:
        restore_gh_from_backup(saved_global)
        HydraConfig.instance().cfg = saved_hydra_config
