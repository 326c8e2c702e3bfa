"""A smooth loss's path under an L1 or elastic-net penalty, one score column (L1 logistic, L1
squared hinge, L1 Poisson): proximal Newton carried from one strength to the next, set up once,
with gap-safe screening of the Hessian.

derivtrain/trainer/prox_newton.py solves one such fit; a path of 30 of them paid each its set-up,
a Hessian over every feature per step and finish() (train metrics over every row, the
certificate again): ~240 ms a point on 100k x 50 L1 logistic. Here, per point:

  - the rows are read by column (derivtrain/path/columns.py) and the last point's scores, smooth
    part and gradient are where the next point starts (neither depends on the strength);
  - every iterate's bias is made exact (derivtrain/trainer/gradient_certificate.py), so its gradient
    X^T G is the certificate's V, and every iterate is certified without a pass of its own;
  - that certificate screens (derivtrain/path/screening.py): a weight that is zero and whose
    |V_j| + sigma_j r < l1 is zero at the optimum, and leaves the step's Hessian, X_K^T D X_K
    over the kept columns K only (n |K|^2 instead of n d^2: a strong penalty keeps a handful);
    a step also waits for the zero weights whose |V_j| is well inside the box (_WORKING), which
    screening cannot prove zero from a point's first iterate (the last point's optimum, whose gap
    at the new strength is wide), and the next iterate's certificate says whether they must join;
  - the step is prox_newton's (the L1 model solved exactly: derivtrain/path/active_set.py, else
    coordinate descent), its line search Armijo's on the true objective.

The gap is the certified solver's (the same dual point and rounding bound) and a point ends when
it is <= optim.tol; one that no step improves, or that reaches the iteration cap, ends there.
"""
import math

import numpy as np
import torch

from derivtrain.convex.certificate import Certificate, linear_problem, row_weights
from derivtrain.convex.penalty import ElementwiseDual
from derivtrain.convex.penalty_dual import penalty_dual
from derivtrain.data import sparse
from derivtrain.data.shards import OneProcess
from derivtrain.path.active_set import solve_active_set
from derivtrain.path.columns import Columns, signed_gram
from derivtrain.trainer.gradient_certificate import gradient_certificate, settle_bias
from derivtrain.path.screening import strong_convexity, screened
from derivtrain.threads import threads_for
from derivtrain.trainer.armijo import backtrack
from derivtrain.trainer.l1_quadratic import solve_l1_quadratic
from derivtrain.trainer.prox_newton import FIRST_DAMPING, LAST_DAMPING, curvature_scale, curved
from derivtrain.trainer.smooth_part import smooth_part
from derivtrain.trainer.stop_rules import epoch_cap

_HALVINGS = 50
# a zero weight joins a step's columns once |V_j| >= this l1: the ones past the box's face (they
# enter) and those close to it (they may enter as the others move; Tibshirani et al.'s strong rule
# keeps |V_j| >= 2 l1 - l1_last at the last point's optimum, 0.73 l1 on a 30-point grid over 3 decades)
_WORKING = 0.8


def fits(ctx) -> bool:
    from derivtrain.trainer.prox_newton import suits

    X, problem = ctx.data.train.X, linear_problem(ctx.objective)
    if not suits(ctx.objective, ctx.data, ctx.optim) or sparse.is_sparse(X) or ctx.distributed.world_size != 1:
        return False
    penalty = problem.penalty
    return (isinstance(penalty, ElementwiseDual) and not isinstance(penalty.l1, torch.Tensor)
            and not isinstance(penalty.l2, torch.Tensor))


