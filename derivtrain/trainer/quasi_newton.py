"""fit_lbfgs(): optim=auto's solver for a linear model whose smooth loss has no convex dual.

A plugin loss such as log-cosh on model=linear: nothing certifies its optimum, but its gradient
(autograd, through the loss's own backward) is all L-BFGS needs, and on a smooth convex
objective quasi-Newton converges superlinearly where Adam at a fixed rate crawls. Why not Newton:
log-cosh's second derivative vanishes for large residuals (unscaled targets ~150), so Newton's
step there is nearly infinite (`optim=newton` finds no decrease along it); L-BFGS builds its
curvature from gradient differences along the path and takes a strong-Wolfe line search.

Each outer iteration runs torch.optim.LBFGS for INNER iterations on the full batch, then
measures the gradient norm once: the fit is stationary when it is below trainer.gradient_tol
(null: 1e-6) times its first value. trainer.max_epochs caps the outer iterations (null: 100).
"""
import torch

from derivtrain.logging import log
from derivtrain.trainer.eager_optimizers import for_run
from derivtrain.trainer.fitting import FitContext, FitResult, finish
from derivtrain.trainer.metrics import grad_norm
from derivtrain.trainer.stop_rules import epoch_cap

INNER = 20  # torch's default max_iter: one outer iteration = at most 20 L-BFGS steps, then one measurement
DEFAULT_TOL = 1e-6  # relative gradient norm; L-BFGS gets there in a few dozen steps on a smooth convex objective


def fit_lbfgs(ctx: FitContext) -> FitResult:
    objective, model, train = ctx.objective, ctx.model, ctx.data.train
    if ctx.resume_state is not None:
        model.load_state_dict(ctx.resume_state["model"])
    X, targets, weight = train.X, ctx.targets(train), train.weight
    params = [p for p in model.parameters() if p.requires_grad]
    lbfgs = for_run(torch.optim.LBFGS, ctx.trainer.compile)  # (eager_optimizers.py)
    optimizer = lbfgs(params, lr=1.0, max_iter=INNER, history_size=10, line_search_fn="strong_wolfe",
                      tolerance_grad=0.0, tolerance_change=0.0)  # the stop is ours, below

    def closure():
        optimizer.zero_grad(set_to_none=True)
        f = objective(X, targets, weight)
        f.backward()
        return f

    tol = ctx.trainer.get("gradient_tol") or DEFAULT_TOL
    cap = epoch_cap(ctx.trainer, ctx.optim)
    f, start = _measure(closure, params)
    stopped_by, iteration = "iteration_cap", 0
    log.info("optim=auto: L-BFGS on the full batch (autograd gradients) for %s with %s: smooth, but without a convex "
             "dual to certify its optimum; stops when the gradient norm is below %.2g of its start", type(model).__name__,
             type(objective.loss).__name__, tol)
    while iteration < cap:
        iteration += 1
        optimizer.step(closure)
        before, (f, norm) = f, _measure(closure, params)
        ctx.logger.log_scalars({"train/objective": f, "grad_norm": norm}, iteration)
        if norm <= tol * start:
            stopped_by = "stationarity"
            break
        if not f < before:  # the line search found no decrease: L-BFGS can go no further
            stopped_by = "line_search"
            break
    _say_stop(stopped_by, iteration, norm / start if start else 0.0, tol, cap)
    return finish(ctx, FitResult(epochs=iteration, steps=iteration, converged=stopped_by == "stationarity",
                                 stopped_by=stopped_by), state=dict(fitted_by="lbfgs"))


def _measure(closure, params):
    """The objective and its gradient norm at the current weights (one pass over the rows)."""
    f = closure().item()
    return f, grad_norm(params).item()


def _say_stop(stopped_by: str, iterations: int, ratio: float, tol: float, cap: int) -> None:
    if stopped_by == "stationarity":
        log.info("L-BFGS stopped after %d x %d iterations: the gradient norm fell to %.2g of its start (stationary)",
                 iterations, INNER, ratio)
    elif stopped_by == "line_search":
        log.warning("L-BFGS stopped after %d x %d iterations without reaching stationarity: its line search found no "
                    "decrease (gradient norm at %.2g of its start, trainer.gradient_tol=%.2g); the objective's "
                    "rounding decides from here: set trainer.gradient_tol >= %.2g", iterations, INNER, ratio, tol, ratio)
    else:
        log.warning("L-BFGS reached its iteration cap (trainer.max_epochs=%d outer iterations) with the gradient norm "
                    "at %.2g of its start; raise trainer.max_epochs", cap, ratio)
