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
from dataclasses import dataclass, replace
from typing import Any, Optional

import torch

from derivtrain.logging import NullLogger, log
from derivtrain.train.certified import fit_certified
from derivtrain.train.fitting import Checkpointer


@dataclass
class PathPoint:
    strength: float
    objective: float  # the regularized training objective at the point's weights
    gap: float  # its certified relative optimality gap
    converged: bool  # gap <= optim.tol (False: it stopped at the iteration cap, or rounding)
    iterations: int
    metrics: dict  # train/* and val/* at the point (val/*: the fold's validation rows under CV)
    weights: torch.Tensor  # [W | b], (n_outputs, n_features + 1), float64 on the CPU
    certificate: Any = None  # the solver's own (its dual bound: what the chosen point's report reuses)
    tol: Optional[float] = None  # the tolerance it was solved to (optim.tol, or its precision's floor)


def solve_path(ctx, strengths: list) -> list:
    """Every strength's PathPoint. `ctx` is the run's FitContext: its logger and checkpoints are
    not used per point (the path draws its own pictures; the run saves the chosen point once)."""
    penalty, linear = ctx.objective.penalty, ctx.model.linear
    quiet = replace(ctx, logger=NullLogger(), checkpoints=Checkpointer(None), resume_state=None)
    points, start = [], None
    with _quiet_points():
        for strength in strengths:
            penalty.strength = strength
            result = fit_certified(replace(quiet, warm_start=start))
            start = torch.cat([linear.weight, linear.bias[:, None]], dim=1).detach().clone()
            metrics = result.metrics
            points.append(PathPoint(strength, float(metrics["train/objective"]),
                                    float(metrics.get("train/optimality_gap", float("nan"))),
                                    bool(metrics.get("train/converged", False)), int(result.steps), metrics,
                                    start.to(device="cpu", dtype=torch.float64), result.certificate,
                                    result.tol))
    return points


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


def non_zeros(point: PathPoint, relative: float = 1e-9) -> int:
    """Weights (not biases) away from zero. The interior-point method approaches a zero weight from
    inside, never reaching it exactly: below `relative` of the largest weight counts as zero."""
    W = point.weights[:, :-1].abs()
    largest = W.max().item() if W.numel() else 0.0
    return int((W > relative * largest).sum()) if largest > 0 else 0
