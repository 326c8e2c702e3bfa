"""A least-squares path (one target) under an L1, elastic-net or L2 penalty, solved on the rows' Gram
matrix, each point certified by its own duality gap.

For the squared error every point's problem is a quadratic in T = [w | b] plus the L1 term,

    P(T) = T^T G T - 2 h^T T + y^T C y + l1 ||w||_1 + l2/2 ||w||^2,   G = X_a^T C X_a,  h = X_a^T C y

(X_a = [X | 1], C the row weights summing to 1), so a path forms G and h once and each point is
an L1 quadratic of d + 1 unknowns, solved exactly from the last point's support (derivtrain/path/
active_set.py). Proximal Newton does the same per fit (derivtrain/trainer/prox_newton.py: its
first step lands on a quadratic's optimum) but a fit pays its set-up, a Hessian from the rows and
finish() every time: on diabetes (442 x 10) ~6 ms a point, where the path's own work is ~0.1 ms.

A point's certificate is computed from the rows (one pass over them for all of a path's points
together, derivtrain/path/gram_points.py: the Gram's expansion of ||r||^2 would cancel where the
fit is close), with the dual point theta = l'(z) = 2 (z - y) centred (sum_i c_i theta_i = 0, the
bias's constraint: the squared error's conjugate is finite everywhere, so centring keeps it
feasible, where derivtrain/convex/bias.py scales rows) and scaled into the L1 box. Past
_SCREEN_FROM features, gap-safe screening (derivtrain/path/screening.py) leaves out of a point's
solve the weights the last point's dual point proves zero at the new strength; the certificate
still covers them all, and a point whose gap misses tol (none is expected: the solve is exact) is
solved again by coordinate descent over every weight.
"""
import numpy as np
import torch

from derivtrain.convex.certificate import linear_problem, row_weights
from derivtrain.convex.penalty import ElementwiseDual
from derivtrain.convex.penalty_dual import penalty_dual
from derivtrain.data import sparse
from derivtrain.losses.likelihood import MSELoss
from derivtrain.path.active_set import solve_active_set
from derivtrain.path.gram_certificate import Residuals, from_gram, from_rows
from derivtrain.path.screening import screened
from derivtrain.trainer.l1_quadratic import solve_l1_quadratic

_GAMMA = 0.5  # the squared error's conjugate t^2/4 + t y is 1/2-strongly convex (screening.py)
# screening tests every weight (~25 us with the dual's rescaling) to save the solve's work on the
# weights it drops: at diabetes' 10 features the solve on the support costs less than the test
_SCREEN_FROM = 32


def fits(ctx) -> bool:
    """A squared error on one target, a penalty with scalar L1 and L2 coefficients, dense rows on
    the CPU in one process, d + 1 <= optim.max_dense."""
    problem = linear_problem(ctx.objective)
    X = ctx.data.train.X
    if (problem is None or problem.linear.out_features != 1
            or not isinstance(ctx.objective.loss, MSELoss)):  # gram_points: its validation loss is the MSE
        return False
    penalty = problem.penalty
    scalar = (isinstance(penalty, ElementwiseDual) and not isinstance(penalty.l1, torch.Tensor)
              and not isinstance(penalty.l2, torch.Tensor))
    return (scalar and isinstance(X, torch.Tensor) and not sparse.is_sparse(X) and X.device.type == "cpu"
            and ctx.distributed.world_size == 1 and X.shape[1] + 1 <= ctx.optim.max_dense)


class GramPath:
    def __init__(self, ctx, start=None):
        self.ctx, self.problem = ctx, linear_problem(ctx.objective)
        train = ctx.data.train
        X = train.X.detach().to(torch.float64).numpy()
        n, d = X.shape
        y = self.problem.loss.prepare(ctx.targets(train)).to(torch.float64)
        self.c = row_weights(self.problem.loss, y, n, train.X.device, train.weight).numpy()
        self.y, self.X = y.reshape(-1).numpy(), X
        self.G, self.h, self.s = _gram(X, self.c, self.y)
        self.H, self.q = 2 * self.G, -2 * self.h  # the quadratic model's, l2 added per point
        self.sigma = np.sqrt(np.maximum(np.diag(self.G)[:d] - self.G[d, :d] ** 2, 0.0))  # columns' c-weighted std
        self.tol = float(ctx.optim.tol)
        self.weights = np.append(np.ones(d), 0.0)  # which coordinates carry the penalty (not the bias)
        self.T = np.zeros(d + 1) if start is None else start.reshape(-1).to(torch.float64).numpy().copy()
        self.screens = d > _SCREEN_FROM

    def strengths(self) -> tuple:
        """(l1, l2) of the objective's penalty now (the caller set its strength)."""
        dual = penalty_dual(self.ctx.objective.penalty, (1, len(self.T) - 1))
        return float(dual.l1), float(dual.l2)

    def solve(self, l1: float, l2: float, residual=None) -> int:
        """Moves T to the optimum at (l1, l2) from the last point; returns the steps it took.
        `residual`: the last point's Residuals (one row), to screen with."""
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

    def residuals(self, T: np.ndarray) -> Residuals:
        """The certificates' numbers at the P weights T (P, d + 1): from G (gram_certificate.py),
        the points whose rounding bound is too wide for optim.tol from the rows."""
        found = from_gram(T, self.G, self.h, self.s, len(self.y))
        loose = found.rounding + found.quadratic_error + found.linear_error > self.tol / 8 * np.abs(found.loss)
        if not loose.any():
            return found
        Xt = np.vstack([self.X.T, np.ones((1, len(self.X)))])  # by column: its products are dot products
        exact = from_rows(T[loose], Xt, self.y, self.c)
        for name in found.__dataclass_fields__:
            getattr(found, name)[loose] = getattr(exact, name)
        return found

    def set_weights(self) -> None:
        linear = self.problem.linear
        with torch.no_grad():
            T = torch.from_numpy(self.T)
            linear.weight.copy_(T[None, :-1].to(linear.weight.dtype))
            linear.bias.copy_(T[-1:].to(linear.bias.dtype))


def _gram(X: np.ndarray, c: np.ndarray, y: np.ndarray) -> tuple:
    """(G, h, s) of the module docstring. X^T C X as B^T B with B = X sqrt(c) (X itself when the
    rows weigh alike): numpy hands a matrix times its own transpose to BLAS's syrk (half the
    multiply-adds), 80k x 50: ~10 ms, where [X | 1]^T (C [X | 1]) took ~30 ms."""
    d = X.shape[1]
    G = np.empty((d + 1, d + 1))
    if len(c) and np.all(c == c[0]):
        G[:d, :d] = (X.T @ X) * c[0]
    else:
        B = X * np.sqrt(c)[:, None]
        G[:d, :d] = B.T @ B
    G[d, :d] = G[:d, d] = c @ X
    G[d, d] = c.sum()
    cy = c * y
    return G, np.append(X.T @ cy, cy.sum()), float(cy @ y)
