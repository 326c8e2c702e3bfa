"""One plan per run: the checked config and the fitter chosen for it, made once.

launch.py makes it (or `run(cfg)` itself, called from Python) before anything is written; set-up,
fit and report read it. Nothing checks or chooses twice: the pre-flight's answer to "which fitter"
(derivtrain/config/solver.py, from the classes the config names) is the one the run uses, and
tests/convex/test_plan.py holds it equal to what the built objective would say.
"""
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Plan:
    cfg: Any  # the task's config (DictConfig), validated
    fitter: str  # a name of derivtrain/trainer/fitters.py's FITTERS


def make_plan(cfg) -> Plan:
    """Validate `cfg` (every configuration error, as one ConfigError) and choose its fitter."""
    from derivtrain.config.preflight import validate

    return Plan(cfg, validate(cfg))


def as_plan(cfg_or_plan) -> Plan:
    return cfg_or_plan if isinstance(cfg_or_plan, Plan) else make_plan(cfg_or_plan)
