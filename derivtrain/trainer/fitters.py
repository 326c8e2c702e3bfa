"""Which fitter trains a run: one table from `optim.name` to a fit function.

    optim=auto            each model's natural solver (below)
    optim=certified       the linear solver: Newton on a smoothed objective, stopped on a duality gap
    optim=newton          Newton's method on any twice-differentiable objective (a linear convex one
                          by the certified solver's step, trainer/linear_newton.py)
    optim=em              expectation-maximization for mixtures
    optim=sgd|adam|...    the gradient loop (torch.optim), minibatch or full batch

optim=auto picks, from the model: the certified solver for linear models whose loss and penalty
have a convex dual (svm, logistic, linear, poisson: the optimum, certified), EM for models with
closed-form M-steps (gmm, gaussian; in one process), L-BFGS for linear models whose smooth loss has
no dual (trainer/quasi_newton.py: a plugin's log-cosh), and the gradient loop with Adam for everything
else (the MLP, plugin models, mixtures under trainer=ddp) and for every run that asks for
minibatches (trainer.batch_size, data=npy read from disk in chunks). A run's fitter is chosen once,
by the pre-flight (derivtrain/config/plan.py); `fitter_name` says the same from built objects, for
callers that hold no plan. Each fit function is imported when chosen: a run loads only its own.
"""
from derivtrain.config.solver import choose_fitter
from derivtrain.errors import ConfigError


def _certified(ctx):
    from derivtrain.trainer.certified import fit_certified

    return fit_certified(ctx)


def _newton(ctx):
    from derivtrain.trainer.newton import fit_newton

    return fit_newton(ctx)


def _em(ctx):
    from derivtrain.trainer.em import fit_em

    return fit_em(ctx)


def _gradient(ctx):
    from derivtrain.trainer.loop import fit

    return fit(ctx)


def _quasi_newton(ctx):  # optim=auto only: optim=lbfgs is the gradient loop's
    from derivtrain.trainer.quasi_newton import fit_lbfgs

    return fit_lbfgs(ctx)


# fitter name -> fit function; every entry keeps derivtrain/trainer/fitting.py's contract
FITTERS = {"certified": _certified, "newton": _newton, "em": _em, "gradient": _gradient, "quasi_newton": _quasi_newton}


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


def fit_objective(ctx, fitter: str | None = None):
    """Fit with `fitter` (the plan's), or the one optim names for these objects (optim=auto: the
    model's natural one); returns its FitResult. Within the certified family, optim=auto takes
    proximal Newton or dual coordinate descent where they suit the problem (below)."""
    name = fitter or fitter_name(ctx.optim, ctx.objective, ctx.trainer, ctx.data)
    fresh = ctx.resume_state is None
    if name == "certified" and ctx.optim.name == "auto" and fresh and _smooth_l1(ctx):
        from derivtrain.trainer.prox_newton import fit_prox_newton

        return fit_prox_newton(ctx)
    resumes_dual_cd = not fresh and ctx.resume_state.get("fitted_by") == "dual_cd"  # goes on with what it saved
    if name == "certified" and ctx.optim.name == "auto" and (resumes_dual_cd or fresh and _dual_coordinates(ctx)):
        from derivtrain.trainer.dual_cd import fit_dual_cd

        return fit_dual_cd(ctx)
    return FITTERS[name](ctx)


def _dual_coordinates(ctx) -> bool:
    """optim=auto for the hinge (or, on sparse rows, the squared hinge) under L2 on rows it is faster on
    (derivtrain/trainer/dual_cd_choice.py):
    dual coordinate descent (derivtrain/trainer/dual_cd.py: O(a row's nonzeros) a step, where the
    interior point factors a (d + 1)^2 Hessian each step). Says which and why."""
    from derivtrain.logging import log
    from derivtrain.trainer.dual_cd_choice import suits

    why = (suits(ctx.objective, ctx.data, ctx.optim.max_dense, float(ctx.optim.tol))
           if ctx.distributed.world_size == 1 else None)
    if why is None:
        return False
    log.info("optim=auto: dual coordinate descent (%s)", why)
    return True


def _smooth_l1(ctx) -> bool:
    """optim=auto under an L1 penalty with a smooth loss whose score columns do not interact: proximal Newton
    (derivtrain/trainer/prox_newton.py: the certified solver's certificate, |w| kept exact where the
    interior point splits it into pieces); the interior point otherwise. Says which and why."""
    from derivtrain.logging import log
    from derivtrain.trainer.prox_newton import suits

    if not suits(ctx.objective, ctx.data, ctx.optim, working_sets=True):
        return False
    linear = ctx.objective.model.linear
    log.info("optim=auto: proximal Newton with coordinate descent over working sets (a smooth loss under an L1 "
             "penalty, %d independent score column%s of %d parameters; each step's Hessian over at most "
             "optim.max_dense=%d of them)", linear.out_features, "" if linear.out_features == 1 else "s",
             linear.in_features + 1, ctx.optim.max_dense)
    return True
