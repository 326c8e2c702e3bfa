"""fit_prox_newton(): a smooth loss under an L1 or elastic-net penalty (lasso, L1-logistic,
L1-Poisson, L1 squared or smooth hinge, Huber + L1), its score columns independent (binary,
regression, one-vs-rest), stopped by the same certificate as fit_certified.

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
losses take ~5-10 steps (quadratic convergence once the support is found). With K one-vs-rest
columns H is block diagonal and the L1 separates: K small problems a step. Where the loss has
no curvature (Huber, the smooth hinge on their straight parts, so at the start w = 0 for every
row of a smooth hinge) H is singular and its model unbounded: H + mu I is solved instead,
Levenberg-Marquardt's damping, mu raised tenfold while no step decreases the objective and
lowered after every full step (0 once H factors on its own again). Every iterate's
duality gap is computed from its own dual point, the loss's derivative (derivtrain/convex); the
fit stops once it is <= optim.tol, as the certified solver does.

Picked by optim=auto (derivtrain/trainer/fitters.py) for independent columns and d + 1 <= optim.max_dense;
everything else under L1 (the softmax, wider rows) stays with the interior-point method. Under trainer=ddp every sum over
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
FIRST_DAMPING, LAST_DAMPING = 1e-4, 1e8  # relative to the curvature's scale (curvature_scale)


def suits(objective, data, optim) -> bool:
    """Whether this solver takes the problem: a smooth loss, an L1 part, score columns that do not
    interact (not the softmax), one column's Hessian of at most optim.max_dense parameters, rows in memory (under trainer=ddp, each rank's
    own: every sum over rows is summed over the ranks, so each takes the same steps)."""
    problem = linear_problem(objective)
    if problem is None or not isinstance(data.train.X, torch.Tensor):
        return False
    from derivtrain.convex.kinked_units import AbsolutePieces

    pieces = problem.penalty.pieces()  # the penalty's kinked part: |w| pieces with their costs, or None
    return (problem.loss.pieces() is None and pieces is not None and isinstance(pieces[0], AbsolutePieces)
            and not problem.loss.coupled and problem.linear.in_features + 1 <= optim.max_dense)


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
    floor, model = Floor(ctx, problem, X, y, c, reduce), _Model(problem, X, reduce, c)
    T = torch.zeros(problem.linear.out_features, X.shape[1] + 1, dtype=dtype, device=X.device)
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
        while True:  # no decrease along a step of the undamped model: damp it more (below)
            t = _line_search(problem, X, T, z, y, c, step, primal, decrease, reduce) if decrease < 0 else 0.0
            if t > 0.0 or not model.damp_more():
                break
            step, decrease = model.step(T, smooth)
        if t == 0.0:
            stopped_by = "line_search"
            break
        model.after(t)
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

    def __init__(self, problem, X, reduce, c):
        self.problem, self.X, self.reduce, self.c = problem, X, reduce, c
        self._D, self._H = None, None
        self.damping, self._scale = 0.0, None  # Levenberg-Marquardt: H + damping I (damp_more)

    def damp_more(self) -> bool:
        """Raise the damping tenfold (from 1e-4 of H's scale); False once it is past any use. Where
        the smooth part has no curvature (Huber, the smooth hinge far from their bend; a bias no
        row's curvature holds) its quadratic model is unbounded along those directions: the undamped
        step is meaningless, and a damped one tends to a proximal gradient step as it grows."""
        self.damping = max(10.0 * self.damping, FIRST_DAMPING * self._scale)
        return self.damping <= LAST_DAMPING * self._scale

    def after(self, t: float) -> None:
        """A full step accepted: the model is trusted more (a tenth of the damping; none below 1e-12)."""
        if t == 1.0:
            self.damping = self.damping / 10 if self.damping > 1e-12 * self._scale else 0.0

    def _damped(self, blocks: list) -> list:
        if self._scale is None:
            self._scale = max(curvature_scale(H, self.X, self.c, self.reduce) for H in blocks)
        if self.damping == 0.0 and all(curved(H, self._scale) for H in blocks):
            return blocks
        if self.damping == 0.0:  # directions without curvature (damp_more's docstring)
            self.damp_more()
        return [H + self.damping * np.eye(len(H)) for H in blocks]

    def hessians(self, D: torch.Tensor, XtD: torch.Tensor) -> list:
        """Per score column k, [[X^T D_k X, X^T D_k], [D_k^T X, sum D_k]], the loss's part; kept while
        D is the same (a quadratic loss: once a fit)."""
        if self._D is not None and torch.equal(D, self._D):
            return self._H
        p = self.X.shape[1]
        blocks = []
        for k in range(D.shape[1]):
            H = D.new_empty(p + 1, p + 1)
            H[:p, :p] = self.reduce.all_sum(sparse.gram(self.X, D[:, k]))
            H[:p, p] = H[p, :p] = XtD[k]
            H[p, p] = self.reduce.all_sum(D[:, k].sum())
            blocks.append(H)
        self._D, self._H = D, blocks
        return blocks

    def step(self, T, smooth):
        """(direction, predicted decrease of the objective's model: <= 0). The score columns do not
        interact (suits), so H is block diagonal and the L1 separates: one small problem per column."""
        penalty, W, K = self.problem.penalty, T[:, :-1], T.shape[0]
        both = self.reduce.all_sum(sparse.backproject(torch.cat([smooth.G, smooth.D], dim=1), self.X))  # one pass
        XtG, XtD = both[:K], both[K:]
        ridge_gradient, ridge_curvature = penalty.smooth_part(W)  # the penalty's smooth part (L2: alpha(1-r))
        ridge_curvature = torch.as_tensor(ridge_curvature, dtype=T.dtype, device=T.device).expand(W.shape)
        H = self.hessians(smooth.D, XtD)
        g = torch.cat([XtG + ridge_gradient, self.reduce.all_sum(smooth.G.sum(dim=0))[:, None]], dim=1)
        blocks = []
        for k in range(K):
            block = H[k].clone()
            block.diagonal()[:-1] += ridge_curvature[k]
            blocks.append(block.cpu().double().numpy())
        # each weight's L1 coefficient (strength included); none on the bias
        lam = torch.as_tensor(penalty.pieces()[1], dtype=torch.float64).expand(W.shape).cpu().numpy()
        lam = np.concatenate([lam, np.zeros((K, 1))], axis=1)
        g_np, t_np = g.cpu().double().numpy(), T.cpu().double().numpy()
        U = np.stack([solve_l1_quadratic(Hk, g_np[k] - Hk @ t_np[k], lam[k], t_np[k])
                      for k, Hk in enumerate(self._damped(blocks))])
        direction = torch.as_tensor(U - t_np, dtype=T.dtype, device=T.device)
        l1_change = float((lam * (np.abs(U) - np.abs(t_np))).sum())
        return direction, float((g * direction).sum()) + l1_change


def curved(H: np.ndarray, scale: float) -> bool:
    """Whether every coordinate has curvature: a zero diagonal entry is a direction along which the
    model is unbounded (a weight only rows on a loss's straight part touch; every weight, at the
    smooth hinge's start). Only the diagonal is read (a Cholesky test of H costs 70 ms at d = 2,000):
    coordinate descent itself copes with H merely singular (collinear columns), where its support's
    exact solve declines and more epochs go on (derivtrain/trainer/l1_quadratic.py)."""
    return bool(np.all(np.diag(H) > 1e-12 * scale))


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


def curvature_scale(H: np.ndarray, X, c, reduce) -> float:
    """H's largest diagonal entry, or where it has none (no row has curvature yet) the weighted mean
    of the rows' squared norms, [x | 1]: the curvature a loss of unit second derivative would give."""
    top = float(np.abs(np.diag(H)).max(initial=0.0))
    if top > 0.0:
        return top
    from derivtrain.trainer.precision_floor import row_norms

    mean_square = row_norms(X, c, reduce)[0] + float(reduce.all_sum(c.sum()))
    return max(mean_square, float(np.finfo(np.float64).tiny))


def _set_weights(linear, T) -> None:
    linear.weight.copy_(T[:, :-1].to(linear.weight.dtype))
    linear.bias.copy_(T[:, -1].to(linear.bias.dtype))
