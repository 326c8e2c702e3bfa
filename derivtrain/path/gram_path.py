"""A least-squares path (one target) under an L1, elastic-net or L2 penalty, solved on the rows' Gram
matrix, each point certified by its own duality gap.

For the squared error every point's problem is a quadratic in T = [w | b] plus the L1 term,

    P(T) = T^T G T - 2 h^T T + y^T C y + l1 ||w||_1 + l2/2 ||w||^2,   G = X_a^T C X_a,  h = X_a^T C y

(X_a = [X | 1], C the row weights summing to 1), so a path forms G and h once and each point is
an L1 quadratic of d + 1 unknowns, solved exactly from the last point's support (derivtrain/path/
active_set.py). Proximal Newton does the same per fit (derivtrain/trainer/prox_newton.py: its
first step lands on a quadratic's optimum) but a fit pays its set-up, a Hessian from the rows and
finish() every time: on diabetes (442 x 10) ~6 ms a point, where the path's own work is ~0.1 ms.

A point's certificate is computed from the rows (one pass each point: the Gram's expansion of
||r||^2 would cancel where the fit is close), with the dual point theta = l'(z) = 2 (z - y)
centred (sum_i c_i theta_i = 0, the bias's constraint: the squared error's conjugate is finite
everywhere, so centring keeps it feasible, where derivtrain/convex/bias.py scales rows) and
scaled into the L1 box. Gap-safe screening (derivtrain/path/screening.py) leaves out of a point's
solve the weights the last point's dual point proves zero at the new strength; the certificate
still covers them all, and a point whose gap misses tol with screening is solved again without.
"""
from dataclasses import dataclass

import numpy as np
import torch

from derivtrain.convex.certificate import linear_problem, row_weights
from derivtrain.convex.penalty import ElementwiseDual
from derivtrain.convex.penalty_dual import penalty_dual
from derivtrain.convex.score_losses import SquaredError
from derivtrain.data import sparse
from derivtrain.losses.likelihood import MSELoss
from derivtrain.path.active_set import solve_active_set
from derivtrain.path.screening import rescaled_duals, screened
from derivtrain.trainer.l1_quadratic import solve_l1_quadratic

_GAMMA = 0.5  # the squared error's conjugate t^2/4 + t y is 1/2-strongly convex (screening.py)
_EPS = float(np.finfo(np.float64).eps)
# screening tests every weight (~25 us with the dual's rescaling) to save the solve's work on the
# weights it drops: at diabetes' 10 features the solve on the support costs less than the test
_SCREEN_FROM = 32


def fits(ctx) -> bool:
    """A squared error on one target, a penalty with scalar L1 and L2 coefficients, dense rows on
    the CPU in one process, d + 1 <= optim.max_dense."""
    problem = linear_problem(ctx.objective)
    X = ctx.data.train.X
    if (problem is None or type(problem.loss) is not SquaredError or problem.linear.out_features != 1
            or not isinstance(ctx.objective.loss, MSELoss)):  # gram_points: its validation loss is the MSE
        return False
    penalty = problem.penalty
    scalar = (isinstance(penalty, ElementwiseDual) and not isinstance(penalty.l1, torch.Tensor)
              and not isinstance(penalty.l2, torch.Tensor))
    return (scalar and isinstance(X, torch.Tensor) and not sparse.is_sparse(X) and X.device.type == "cpu"
            and ctx.distributed.world_size == 1 and X.shape[1] + 1 <= ctx.optim.max_dense)


@dataclass
class _Residuals:
    """What a pass over the rows at P weights T (P, d + 1) leaves for their certificates at any
    strengths: each a (P,) array but V (P, d)."""
    loss: np.ndarray  # sum_i c_i (z_i - y_i)^2
    quadratic: np.ndarray  # sum_i c_i theta_i^2 / 4 (theta centred): the conjugate's part in s^2
    linear: np.ndarray  # sum_i c_i theta_i y_i: its part in s
    V: np.ndarray  # -X^T (c theta)
    rounding: np.ndarray  # 8 eps sum_i c_i (|l_i| + |l'_i| (1 + |z_i| + |y_i|)): certificate.py's rounding_error
    l1_norm: np.ndarray
    l2_square: np.ndarray

    def bound(self, l1: np.ndarray, l2: np.ndarray) -> tuple:
        """(P, s, D(s theta), rounding) at the strengths (l1, l2), each (P,): no pass over the rows."""
        primal = self.loss + l1 * self.l1_norm + l2 / 2 * self.l2_square
        scale, dual = rescaled_duals(self.V, self.quadratic, self.linear, l1, l2)
        return primal, scale, dual, self.rounding + 8 * _EPS * (primal - self.loss)


