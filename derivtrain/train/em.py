"""fit_em(): expectation-maximization for mixture models (optim=em), full batch, with restarts.

Not a gradient loop: each iteration is the model's closed-form E-step (responsibilities, by
log-sum-exp) and M-step (weighted means and covariances). The log-likelihood never decreases;
EM stops when it gains less than optim.tol in one iteration (scikit-learn's test), or after
optim.max_iter iterations. EM finds a local maximum only, so optim.n_init restarts, each from
its own k-means++ start, keep the best.

The convergence test reads the log-likelihood on the host once per iteration. That is a sync per
iteration, which the gradient loop avoids; EM runs a few dozen iterations, each a full pass over
the data, so one scalar per iteration costs nothing measurable.
"""
import math

import torch

from derivtrain.logging import log
from derivtrain.train.fitting import FitContext, FitResult, finish


def run_em(model, Z: torch.Tensor, max_iter: int, tol: float, on_iteration=None, weight=None):
    """EM from the model's current parameters: (log-likelihood per iteration, converged).

    Iteration i evaluates the current parameters (E-step) and, unless they have converged,
    moves them to the M-step's maximizer. The values are mean log-likelihoods in the model's
    (standardized) space. `weight`: per-row sample weights (n,), or None; a row of weight w counts
    as w copies of it: the M-step sees responsibilities times weights, the test a weighted mean.
    """
    history, previous = [], -math.inf
    for _ in range(max_iter):
        resp, mean_ll = model.e_step(Z, weight)
        value = mean_ll.item()  # the convergence test's one host sync per iteration
        history.append(value)
        if on_iteration is not None:
            on_iteration(len(history), value)
        if not math.isfinite(value):
            break
        if abs(value - previous) < tol:
            return history, True
        previous = value
        model.m_step(Z, resp if weight is None else resp * weight.to(resp.dtype))
    return history, False


def fit_em(ctx: FitContext) -> FitResult:
    model, optim_cfg = ctx.model, ctx.optim
    Z = ctx.data.train.X
    # the user's space: the standardization's Jacobian turns standardized log-densities into raw ones
    offset = model.log_det_jacobian().item()
    generator = torch.Generator(device=Z.device).manual_seed(ctx.trainer.seed)

    best = None  # (final log-likelihood, history, converged, parameters)
    starts = 1 if ctx.resume_state is not None else optim_cfg.n_init
    for start in range(starts):
        if ctx.resume_state is not None:  # continue from the checkpoint's parameters
            model.load_state_dict(ctx.resume_state["model"])
        else:
            model.initialize(Z, generator, optim_cfg.init)

        def on_iteration(i, value, start=start):
            ctx.logger.log_scalars({f"em/log_likelihood/init_{start}": value + offset}, i)
            ctx.stop_point(i, i, fitted_by="em", converged=False)  # Ctrl-C/SIGTERM: these parameters, saved

        history, converged = run_em(model, Z, optim_cfg.max_iter, optim_cfg.tol, on_iteration, ctx.data.train.weight)
        log.info("EM start %d: %d iterations, log-likelihood %.4f%s", start, len(history),
                 history[-1] + offset, "" if converged else " (not converged: raise optim.max_iter)")
        final = history[-1] if math.isfinite(history[-1]) else -math.inf  # a failed start never wins
        if best is None or final > best[0]:
            best = (final, history, converged, {k: v.clone() for k, v in model.state_dict().items()})

    _, history, converged, state = best
    model.load_state_dict(state)
    for i, value in enumerate(history, start=1):  # the kept start's curve, under the common tag
        ctx.logger.log_scalars({"train/log_likelihood": value + offset}, i)
    result = FitResult(epochs=len(history), steps=len(history), converged=converged,
                       metrics={"train/n_init": starts})
    return finish(ctx, result, state=dict(fitted_by="em", converged=converged))
