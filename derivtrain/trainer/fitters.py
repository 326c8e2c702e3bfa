"""Which fitter trains a run: one table from `optim.name` to a fit function.

    optim=auto            each model's natural solver (below)
    optim=certified       the linear solver: Newton on a smoothed objective, stopped on a duality gap
    optim=newton          Newton's method on any twice-differentiable objective
    optim=em              expectation-maximization for mixtures
    optim=sgd|adam|...    the gradient loop (torch.optim), minibatch or full batch

optim=auto picks, from the model: the certified solver for linear models whose loss and penalty
have a convex dual (svm, logistic, linear, poisson: the optimum, certified), EM for models with
closed-form M-steps (gmm, gaussian; in one process), L-BFGS for linear models whose smooth loss has
no dual (trainer/quasi_newton.py: a plugin's log-cosh), and the gradient loop with Adam for everything
else (the MLP, plugin models, mixtures under trainer=ddp) and for every run that asks for
minibatches (trainer.batch_size, data=npy read from disk in chunks). The fit functions are imported when chosen: a run loads only the one
it uses.
"""
import importlib

from derivtrain.config.solver import choose_fitter
from derivtrain.errors import ConfigError

# optim.name -> "module:function"; every entry keeps derivtrain/trainer/fitting.py's contract
FITTERS = {
    "certified": "derivtrain.trainer.certified:fit_certified",
    "newton": "derivtrain.trainer.newton:fit_newton",
    "em": "derivtrain.trainer.em:fit_em",
    "gradient": "derivtrain.trainer.loop:fit",
    "quasi_newton": "derivtrain.trainer.quasi_newton:fit_lbfgs",  # optim=auto only: optim=lbfgs is the loop's
}


def fitter_name(optim_cfg, objective, trainer_cfg, data) -> str:
    """The fitter for this run (derivtrain/config/solver.py:choose_fitter, from the instances)."""
    from derivtrain.convex.certificate import has_dual

    minibatches = trainer_cfg.batch_size is not None or not _in_memory(data)
    name = choose_fitter(optim_cfg.name, has_dual(objective), hasattr(objective.model, "m_step"), minibatches,
                         trainer_cfg.strategy == "ddp", _smooth_linear(objective))
    if name == "certified" and not has_dual(objective):
        raise ConfigError(f"optim=certified solves linear models with a convex loss and penalty (svm, logistic, "
                          f"linear, poisson); {type(objective.model).__name__} with "
                          f"{type(objective.loss).__name__} is not one; use optim=auto")
    return name


def _smooth_linear(objective) -> bool:
    """What config/solver.py:smooth_linear reads from the classes, from the instances."""
    from derivtrain.models.base import LinearModel

    return (isinstance(objective.model, LinearModel) and getattr(objective.loss, "differentiable", True)
            and (objective.penalty.differentiable or objective.penalty.strength == 0))


def _in_memory(data) -> bool:
    import torch

    return isinstance(data.train.X, torch.Tensor)


def get_fitter(name: str):
    module, _, function = FITTERS[name].partition(":")
    return getattr(importlib.import_module(module), function)


def fit_objective(ctx):
    """Fit with the fitter optim names (optim=auto: the model's natural one); returns its FitResult."""
    return get_fitter(fitter_name(ctx.optim, ctx.objective, ctx.trainer, ctx.data))(ctx)
