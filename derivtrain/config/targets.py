"""The target plan of a composed config: what a run centres and scales its regression targets by.

Decided from the classes the config names, before any data is read (the targets are centred in
float64 while the splits are built, derivtrain/data/targets.py), by derivtrain/losses/targets.py.
"""
from derivtrain.data.targets import TargetPlan


def target_plan_of(cfg, C=None) -> TargetPlan:
    """The TargetPlan for `cfg` (the CLI's composed config or an estimator's); `C`, an estimator's,
    sets a penalty's strength > 0."""
    from hydra.utils import get_class

    from derivtrain.config.solver import _strength
    from derivtrain.losses.targets import target_plan

    strength = 1.0 if C is not None else _strength(cfg)
    return target_plan(get_class(cfg.model._target_), get_class(cfg.loss._target_),
                       get_class(cfg.regularizer._target_), strength)
