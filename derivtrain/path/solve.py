"""The points of a path: the certified solver at each strength, strongest first, each started from
the solution before it.

Strongest first because there the weights are smallest (zero for L1), the first solve is cheap,
and each next strength moves the optimum a little: Newton's method started near the optimum
converges quadratically from its first step, so a warm point costs a few iterations instead of a
fit from zero. The interior-point method (kinked losses, L1) restarts its slacks and multipliers
at each point (a warm primal with cold multipliers), so it gains less; solve_path measures what
each point cost (iterations) and path.csv keeps it.

Each point is solved to optim.tol and certified by its own duality gap (train/optimality_gap);
a point that hits the iteration cap is kept, marked not converged, and the path goes on.
"""
import logging
from contextlib import contextmanager
from dataclasses import replace

import torch

from derivtrain.logging import NullLogger, log
from derivtrain.path.point import PathPoint
from derivtrain.trainer.certified import fit_certified
from derivtrain.trainer.fitting import Checkpointer

_ON_THE_BOX = 1e-3  # |g_j| >= l1_j (1 - this): on the L1 box's face, free to be non-zero


def solve_path(ctx, strengths: list, unit: float = 1.0, start=None) -> list:
    """Every strength's PathPoint. `ctx` is the run's FitContext: its logger and checkpoints are
    not used per point (the path draws its own pictures; the run saves the chosen point once).
    `unit`: the fitted problem's strength per user strength (derivtrain/path/grid.py: strength_unit).
    `start`: the first point's [W | b] (None: zero)."""
    from derivtrain.path import gram_path, smooth_path

    if gram_path.fits(ctx):  # least squares: every point an L1 quadratic on the Gram matrix, set up once
        from derivtrain.path.gram_points import gram_points

        return gram_points(ctx, strengths, unit, start)
    if smooth_path.fits(ctx):  # a smooth loss with L2: Newton carried along the path, set up once
        return smooth_points(ctx, strengths, unit, start)
    from derivtrain.path import prox_path

    if prox_path.fits(ctx):  # a smooth loss with L1: proximal Newton carried along the path, screened
        return smooth_points(ctx, strengths, unit, start, prox_path.ProxPath)
    penalty, linear = ctx.objective.penalty, ctx.model.linear
    quiet = replace(ctx, logger=NullLogger(), checkpoints=Checkpointer(None), resume_state=None)
    points = []
    targets = ctx.targets(ctx.data.train)
    with _quiet_points():
        for strength in strengths:
            penalty.strength = strength * unit
            result = _solve_point(quiet, start)
            start = torch.cat([linear.weight, linear.bias[:, None]], dim=1).detach().clone()
            metrics = result.metrics
            zeros = count_non_zeros(ctx.objective, ctx.data, targets)
            points.append(PathPoint(strength, float(metrics["train/objective"]),
                                    float(metrics.get("train/optimality_gap", float("nan"))),
                                    bool(metrics.get("train/converged", False)), int(result.steps), metrics, zeros,
                                    start.to(device="cpu", dtype=torch.float64), result.certificate,
                                    result.tol, strength * unit))
    return points


def solve_paths(contexts: list, grids: list, unit: float = 1.0) -> list:
    """solve_path for each (FitContext, strengths): the folds of a cross-validation. Least-squares
    folds are solved in step (derivtrain/path/gram_points.py: one batched solve per strength for
    all of them), the others one after another."""
    from derivtrain.path import gram_path

    if gram_path.fits(contexts[0]) and len({len(grid) for grid in grids}) == 1:
        from derivtrain.path.gram_points import fold_points

        return fold_points(contexts, grids, unit)
    return [solve_path(ctx, grid, unit) for ctx, grid in zip(contexts, grids)]


