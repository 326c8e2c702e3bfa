"""The points of least-squares paths solved on their Gram matrices (derivtrain/path/gram_path.py):
a cross-validation's K folds in step (one batched solve per strength for all of them, where a
fold alone costs about as much: ~30 numpy calls of a few microseconds each, on 11 x 11 systems
for diabetes), every point's certificate at once, and the validation metrics evaluate() reports
(derivtrain/trainer/metrics.py: loss, mse, r2 in the data's units) for every point in one
product: the validation rows' scores at all P points are one (n_val, P) matrix, where evaluate()
per point costs ~0.3 ms (a forward pass and its set-up), more than the point's own solve.
"""
import numpy as np
import torch

from derivtrain.path.active_set import solve_together
from derivtrain.path.gram_path import GramPath
from derivtrain.path.point import PathPoint


def gram_points(ctx, strengths: list, unit: float = 1.0, start=None) -> list:
    return fold_points([ctx], [strengths], unit, [start])[0]


def fold_points(contexts: list, grids: list, unit: float = 1.0, starts=None) -> list:
    """The points of K paths (the folds of a cross-validation: one FitContext each, on its own rows,
    sharing the objective), solved in step: at each grid index the K problems in one batched
    solve (active_set.py: solve_together), where a path is solved alone the K = 1 case of it."""
    paths = [GramPath(ctx, start) for ctx, start in zip(contexts, starts or [None] * len(contexts))]
    solved = _screened(contexts, paths, grids, unit) if paths[0].screens else _together(contexts, paths, grids, unit)
    return [_points(ctx, path, rows, unit) for ctx, path, rows in zip(contexts, paths, solved)]


def _points(ctx, path, solved: list, unit: float) -> list:
    certificates = _certificates(path, solved)
    path.T = solved[-1][-1]
    path.set_weights()  # the model at the path's last point, as every path leaves it
    units = float(getattr(ctx.objective, "units", 1.0))  # scaled targets: the data's units per fitted unit
    tol, points = float(ctx.optim.tol), []
    for (strength, _, _, steps, T), certificate, val in zip(solved, certificates,
                                                            _validation(ctx, np.stack([s[-1] for s in solved]))):
        gap = certificate.relative_gap
        metrics = {"train/objective": certificate.primal * units, "train/optimality_gap": gap,
                   "train/converged": gap <= tol, **val}
        points.append(PathPoint(strength, metrics["train/objective"], gap, gap <= tol, steps, metrics,
                                int(np.count_nonzero(T[:-1])), torch.from_numpy(T[None]), certificate, tol,
                                strength * unit))  # each T is its own array: the solver never writes into one
    return points


def _together(contexts: list, paths: list, grids: list, unit: float) -> list:
    """[[strength, l1, l2, steps, T] per point] per path, the K paths' points at each grid index
    solved in one call."""
    H, q = np.stack([path.H for path in paths]), np.stack([path.q for path in paths])
    weights, U = paths[0].weights, np.stack([path.T for path in paths])
    solved = [[] for _ in paths]
    for index in range(len(grids[0])):
        coefficients = []
        for ctx, path, grid in zip(contexts, paths, grids):
            ctx.objective.penalty.strength = grid[index] * unit
            coefficients.append(path.strengths())
        l1, l2 = (np.array([c[i] for c in coefficients]) for i in (0, 1))
        curved = H + (l2[:, None] * weights)[:, :, None] * np.eye(len(weights)) if np.any(l2 > 0) else H
        U, steps = solve_together(curved, q, l1[:, None] * weights, U)
        for k, rows in enumerate(solved):
            rows.append([grids[k][index], l1[k], l2[k], int(steps[k]), U[k]])
    return solved


def _screened(contexts: list, paths: list, grids: list, unit: float) -> list:
    """The same, path by path and point by point, each point screened with the last one's dual
    point (gram_path.py: where there are enough features for the test to pay)."""
    solved = []
    for ctx, path, grid in zip(contexts, paths, grids):
        rows, residual = [], path.residuals(path.T[None])
        for strength in grid:
            ctx.objective.penalty.strength = strength * unit
            l1, l2 = path.strengths()
            steps = path.solve(l1, l2, residual)
            residual = path.residuals(path.T[None])  # the next point screens with this one's dual point
            rows.append([strength, l1, l2, steps, path.T])
        solved.append(rows)
    return solved


def _certificates(path, solved: list) -> list:
    """Every point's certificate, all at once (derivtrain/path/gram_certificate.py: from G, or from
    the rows where its rounding bound is too wide for tol); a point above tol (the active-set
    solve is exact, so rounding at most) is solved again by coordinate descent."""
    from derivtrain.convex.certificate import Certificate

    l1, l2 = (np.array([s[i] for s in solved]) for i in (1, 2))
    primal, _, dual, rounding = path.residuals(np.stack([s[-1] for s in solved])).bound(l1, l2)
    certificates = [Certificate(float(p), float(d), float(r)) for p, d, r in zip(primal, dual, rounding)]
    tol = float(path.ctx.optim.tol)
    for k, certificate in enumerate(certificates):
        if not certificate.relative_gap <= tol:
            path.T = solved[k][-1]
            solved[k][3] += path.polish(l1[k], l2[k])
            solved[k][-1] = path.T
            primal, _, dual, rounding = path.residuals(path.T[None]).bound(l1[k:k + 1], l2[k:k + 1])
            certificates[k] = Certificate(float(primal[0]), float(dual[0]), float(rounding[0]))
    return certificates


def _validation(ctx, weights: np.ndarray) -> list:
    """val/loss, val/mse and val/r2 of each row of `weights` ([w | b] per point) on the validation
    rows, as evaluate() computes them for a linear regression (MSELoss: the loss is the mean
    squared error of the fitted scores, times the data's units per fitted unit)."""
    val = ctx.data.val
    if val is None:
        return [{} for _ in weights]
    model = ctx.objective.model
    X = val.X.detach().to(torch.float64).numpy()
    scores = X @ weights[:, :-1].T + weights[:, -1]  # (n_val, P)
    targets = ctx.targets(val).detach().to(torch.float64).numpy().reshape(-1, 1)
    loss = np.mean(np.square(scores - targets), axis=0) * float(getattr(ctx.objective, "units", 1.0))
    predicted = model.in_target_units(torch.from_numpy(scores)).numpy()
    y = model.in_target_units(val.y.detach().to(torch.float64)).numpy().reshape(-1, 1)
    mse = np.mean(np.square(predicted - y), axis=0)
    variance = float(np.mean(np.square(y - y.mean())))
    r2 = 1 - mse / variance if variance > 0 else np.full(len(mse), np.nan)
    return [{"val/loss": float(a), "val/mse": float(b), "val/r2": float(c)} for a, b, c in zip(loss, mse, r2)]
