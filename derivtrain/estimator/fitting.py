"""One fit of a configured model on in-memory Data: run()'s set_up and fit, minus the run folder.

The model is built inside its objective as derivtrain/run.py builds it, and trained by the
fitter optim picks (derivtrain/trainer/fitters.py: optim=auto is the certified solver for the
convex linear models), with a FitContext that keeps no checkpoint. Nothing is written and
nothing printed unless asked: TensorBoard events only with log_dir, the `derivtrain` logger's
messages and the progress bar only with verbose. A fit that ends without meeting its tolerance
says so as scikit-learn does, with a ConvergenceWarning.
"""
import functools
import inspect
import warnings
from contextlib import contextmanager
from pathlib import Path

import torch
from hydra.utils import get_object
from omegaconf import OmegaConf

from derivtrain.config.path_checks import PATH_KEYS
from derivtrain.estimator.configs import InvalidParameterError
from derivtrain.threads import threads_for
from derivtrain.logging import NullLogger, log, make_logger
from derivtrain.losses import Objective
from derivtrain.losses.penalty import NoPenalty
from derivtrain.losses.targets import fitted_penalty


def fit_model(cfg, data, C=None, log_dir=None, verbose: bool = False, fitter: str | None = None):
    """(the trained model, the fitter's FitResult) for `cfg` on `data`, by `fitter` (its plan's,
    derivtrain/estimator/configs.py:plan; None: chosen from the built objects)."""
    from derivtrain.trainer.fitters import fit_objective
    from derivtrain.trainer.fitting import make_context

    device = data.feature_mean.device
    if log_dir is None and cfg.trainer.log_every_n_steps is None:
        cfg = _fewer_log_points(cfg, len(data.train))
    # the model's random initialization is seeded (trainer.seed) without moving the caller's RNG
    with _quiet(verbose), threads_for(data.train.X.numel()), \
            torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        # the CPU generator alone: torch.manual_seed also queues a seed for every lazily
        # initialized accelerator, with a stack trace each (~4 ms, a small fit's worth)
        torch.default_generator.manual_seed(cfg.trainer.seed)
        if device.type == "cuda":
            torch.cuda.manual_seed(cfg.trainer.seed)
        objective = build_objective(cfg, data, C)
        logger = make_logger(cfg.logger, Path(log_dir)) if log_dir is not None else NullLogger()
        try:
            as_omegaconf = OmegaConf.create(cfg.to_container()) if log_dir is not None else cfg  # what the logger reads
            logger.log_run_start(as_omegaconf, data.spec.task)
            result = fit_objective(make_context(cfg, objective, data, logger), fitter)
            logger.log_results(as_omegaconf, result.metrics)  # the training metrics and the hyper-parameters
        finally:
            logger.close()
    _warn_if_not_converged(cfg, result)
    _centre_biases(objective)
    return objective.model, result


# log points of a gradient-loop fit that logs nowhere: each still checks for a non-finite loss
# (trainer.on_nonfinite), and costs a host sync and a forward pass (a third of a small MLP's fit)
_UNLOGGED_POINTS = 10


