"""The pre-flight check that the chosen solver suits the chosen model, loss and penalty.

Read from the classes the config names (nothing is instantiated): a solver that cannot work is a
configuration error before any data is loaded, naming what to use instead. Returns which fitter
optim picks (derivtrain/trainer/fitters.py), so the other checks know whether it is full batch.
"""
from types import SimpleNamespace

from hydra.utils import get_class

from derivtrain.config.schemas.optim import SOLVERS
from derivtrain.errors import ConfigError


def _chosen(cfg, group: str, cls) -> str:
    """'model=logistic' as the user chose it (from Hydra), else the class the config names."""
    from hydra.core.hydra_config import HydraConfig

    if HydraConfig.initialized():
        return f"{group}={HydraConfig.get().runtime.choices.get(group)}"
    return cls.__name__


def _classes(cfg):
    return get_class(cfg.model._target_), get_class(cfg.loss._target_), get_class(cfg.regularizer._target_)


def _strength(cfg) -> float:
    """The penalty strength the run will train with (the SVM's model.C / model.alpha set it too)."""
    model = cfg.model
    if model.get("alpha") is not None:
        return float(model.alpha)
    if model.get("C") is not None:
        return 1.0
    return float(cfg.regularizer.get("strength", 0.0))


def penalty_of(cfg):
    """The penalty the config names, built from its keys (a few floats: nothing else is built), so
    its own `differentiable` and `twice_differentiable` answer for it (an elastic net's depend on
    l1_ratio) and no penalty class or name is known here."""
    cls = get_class(cfg.regularizer._target_)
    kwargs = {k: v for k, v in cfg.regularizer.items() if not str(k).startswith("_")}
    try:
        return cls(**kwargs)
    except Exception:  # a plugin's bad value: the run names it where it builds the penalty; here the class says
        return SimpleNamespace(differentiable=getattr(cls, "differentiable", True), strength=_strength(cfg),
                               twice_differentiable=getattr(cls, "twice_differentiable", False))


def _smooth(loss_cls, cfg) -> bool:
    penalty = penalty_of(cfg)
    return getattr(loss_cls, "differentiable", True) and (penalty.differentiable or not penalty.strength > 0)


def choose_fitter(name: str, certifiable: bool, mixture: bool, minibatches: bool, ddp: bool = False,
                  smooth_linear: bool = False) -> str:
    """optim.name -> the fitter (derivtrain/trainer/fitters.py). optim=auto: the certified solver for
    convex linear models, EM for mixtures, L-BFGS for a linear model with a smooth loss that has no
    dual (a plugin's log-cosh), the gradient loop otherwise and whenever the run asks for minibatches
    (trainer.batch_size, data read from disk in chunks). Under trainer=ddp the certified solver sums
    over every rank's rows; EM and L-BFGS run in one process only (the gradient loop)."""
    if name == "auto":
        if minibatches:
            return "gradient"
        if certifiable:
            return "certified"
        if mixture and not ddp:
            return "em"
        return "quasi_newton" if smooth_linear and not ddp else "gradient"
    return name if name in SOLVERS else "gradient"


def wants_minibatches(trainer, data_cfg) -> bool:
    from derivtrain.data.memory import reads_out_of_core

    return trainer.batch_size is not None or reads_out_of_core(data_cfg)


def is_certifiable(cfg) -> bool:
    """derivtrain/convex/plan.py's answer from the config's classes: the run asks it of the built
    objective (derivtrain/trainer/fitters.py), so the two agree."""
    from derivtrain.convex.plan import certifiable

    model_cls, loss_cls, penalty_cls = _classes(cfg)
    return certifiable(model_cls, loss_cls, penalty_cls, _strength(cfg), cfg.loss.get("reduction", "mean"))


def check_solver(cfg) -> str:
    name = cfg.optim.name
    model_cls, loss_cls, penalty_cls = _classes(cfg)
    certifiable = is_certifiable(cfg)
    mixture = hasattr(model_cls, "m_step")
    model_name = _chosen(cfg, "model", model_cls)
    if name == "auto":
        return choose_fitter(name, certifiable, mixture, wants_minibatches(cfg.trainer, cfg.data),
                             cfg.trainer.strategy == "ddp", smooth_linear(model_cls, loss_cls, cfg))
    if name == "certified" and not certifiable:
        raise ConfigError(f"optim=certified solves linear models (svm, logistic, linear, poisson) with a convex "
                          f"loss and a penalty of strength > 0; {model_name} with {loss_cls.__name__} and "
                          f"{penalty_cls.__name__} is not one: use optim=auto")
    if name == "em" and not mixture:
        raise ConfigError(f"optim=em fits mixture models (model=gmm, model=gaussian), not {model_name}; "
                          "use optim=auto")
    if name == "lbfgs" and not _smooth(loss_cls, cfg):
        raise ConfigError(f"optim=lbfgs needs a differentiable objective, but {loss_cls.__name__} or the L1 part "
                          "of the penalty has a kink where L-BFGS stalls without saying so; use optim=auto "
                          "(certified: solves it exactly), or optim=sgd/adam")
    if name == "newton" and not (getattr(loss_cls, "twice_differentiable", True) and _twice(cfg)):
        raise ConfigError(f"optim=newton needs a twice-differentiable objective, but {loss_cls.__name__} with "
                          f"{penalty_cls.__name__} has no second derivative; use optim=auto, or a smooth loss "
                          "and regularizer")
    return choose_fitter(name, certifiable, mixture, False)


def smooth_linear(model_cls, loss_cls, cfg) -> bool:
    """A linear model (scores affine in the weights) with a differentiable loss and penalty."""
    from derivtrain.models.base import LinearModel

    return isinstance(model_cls, type) and issubclass(model_cls, LinearModel) and _smooth(loss_cls, cfg)


def _twice(cfg) -> bool:
    """The penalty has a second derivative (its own say: L2, an elastic net with l1_ratio=0), or none."""
    penalty = penalty_of(cfg)
    return not penalty.strength > 0 or penalty.twice_differentiable