class GramPath:
    def __init__(self, ctx, start=None):
        self.ctx, self.problem = ctx, linear_problem(ctx.objective)
        train = ctx.data.train
        X = train.X.detach().to(torch.float64).numpy()
        n, d = X.shape
        y = self.problem.loss.prepare(ctx.targets(train)).to(torch.float64)
        self.c = row_weights(self.problem.loss, y, n, train.X.device, train.weight).numpy()
        self.y = y.reshape(-1).numpy()
        self.Xt = np.empty((d + 1, n))  # by column: the products below are dot products
        self.Xt[:d], self.Xt[d] = X.T, 1.0
        weighted = self.Xt * self.c
        G = weighted @ self.Xt.T
        self.H, self.q = 2 * G, -2 * (weighted @ self.y)  # the quadratic model's, l2 added per point
        self.sigma = np.sqrt(np.maximum(np.diag(G)[:d] - G[d, :d] ** 2, 0.0))  # the columns' c-weighted std
        self.weights = np.append(np.ones(d), 0.0)  # which coordinates carry the penalty (not the bias)
        self.T = np.zeros(d + 1) if start is None else start.reshape(-1).to(torch.float64).numpy().copy()
        self.screens = d > _SCREEN_FROM

    def strengths(self) -> tuple:
        """(l1, l2) of the objective's penalty now (the caller set its strength)."""
        dual = penalty_dual(self.ctx.objective.penalty, (1, len(self.T) - 1))
        return float(dual.l1), float(dual.l2)

    def solve(self, l1: float, l2: float, residual=None) -> int:
        """Moves T to the optimum at (l1, l2) from the last point; returns the steps it took.
        `residual`: the last point's _Residuals (one row), to screen with."""
        allowed = np.ones(len(self.T), dtype=bool)
        if residual is not None:
            primal, scale, dual, rounding = residual.bound(np.array([l1]), np.array([l2]))
            gap = float(primal[0] - dual[0] + rounding[0])
            allowed[:-1] = ~screened(scale[0] * residual.V[0], self.sigma, gap, l1, _GAMMA)
        self.dropped = ~allowed[:-1]  # the weights screening proved zero at this point
        H = self.H
        if l2 > 0:
            H = H + np.diag(l2 * self.weights)
        lam = l1 * self.weights
        found = solve_active_set(H, self.q, lam, self.T, allowed)
        if found is None:  # coordinate descent then (collinear columns)
            return self.polish(l1, l2, allowed)
        self.T = found[0]
        return found[1]

    def polish(self, l1: float, l2: float, allowed=None) -> int:
        """T to the optimum by coordinate descent and the support's solve (derivtrain/trainer/
        l1_quadratic.py), on the `allowed` coordinates (None: all)."""
        keep = np.flatnonzero(allowed if allowed is not None else np.ones(len(self.T), dtype=bool))
        H = self.H + np.diag(l2 * self.weights)
        T = np.zeros_like(self.T)
        T[keep] = solve_l1_quadratic(H[np.ix_(keep, keep)], self.q[keep], l1 * self.weights[keep], self.T[keep])
        self.T = T
        return 1

    def residuals(self, T: np.ndarray) -> _Residuals:
        """One pass over the rows at the P weights T (P, d + 1) (module docstring: the centred dual point)."""
        Z = T @ self.Xt
        R = Z - self.y
        CR = R * self.c
        theta = 2 * (R - CR.sum(axis=1, keepdims=True))
        ctheta = theta * self.c
        # |l_i| + |l'_i| (1 + |z_i| + |y_i|), l = r^2: certificate.py's rounding_error, term by term
        size = R * R + 2 * np.abs(R) * (1 + np.abs(Z) + np.abs(self.y))
        W = T[:, :-1]
        return _Residuals((CR * R).sum(axis=1), (ctheta * theta).sum(axis=1) / 4, ctheta @ self.y,
                          -(ctheta @ self.Xt[:-1].T), 8 * _EPS * (size @ self.c), np.abs(W).sum(axis=1),
                          (W * W).sum(axis=1))

    def set_weights(self) -> None:
        linear = self.problem.linear
        with torch.no_grad():
            T = torch.from_numpy(self.T)
            linear.weight.copy_(T[None, :-1].to(linear.weight.dtype))
            linear.bias.copy_(T[-1:].to(linear.bias.dtype))
