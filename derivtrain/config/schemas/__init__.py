"""Typed schemas for every config group, registered in Hydra's ConfigStore, one module per group.

Each YAML option names its schema in its defaults list (`/schema/<group>@_here_: <name>`), so Hydra
checks key names and types while composing; each group's module also holds the checks of values
that types cannot make (ranges, choices), which derivtrain.config.validate runs.
"""
from hydra.core.config_store import ConfigStore

from derivtrain.config.schemas import analysis, data, model, optim, sweep, trainer

SCHEMAS = {
    "data": data.SCHEMAS,
    "model": model.MODEL_SCHEMAS,
    "loss": model.LOSS_SCHEMAS,
    "regularizer": model.REGULARIZER_SCHEMAS,
    "optim": optim.SCHEMAS,
    "trainer": trainer.TRAINER_SCHEMAS,
    "logger": trainer.LOGGER_SCHEMAS,
    "analysis": analysis.SCHEMAS,
    "diagnostics": trainer.DIAGNOSTICS_SCHEMAS,
    "sweep": sweep.SCHEMAS,
}
GROUPS = tuple(SCHEMAS)  # data, model, loss, regularizer, optim, trainer, logger, analysis, diagnostics, sweep


def register_schemas() -> None:
    """Put every schema in Hydra's ConfigStore under `schema/<group>/<name>`, once a process: each
    store converts its dataclass to a config (111 of them, ~0.1 s), and a process that composes
    many runs (derivtrain.train in a loop, a sweep in one process, the tests) would pay it per run."""
    store = ConfigStore.instance()
    held = store.repo.get("schema", {})
    for group, schemas in SCHEMAS.items():
        for name, node in schemas.items():
            if f"{name}.yaml" not in held.get(group, {}):
                store.store(group=f"schema/{group}", name=name, node=node)