def _fewer_log_points(cfg, n_rows: int):
    """The config with trainer.log_every_n_steps set for _UNLOGGED_POINTS points a run (the CLI's
    default is one per epoch, up to 100: a curve worth drawing)."""
    from types import SimpleNamespace

    from derivtrain.estimator.configs import Plain, target
    from derivtrain.trainer.auto_batch import auto_batch_size
    from derivtrain.trainer.schedule import default_log_interval
    from derivtrain.trainer.stop_rules import epoch_cap

    # the batches the loop will take (optim=auto's minibatches for a large table), read from the model's class
    batch = auto_batch_size(cfg.optim, cfg.trainer, SimpleNamespace(model=target(cfg.model)), n_rows)[0] or n_rows
    steps = -(-n_rows // batch)
    every = default_log_interval(epoch_cap(cfg.trainer, cfg.optim), steps, max_points=_UNLOGGED_POINTS)
    return Plain({**cfg, "trainer": Plain({**cfg.trainer, "log_every_n_steps": every})})


def build_objective(cfg, data, C=None) -> Objective:
    """As derivtrain/run.py:build_objective, with the rows' total weight as n (scikit-learn's C is
    per weighted row: alpha = 1 / (C sum_i w_i)) and C, when given, setting the penalty's strength."""
    from derivtrain.run import check_compatible

    model = _make(cfg.model, spec=data.spec)
    loss = _make(cfg.loss)
    penalty = _make(cfg.regularizer, skip=PATH_KEYS)  # regularizer.path's keys are the path's (derivtrain/path/)
    check_compatible(cfg, model, loss, data.spec)
    weight = data.train.weight
    if weight is not None and "sample_weight" not in inspect.signature(loss.forward).parameters:
        raise InvalidParameterError(f"{type(loss).__name__} takes no sample weights (its forward has no "
                                    "sample_weight argument); fit without sample_weight and class_weight")
    n_weighted = float(weight.sum()) if weight is not None else len(data.train)
    if C is not None:
        if isinstance(penalty, NoPenalty):
            raise InvalidParameterError(f"C={C} sets the strength of the L2 penalty, but regularizer=none; "
                                        "drop regularizer or C")
        penalty.strength = 1.0 / (C * n_weighted)
    else:  # model=svm's own model__C / model__alpha, as derivtrain/run.py turns them into the strength
        penalty.strength = model.regularization_strength(n_weighted, penalty.strength)
    fitted_penalty(penalty, data.target_scale, loss)  # scaled targets: the same problem in fitted units
    model = model.to(device=data.feature_mean.device, dtype=data.train.X.dtype)
    model.set_standardization(data.feature_mean, data.feature_scale)
    model.set_target_scaling(data.target_mean, data.target_scale)  # predictions in the data's units
    model.probability_link = loss.probability_link
    return Objective(model, loss, penalty)


def _make(node, skip=(), **supplied):
    """hydra.utils.instantiate for a plain, flat `_target_` node (every option's is), at a
    fraction of its cost: instantiate deep-copies and merges the node on every call, a third of a
    warm fit on breast_cancer."""
    kwargs = {k: v for k, v in node.items() if not k.startswith("_") and k not in skip}
    return _target(node._target_)(**kwargs, **supplied)


@functools.lru_cache(maxsize=64)
def _target(path: str):
    return get_object(path)


@torch.no_grad()
def _centre_biases(objective) -> None:
    """One canonical optimum where there is a line of them: for a linear model trained by a loss
    that only compares a row's scores (softmax, Crammer-Singer, Weston-Watkins), shifting all the
    unpenalized biases by one constant changes neither the objective nor any prediction. Biases of
    mean 0 make decision_function the same whatever the solver's path (e.g. weighted vs repeated rows)."""
    from derivtrain.convex.certificate import linear_problem

    problem = linear_problem(objective)
    if problem is not None and problem.linear.out_features > 2 and getattr(problem.loss, "shift_invariant", False):
        problem.linear.bias -= problem.linear.bias.mean()


@contextmanager
def _quiet(verbose: bool):
    """verbose=0: the `derivtrain` logger says nothing; verbose=1: it reports at INFO on stderr.
    (A fit that does not converge still says so: a ConvergenceWarning, scikit-learn's way.)"""
    if verbose:
        if not log.handlers:
            from derivtrain.logging import configure_logging

            configure_logging()
        yield
        return
    disabled = log.disabled  # (not setLevel: it clears every logger's cache, ~0.5 ms a fit)
    log.disabled = True
    try:
        yield
    finally:
        log.disabled = disabled


def _warn_if_not_converged(cfg, result) -> None:
    from sklearn.exceptions import ConvergenceWarning

    from derivtrain.trainer.stop_advice import stop_advice

    metrics = result.metrics
    if metrics.get("train/converged") is not False:
        return
    gap = metrics.get("train/optimality_gap")
    tol = result.tol if result.tol is not None else cfg.optim.tol
    detail = (f"the certified bound on the optimality gap, {gap:.3g}, is above optim__tol={tol:.3g}" if gap is not None
              else f"optim={cfg.optim.name!r} stopped before its tolerance")
    advice = stop_advice(cfg.optim, cfg.trainer, result.stopped_by, gap if gap is not None else 0.0, estimator=True,
                         cap=result.cap)
    warnings.warn(f"the fit did not converge: {detail}; {advice}", ConvergenceWarning, stacklevel=4)
