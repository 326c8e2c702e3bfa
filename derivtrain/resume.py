"""trainer.resume: what a resumed run may change, and the check that it continues the same training.

A resumed run goes on with the saved model, optimizer state, schedule and RNG. Whatever decides
those (model, loss, regularizer, data, optimizer, seed, batches, precision ...) must be what the
saved run used, or the result would be neither run: a logistic model holding SVM weights, an
Adam step on SGD's state. Only the keys below may change; the first other difference is a
ConfigError naming the key, the saved and the requested value, raised before anything is written.
"""
from pathlib import Path

from derivtrain.errors import ConfigError, UserError

# keys (or whole groups) a resumed run may set differently from the run it continues
CHANGEABLE = ("trainer.max_epochs", "trainer.resume", "trainer.device", "trainer.progress_bar",
              "trainer.log_every_n_steps", "trainer.checkpoint_every_n_epochs", "trainer.keep_checkpoints",
              "trainer.compile", "logger", "analysis", "diagnostics", "sweep")
_MISSING = object()


def changeable(key: str) -> bool:
    return any(key == c or key.startswith(c + ".") for c in CHANGEABLE)


def differences(saved, requested, prefix: str = ""):
    """(key, saved value, requested value) for every leaf that differs, in the config's order."""
    if isinstance(saved, dict) and isinstance(requested, dict):
        for key in [*requested, *(k for k in saved if k not in requested)]:
            yield from differences(saved.get(key, _MISSING), requested.get(key, _MISSING),
                                   f"{prefix}.{key}" if prefix else str(key))
    elif not _same(saved, requested):
        yield prefix, saved, requested


def _same(a, b) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, (int, float)) and isinstance(b, (int, float)) and float(a) == float(b)
    return type(a) is type(b) and a == b if not isinstance(a, (list, tuple)) else (
        isinstance(b, (list, tuple)) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b)))


def check_continues(saved_config: dict, cfg, source, saved_options: dict | None = None) -> None:
    """ConfigError at the first option (model=svm ...), then key, that differs and may not change on resume."""
    from omegaconf import OmegaConf

    from derivtrain.registry import CODE_GROUPS, chosen_options

    chosen = chosen_options(cfg)
    for group in ("model", *CODE_GROUPS[1:]):
        saved, wanted = (saved_options or {}).get(group), chosen.get(group)
        if saved is not None and wanted is not None and saved != wanted:
            raise ConfigError(f"trainer.resume={source}: {group}={saved} in the saved run, {group}={wanted} here; "
                              f"a resumed run continues the same training (use {group}={saved}, or start a new run)")
    requested = OmegaConf.to_container(cfg, resolve=True)
    for key, saved, wanted in differences(saved_config, requested):
        if changeable(key):
            continue
        raise ConfigError(f"trainer.resume={source}: {key} was {_shown(saved)} in the saved run, "
                          f"{_shown(wanted)} here; a resumed run continues the same training (set {key} as "
                          f"it was, or start a new run; keys that may change: {', '.join(CHANGEABLE)})")


def _shown(value) -> str:
    return "(not set)" if value is _MISSING else repr(value)


def is_finished(run_folder: Path | None) -> bool:
    """A run folder whose run ended (its metrics.json is written last)."""
    return run_folder is not None and (run_folder / "metrics.json").exists()


def check_resumable_state(state: dict, source) -> None:
    """A gradient-loop checkpoint (one with optimizer state) has the other states its loop resumes;
    a full-batch solver's, where the solver goes on (derivtrain/trainer/solver_checkpoints.py; the
    solver checks the rest against the run it resumes)."""
    solver = state.get("solver")
    if solver is not None and not (isinstance(solver, dict) and type(solver.get("next")) is int):
        raise UserError(f"trainer.resume={source}: the checkpoint's solver state is not one derivtrain wrote "
                        "(no iteration to go on from); resume from another checkpoint, or start a new run")
    if "optimizer" not in state:
        return  # the certified solver, Newton and EM: their weights, and their solver state if saved
    for key in ("optimizer", "rng", "early_stopping"):
        if not isinstance(state.get(key), dict):
            raise UserError(f"trainer.resume={source}: the checkpoint has no '{key}' state to resume from")


def resolve_auto(config) -> Path | None:
    """trainer.resume=auto: continue this run's own folder (hydra.run.dir; under torchrun, the
    job's) from its last checkpoint when it has one and is not finished (a job restarted after
    losing a node: torchrun --max-restarts, a SLURM requeue), else start fresh. `config` is the
    composed config with its hydra node; trainer.resume becomes that folder or null. Returns the
    folder it continues (or None), for `announce_auto` once the resume has passed its checks."""
    from omegaconf import OmegaConf, open_dict

    if config.trainer.get("resume") != "auto":
        return None
    folder = Path(str(OmegaConf.select(config, "hydra.run.dir"))).expanduser()
    resumable = any((folder / "checkpoints").glob("*.pt")) and not is_finished(folder)
    with open_dict(config.trainer):
        config.trainer.resume = str(folder) if resumable else None
    return folder if resumable else None


def announce_auto(folder: Path | None) -> None:
    """Say what trainer.resume=auto chose: only once the resume is accepted (a refused one says
    only why, in one line)."""
    if folder is not None:
        from derivtrain.logging import log

        log.info("trainer.resume=auto: continuing from %s", folder / "checkpoints")


def load_resume(cfg, run_dir: Path) -> tuple:
    """(the checkpoint state to continue from, what the new checkpoints record about it), after every
    check: a checkpoint that is plain data, the same training, a run folder that is not finished.

    Continuing a finished run (a larger trainer.max_epochs) writes a new run folder; its checkpoints
    record `resumed_from`, the checkpoint they continue."""
    from derivtrain.saved import read_saved_run, run_folder_of

    source = cfg.trainer.resume
    saved = read_saved_run(source)
    check_continues(saved.config, cfg, source, saved.options)
    check_resumable_state(saved.state, source)
    source_run = run_folder_of(source)
    in_place = source_run is not None and _same_folder(source_run, run_dir)
    if in_place and is_finished(source_run):
        raise ConfigError(f"trainer.resume={source} is a finished run, which is never modified: continuing it "
                          "writes a new run folder (give another hydra.run.dir, or none)")
    return saved.state, ({} if in_place else {"resumed_from": str(Path(source).resolve())})


def _same_folder(a: Path, b: Path) -> bool:
    return Path(a).resolve() == Path(b).resolve()
