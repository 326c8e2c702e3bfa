"""fit_prox_newton(): a smooth loss under an L1 or elastic-net penalty, one score column (lasso,
L1-logistic, L1-Poisson, L1 squared hinge), stopped by the same certificate as fit_certified.

The interior-point method (derivtrain/trainer/interior_point.py) treats |w_j| as two linear pieces
and takes ~15-30 Newton-sized steps whatever the data. Proximal Newton (glum's IRLS with
coordinate descent, skglm's ProxNewton) keeps the L1 term exact and models the smooth part to
second order: at T = [w | b]

    T <- argmin_U  g.(U - T) + 1/2 (U - T)^T H (U - T) + alpha r ||U_w||_1,
    H = X_aug^T diag(D) X_aug + alpha (1 - r) I_w

then a backtracking line search on the true objective. Each step is one pass for the scores'
derivatives, one symmetric rank-k product for H (derivtrain/data/rank_k.py) and a small L1
quadratic solved to rounding (derivtrain/trainer/l1_quadratic.py). A quadratic loss (lasso) is its
own model: the first step lands on the optimum and the second iteration certifies it. Smooth
losses take ~5-10 steps (quadratic convergence once the support is found). Every iterate's
duality gap is computed from its own dual point, the loss's derivative (derivtrain/convex); the
fit stops once it is <= optim.tol, as the certified solver does.

Picked by optim=auto (derivtrain/trainer/fitters.py) for one score column and d + 1 <= optim.max_dense;
everything else under L1 stays with the interior-point method. Under trainer=ddp every sum over
rows (H, g, the objective, the certificate) is summed over the ranks, so every rank takes the same
steps. A resumed run goes on with the certified solver (this one keeps no solver state: its
whole solve is a few passes).
"""
import math

import numpy as np
import torch

from derivtrain.data import sparse
from derivtrain.convex.certificate import Certificate, linear_problem
from derivtrain.convex.certificate import dual_value, rounding_error, row_weights
from derivtrain.logging import log
from derivtrain.threads import threads_for
from derivtrain.trainer.armijo import backtrack
from derivtrain.trainer.fitting import FitContext, FitResult, finish
from derivtrain.trainer.l1_quadratic import solve_l1_quadratic
from derivtrain.trainer.precision_floor import Floor
from derivtrain.trainer.smooth_part import smooth_part
from derivtrain.trainer.stop_rules import epoch_cap

_MAX_HALVINGS = 50
_WORTH_CERTIFYING = 10.0  # certify once the step's predicted decrease is within this factor of tol
_ONE_THREAD_BELOW = 1 << 24  # as fit_certified: elementwise work on n-vectors, faster on one thread


def suits(objective, data, optim) -> bool:
    """Whether this solver takes the problem: a smooth loss, an L1 part, one score column, a
    Hessian of at most optim.max_dense parameters, rows in memory (under trainer=ddp, each rank's
    own: every sum over rows is summed over the ranks, so each takes the same steps)."""
    problem = linear_problem(objective)
    if problem is None or not isinstance(data.train.X, torch.Tensor):
        return False
    from derivtrain.convex.kinked_units import AbsolutePieces

    pieces = problem.penalty.pieces()  # the penalty's kinked part: |w| pieces with their costs, or None
    return (problem.loss.pieces() is None and pieces is not None and isinstance(pieces[0], AbsolutePieces)
            and problem.linear.out_features == 1 and problem.linear.in_features + 1 <= optim.max_dense)


def fit_prox_newton(ctx: FitContext) -> FitResult:
    problem = linear_problem(ctx.objective)
    X = ctx.data.train.X
    with threads_for(X.shape[0] * X.shape[1], small=_ONE_THREAD_BELOW), torch.no_grad():
        return _fit(ctx, problem)


def _fit(ctx, problem) -> FitResult:
    dtype = torch.float64 if ctx.data.train.X.device.type == "cpu" else getattr(torch, ctx.optim.dtype)
    X = sparse.astype(ctx.data.train.X, dtype)  # the bias apart: no [X | 1] copy of the rows
    y = problem.loss.prepare(ctx.targets(ctx.data.train))
    y = y.to(dtype) if y.is_floating_point() else y
    c = row_weights(problem.loss, y, X.shape[0], X.device, ctx.data.train.weight, ctx.distributed).to(dtype)
    reduce = ctx.distributed  # trainer=ddp: sums over every rank's rows (one process: the identity)
    floor, model = Floor(ctx, problem, X, y, c, reduce), _Model(problem, X, reduce)
    T = torch.zeros(1, X.shape[1] + 1, dtype=dtype, device=X.device)
    if ctx.warm_start is not None:  # a regularization path's previous point (derivtrain/path/solve.py)
        T = ctx.warm_start.to(dtype=dtype, device=X.device).reshape(T.shape).clone()
    best, here, converged, stopped_by, iteration = -math.inf, None, False, None, 0
    cap = epoch_cap(ctx.trainer, ctx.optim)  # trainer.max_epochs, or a solver's default
    while True:
        z = _scores(X, T)
        smooth = smooth_part(problem.loss, z, y, c)
        primal = _total(reduce, smooth.value) + float(problem.penalty.value(T[:, :-1]))
        step, decrease = model.step(T, smooth)
        # the step's predicted decrease estimates P - P*: the certificate (a pass over X and the
        # dual's balancing, ~25 ms at 100k x 50) is computed once it says tol may be met
        last = iteration >= cap
        if -decrease <= _WORTH_CERTIFYING * floor.tol * abs(primal) or last:
            best, here = _certify(ctx, problem, X, y, c, z, T, smooth, primal, best)
            ctx.logger.log_scalars({"train/optimality_gap": _shown(here)}, iteration)
            if here.relative_gap <= floor.at(here):
                converged, stopped_by = True, "certificate"
                break
        # scaled targets: logged in the data's units, as metrics.json
        ctx.logger.log_scalars({"train/objective": primal * getattr(ctx.objective, "units", 1.0)}, iteration)
        if last:
            stopped_by = "iteration_cap"
            break
        t = _line_search(problem, X, T, z, y, c, step, primal, decrease, reduce) if decrease < 0 else 0.0
        if t == 0.0:
            stopped_by = "line_search"
            break
        T, iteration = T + t * step, iteration + 1
    if here is None:  # stopped before any certificate: the last iterate's
        best, here = _certify(ctx, problem, X, y, c, z, T, smooth, primal, best)
    _set_weights(problem.linear, T)
    floor.announce()
    log.info("proximal Newton: %s after %d steps (gap %.2g)", stopped_by, iteration, here.relative_gap)
    result = FitResult(epochs=iteration, steps=iteration, converged=converged, certificate=here,
                       stopped_by=stopped_by, tol=floor.tol)
    return finish(ctx, result, state=dict(fitted_by="prox_newton", converged=converged))


