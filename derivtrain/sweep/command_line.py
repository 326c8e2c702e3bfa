"""What `python -m derivtrain -m ...` adds to its command line, and the sweep's exit code.

- hydra.sweep.dir, named now when the command line leaves it open (conf/config.yaml names it the
  same way): the CLI reads the jobs' outcome there once Hydra returns.
- data.fold=range(K) for data.cv_folds=K: one job per fold, each fold the validation rows once.
- hydra.sweeper.direction for hydra/sweeper=optuna, from sweep.monitor and sweep.mode (Optuna's
  own default, minimize, would look for the worst accuracy).
- hydra.job.config.override_dirname.exclude_keys: the overrides every job shares, so that job
  folders (and TensorBoard's run names) show what varies: `3_optim.lr=0.1`, not the whole line.
"""
import datetime
from pathlib import Path

from derivtrain.errors import ConfigError

DIRECTION = "hydra.sweeper.direction='${derivtrain_direction:${sweep.monitor},${sweep.mode}}'"
EXCLUDE = "hydra.job.config.override_dirname.exclude_keys"
_QUOTES = "'\""


def is_multirun(args) -> bool:
    return "-m" in args or "--multirun" in args


def value_of(args, key: str) -> str | None:
    """The value the command line gives `key` (`key=value`, `+key=value`, `++key=value`), or None."""
    for arg in args:
        name, sep, value = arg.partition("=")
        if sep and name.lstrip("+") == key:
            return value
    return None


def prepare_sweep(args) -> tuple[list, Path | None]:
    """(the command line to give Hydra, the sweep folder); (args, None) when it is not a sweep."""
    if not is_multirun(args):
        return args, None
    folder = value_of(args, "hydra.sweep.dir")
    if folder is None:
        now = datetime.datetime.now()
        folder = f"multirun/{now:%Y-%m-%d}/{now:%H-%M-%S-%f}"
        args = [*args, f"hydra.sweep.dir={folder}"]
    optuna = value_of(args, "hydra/sweeper") == "optuna"
    if optuna:
        check_intervals(args)
    args = [*args, *_fold_jobs(args, optuna)]
    if optuna and value_of(args, "hydra.sweeper.direction") is None:
        args = [*args, DIRECTION]
    shared = _shared_keys(args)
    if shared and value_of(args, EXCLUDE) is None:
        args = [*args, f"{EXCLUDE}=[{','.join(repr(key) for key in shared)}]"]
    return args, Path(folder)


def _shared_keys(args) -> list:
    """The keys the command line sets to one value (not swept): the same in every job."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import OverrideParseException

    task = [a for a in args if "=" in a and not a.lstrip("+~").startswith(("-", "hydra.", "hydra/"))]
    try:
        overrides = OverridesParser.create().parse_overrides(task)
    except OverrideParseException:
        return []  # Hydra reports the bad override itself
    return [o.key_or_group for o in overrides if not o.is_sweep_override()]


def check_intervals(args) -> None:
    """Optuna's search space on the command line (`key=interval(a,b)`, `hydra.sweeper.params.key=...`),
    checked before Hydra composes: Optuna refuses an inverted interval, or a log-scaled one
    (tag(log,...)) that reaches 0, with a traceback mid-sweep."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create()
    dotted = None
    for arg in args:
        key, sep, value = arg.partition("=")
        key = key.lstrip("+~")
        if key.startswith("hydra.sweeper.params."):
            dotted = dotted or arg
            key, value = key.removeprefix("hydra.sweeper.params."), value.strip(_QUOTES)
        if sep and not key.startswith(("-", "hydra.", "hydra/")):
            _check_interval(parser, key, value)
    if dotted and value_of(args, "hydra.sweeper.params") is None:
        # derivtrain's Optuna config has no params for such a key to go into: Hydra fails on it with an AssertionError
        key, _, value = dotted.partition("=")
        key, value = key.lstrip("+~").removeprefix("hydra.sweeper.params."), value.strip(_QUOTES)
        raise ConfigError(f"{dotted}: give Optuna's search space as the key itself, {key}={value}")


def _check_interval(parser, key: str, value: str) -> None:
    from hydra.core.override_parser.types import IntervalSweep
    from hydra.errors import OverrideParseException

    try:
        interval = parser.parse_override(f"{key}={value}").value()
    except OverrideParseException:
        return  # Hydra reports the bad override itself
    if not isinstance(interval, IntervalSweep):
        return
    low, high = interval.start, interval.end
    if low > high:
        raise ConfigError(f"{key}={value}: the interval's low end comes first: interval({high},{low})")
    if "log" in interval.tags and low <= 0:
        raise ConfigError(f"{key}={value}: a log-scaled interval needs a low end above 0, e.g. "
                          f"tag(log,interval({high / 1000:g},{high:g}))")


def _fold_jobs(args, optuna: bool) -> list:
    """`data.fold=range(K)` for `data.cv_folds=K`, unless the command line picks the folds itself."""
    folds = value_of(args, "data.cv_folds")
    if folds is None or value_of(args, "data.fold") is not None:
        return []
    if not folds.isdigit():
        raise ConfigError(f"data.cv_folds={folds}: a sweep takes one number of folds, e.g. data.cv_folds=5 "
                          "(the folds become its jobs)")
    if int(folds) < 2:
        return []  # 0 = off; 1 is refused by validate with its own message
    if optuna:
        raise ConfigError(f"data.cv_folds={folds} with hydra/sweeper=optuna would make the fold a parameter "
                          "to optimize; cross-validate with the basic sweeper (drop hydra/sweeper=optuna)")
    return [f"data.fold=range({folds})"]


def sweep_outcome(sweep_dir: Path) -> tuple[int, str | None]:
    """(exit code, one line): 0 when every job finished; 2 when every job failed on bad
    configuration or input (say, data.val_size=0); 1 when any job failed otherwise."""
    from derivtrain.sweep.summary import collect

    jobs = collect(sweep_dir)
    failed = [job for job in jobs if job.failed]
    if not failed:
        return 0, None
    if len(failed) == len(jobs) and all(job.exit_code == 2 for job in failed):
        return 2, f"every job of the sweep failed: {failed[0].reason}"
    return 1, f"{len(failed)} of {len(jobs)} sweep jobs failed; see {sweep_dir / 'summary.md'}"