def smooth_points(ctx, strengths: list, unit: float = 1.0, start=None, kind=None) -> list:
    """The points of derivtrain/path/smooth_path.py (or `kind`: prox_path.py's), measured as
    finish() measures a fit: the certified objective and gap, and the validation metrics (the
    fold's, under CV)."""
    from derivtrain.path.smooth_path import SmoothPath
    from derivtrain.trainer.metrics import evaluate

    path, data, points = (kind or SmoothPath)(ctx, start), ctx.data, []
    val_targets = ctx.targets(data.val) if data.val is not None else None
    for strength in strengths:
        ctx.objective.penalty.strength = strength * unit
        iterations, certificate, converged = path.solve()
        path.set_weights()
        metrics = {"train/objective": certificate.primal * _units(ctx.objective),  # the data's units, as finish's
                   "train/optimality_gap": certificate.relative_gap,
                   "train/converged": converged}
        if val_targets is not None:
            metrics.update(evaluate(ctx.objective, data.val, val_targets, "val", data.spec.n_classes))
        linear = ctx.model.linear
        weights = torch.cat([linear.weight, linear.bias[:, None]], dim=1).detach().to(device="cpu", dtype=torch.float64)
        points.append(PathPoint(strength, metrics["train/objective"], certificate.relative_gap, converged, iterations,
                                metrics, int((linear.weight != 0).sum()), weights, certificate, float(ctx.optim.tol),
                                strength * unit))
    return points


def _units(objective) -> float:
    """The data's units per unit of the fitted objective (scaled regression targets; else 1)."""
    return float(getattr(objective, "units", 1.0))


def _solve_point(ctx, start):
    """The certified fit from `start`: proximal Newton where it suits (a smooth loss under an L1
    penalty, one score column), else the interior point. The interior-point method's warm start is its primal alone
    (slacks and multipliers restart), and near the weak end of an L1 path that start can stall
    at the rounding floor above tol (breast_cancer L1 logistic at 3.8e-5: stopped at a gap of 1.3e-3
    after 7 iterations; from zero, 30 iterations to 1.2e-5): such a point is solved again from zero.
    A point stopped by the iteration cap is not: that cap is the user's budget."""
    from derivtrain.trainer.prox_newton import fit_prox_newton, suits

    if suits(ctx.objective, ctx.data, ctx.optim):  # a smooth loss under L1: warm starts cost one or two steps
        return fit_prox_newton(replace(ctx, warm_start=start))
    result = fit_certified(replace(ctx, warm_start=start))
    if start is not None and not result.converged and result.stopped_by != "iteration_cap":
        steps = result.steps
        result = fit_certified(replace(ctx, warm_start=None))
        result.steps += steps  # what the point cost in all
    return result


@contextmanager
def _quiet_points():
    """A point's own "not converged" warning is left out: the run says it once for the whole path
    (derivtrain/path/phase.py), as the issue of a path is which points, not each one."""
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)


def set_point(linear, point: PathPoint) -> None:
    """The model's weights and bias to the point's."""
    with torch.no_grad():
        T = point.weights.to(device=linear.weight.device, dtype=linear.weight.dtype)
        linear.weight.copy_(T[:, :-1])
        linear.bias.copy_(T[:, -1])


def non_zeros(point: PathPoint) -> int:
    return point.non_zeros


def count_non_zeros(objective, data, targets) -> int:
    """Weights that are not zero at the optimum. The interior-point method approaches a zero weight
    from inside and never reaches it, so its size says little; the optimality condition does: with
    g the gradient of the smooth part (the loss and the penalty's l2 part) and l1 the penalty's L1
    coefficient (strength included, derivtrain/convex/penalty.py), w_j = 0 wherever |g_j| < l1_j,
    and |g_j| = l1_j wherever w_j != 0. A weight counts as non-zero where |g_j| is within
    _ON_THE_BOX of l1_j (an L2 penalty zeroes nothing: every weight counts)."""
    from derivtrain.convex.penalty_dual import penalty_dual

    W = objective.model.linear.weight
    dual = penalty_dual(objective.penalty, tuple(W.shape))
    if dual is None or dual.pieces() is None:
        return int((W != 0).sum())
    with torch.enable_grad():
        loss = objective.data_loss(data.train.X, targets, sample_weight=data.train.weight)
        (g,) = torch.autograd.grad(loss, W)
    smooth_gradient, _ = dual.smooth_part(W.detach())
    _, l1 = dual.pieces()
    l1 = l1 if isinstance(l1, torch.Tensor) else torch.full_like(W, float(l1))
    g = g.detach() + smooth_gradient
    return int((g.abs() >= l1.to(g) * (1 - _ON_THE_BOX)).sum())