def _certify(ctx, problem, X, y, c, z, T, smooth, primal, best):
    """(the best dual bound so far, the iterate's certificate with it)."""
    best = max(best, dual_value(problem, smooth.theta, c, X, y, ctx.distributed))
    return best, Certificate(primal, best, rounding_error(problem, z, y, c, ctx.distributed, T[:, :-1]))


def _shown(certificate) -> float:
    gap = certificate.relative_gap
    return gap if math.isfinite(gap) else 1.0


def _scores(X, T) -> torch.Tensor:
    return X @ T[:, :-1].T + T[:, -1]


class _Model:
    """The proximal Newton step at T: H and g of the smooth part, the L1 quadratic solved."""

    def __init__(self, problem, X, reduce):
        self.problem, self.X, self.reduce = problem, X, reduce
        self._D, self._H = None, None

    def hessian(self, D: torch.Tensor, XtD: torch.Tensor) -> torch.Tensor:
        """[[X^T D X, X^T D], [D^T X, sum D]], the loss's part; kept while D is the same (a quadratic
        loss: once a fit)."""
        if self._D is not None and torch.equal(D, self._D):
            return self._H
        p = self.X.shape[1]
        H = D.new_empty(p + 1, p + 1)
        H[:p, :p] = self.reduce.all_sum(sparse.gram(self.X, D))
        H[:p, p] = H[p, :p] = XtD
        H[p, p] = self.reduce.all_sum(D.sum())
        self._D, self._H = D, H
        return H

    def step(self, T, smooth):
        """(direction, predicted decrease of the objective's model: <= 0)."""
        penalty, W = self.problem.penalty, T[:, :-1]
        G, D = smooth.G.reshape(-1), smooth.D.reshape(-1)
        XtG, XtD = self.reduce.all_sum(sparse.backproject(torch.stack([G, D], dim=1), self.X))  # one pass for both
        H = self.hessian(D, XtD).clone()
        g = torch.cat([XtG, self.reduce.all_sum(G.sum()).reshape(1)])
        ridge_gradient, ridge_curvature = penalty.smooth_part(W)  # the penalty's smooth part (L2: alpha(1-r))
        g[:-1] += ridge_gradient.reshape(-1)
        H.diagonal()[:-1] += ridge_curvature.reshape(-1)
        cost = penalty.pieces()[1]  # each weight's L1 coefficient (strength included); none on the bias
        lam = np.append(torch.as_tensor(cost, dtype=torch.float64).expand(W.shape).reshape(-1).cpu().numpy(), 0.0)
        H_np, t_np = H.cpu().double().numpy(), T.reshape(-1).cpu().double().numpy()
        U = solve_l1_quadratic(H_np, g.cpu().double().numpy() - H_np @ t_np, lam, t_np)
        direction = torch.as_tensor(U - t_np, dtype=T.dtype, device=T.device).reshape(T.shape)
        l1_change = float(lam @ (np.abs(U) - np.abs(t_np)))
        return direction, float(g @ direction.reshape(-1)) + l1_change


def _line_search(problem, X, T, z, y, c, direction, primal: float, decrease: float, reduce) -> float:
    """The Armijo step along the proximal Newton direction, `decrease` (its model's, L1 change
    included) in the slope's place; 0.0 when none decreases the objective."""
    dz = _scores(X, direction)  # scores move linearly in T: a trial costs O(n), not a pass over X

    def value_at(t: float) -> float:
        loss = float(reduce.all_sum((c * problem.loss.values(z + t * dz, y)).sum()))
        return loss + float(problem.penalty.value((T + t * direction)[:, :-1]))

    return backtrack(value_at, primal, decrease, _MAX_HALVINGS)


def _total(reduce, value: float) -> float:
    return float(reduce.all_sum(torch.tensor(value, dtype=torch.float64)))


def _set_weights(linear, T) -> None:
    linear.weight.copy_(T[:, :-1].to(linear.weight.dtype))
    linear.bias.copy_(T[:, -1].to(linear.bias.dtype))