class ProxPath:
    def __init__(self, ctx, start=None):
        self.ctx, self.problem = ctx, linear_problem(ctx.objective)
        X = ctx.data.train.X.to(torch.float64)
        self.X, self.columns = X, Columns(X)
        y = self.problem.loss.prepare(ctx.targets(ctx.data.train))
        self.y = y.to(torch.float64) if y.is_floating_point() else y
        self.c = row_weights(self.problem.loss, self.y, len(X), X.device, ctx.data.train.weight)
        mean = self.c @ X
        self.sigma = (self.c @ X.square() - mean.square()).clamp_min(0).sqrt()  # columns' c-weighted std
        self.gamma = strong_convexity(self.problem.loss)
        d = X.shape[1]
        self.T = torch.zeros(1, d + 1, dtype=torch.float64, device=X.device) if start is None else \
            start.to(dtype=torch.float64, device=X.device).reshape(1, d + 1).clone()
        self.z, self.carried, self.kept = None, None, d

    def solve(self) -> tuple:
        """(iterations, certificate, converged) at the objective's strength, from the last point."""
        with threads_for(self.X.numel()), torch.no_grad():
            penalty = self.problem.penalty = penalty_dual(self.ctx.objective.penalty, (1, self.X.shape[1]))
            T, tol = self.T, float(self.ctx.optim.tol)
            z = self.columns.scores(T) if self.z is None else self.z
            carried = self.carried
            for iteration in range(epoch_cap(self.ctx.trainer, self.ctx.optim) + 1):
                T, z, smooth, gradient = self._measure(T, z) if carried is None else (T, z, *carried)
                carried = None
                primal = smooth.value + float(penalty.value(T[:, :-1]))
                certificate = gradient_certificate(self.problem, primal, smooth, gradient[:, :-1], z, self.y, self.c,
                                                   T[:, :-1])
                if certificate is None:  # the bias could not be made exact: the usual certificate
                    certificate = self._certified(primal, smooth, z, T)
                if certificate.relative_gap <= tol or iteration == epoch_cap(self.ctx.trainer, self.ctx.optim):
                    break
                step = self._step(T, z, smooth, gradient, primal, certificate)
                if step is None:  # no step decreases P: rounding decides, this iterate is the point
                    break
                T, z = T + step[0], z + step[1]
            self.T, self.z, self.carried = T, z, (smooth, gradient)
            return iteration, certificate, certificate.relative_gap <= tol

    def _measure(self, T, z) -> tuple:
        smooth = smooth_part(self.problem.loss, z, self.y, self.c)
        T, z, smooth = settle_bias(self.problem.loss, z, self.y, self.c, T, smooth)
        return T, z, smooth, self.columns.backproject(smooth.G)

    def _certified(self, primal, smooth, z, T) -> Certificate:
        from derivtrain.convex.certificate import dual_value, rounding_error

        error = rounding_error(self.problem, z, self.y, self.c, None, T[:, :-1])
        return Certificate(primal, dual_value(self.problem, smooth.theta, self.c, self.X, self.y), error)

    def _kept(self, T, gradient, certificate) -> torch.Tensor:
        """The columns of the step (the bias's last): every weight that is not zero, and the zero
        ones near or past the L1 box's face (|V_j| >= _WORKING l1, the rest wait: a step on a
        subset of the columns is still a descent step, and one that leaves out a weight the
        optimum needs leaves a gap that the next iterate's V shows), less those screening proves
        zero at the optimum."""
        penalty, W, V = self.problem.penalty, T[0, :-1], -gradient[0, :-1]
        scale, l1 = penalty.feasible_scale(V[None]), float(penalty.l1)
        near = V.abs() >= _WORKING * l1  # V itself: past the face (> l1) is what must enter
        self.proved_zero = torch.zeros_like(near)
        if self.gamma is not None and math.isfinite(certificate.relative_gap):
            gap = max(certificate.primal - certificate.dual, 0.0) + certificate.error
            out = screened((scale * V).cpu().numpy(), self.sigma.cpu().numpy(), gap, l1, self.gamma)
            self.proved_zero = torch.from_numpy(out).to(W.device) & (W == 0)
            near &= ~self.proved_zero
        keep = torch.cat([(W != 0) | near, near.new_ones(1)])
        self.kept = int(keep[:-1].sum())
        return torch.nonzero(keep).reshape(-1)

    def _step(self, T, z, smooth, gradient, primal: float, certificate):
        """(dT, dz) of proximal Newton's step on the kept columns, Armijo's backtracking; None if
        no step decreases P."""
        penalty, index = self.problem.penalty, self._kept(T, gradient, certificate)
        Xt = self.columns.Xt
        rows = Xt if len(index) == len(Xt) else Xt[index]  # the kept columns and the bias's ones: (|K| + 1, n)
        H = signed_gram(rows, smooth.D.reshape(-1))
        l2 = float(penalty.l2)
        weights = index < T.shape[1] - 1
        H.diagonal()[weights] += l2
        t, g = T[0, index], gradient[0, index].clone()
        g[weights] += l2 * t[weights]
        lam = (float(penalty.l1) * weights.to(torch.float64)).cpu().numpy()
        H_np, t_np, g_np = H.cpu().numpy(), t.cpu().numpy(), g.cpu().numpy()
        # where the loss has no curvature (the smooth hinge's straight part) the model is unbounded:
        # H + mu I, mu raised tenfold while no step decreases P (trainer/prox_newton.py: damp_more)
        scale = curvature_scale(H_np, self.X, self.c, OneProcess())
        damping = 0.0 if curved(H_np, scale) else FIRST_DAMPING * scale
        while damping <= LAST_DAMPING * scale:
            damped = H_np + damping * np.eye(len(H_np)) if damping else H_np
            u = torch.from_numpy(_l1_model(damped, g_np - damped @ t_np, lam, t_np)).to(T.device)
            delta = u - t
            decrease = float(g @ delta) + float(torch.from_numpy(lam).to(T.device) @ (u.abs() - t.abs()))
            if decrease < 0:
                direction = torch.zeros_like(T)
                direction[0, index] = delta
                step = self._search(T, z, direction, rows.T @ delta[:, None], primal, decrease)
                if step is not None:
                    return step
            damping = max(10.0 * damping, FIRST_DAMPING * scale)
        return None

    def _search(self, T, z, direction, dz, primal: float, decrease: float):
        def value_at(t: float) -> float:
            loss = float((self.c * self.problem.loss.values(z + t * dz, self.y)).sum())
            return loss + float(self.problem.penalty.value((T + t * direction)[:, :-1]))

        t = backtrack(value_at, primal, decrease, _HALVINGS)  # the predicted decrease in the slope's place
        return (t * direction, t * dz) if t > 0.0 else None

    def set_weights(self) -> None:
        linear = self.problem.linear
        with torch.no_grad():
            linear.weight.copy_(self.T[:, :-1].to(linear.weight.dtype))
            linear.bias.copy_(self.T[:, -1].to(linear.bias.dtype))


def _l1_model(H, q, lam, u0):
    """The L1 model's minimizer from u0: the support's solve (exact), else coordinate descent."""
    found = solve_active_set(H, q, lam, u0, np.ones(len(u0), dtype=bool))
    return found[0] if found is not None else solve_l1_quadratic(H, q, lam, u0)
