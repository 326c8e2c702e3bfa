"""A path of a smooth loss with an L2 penalty (logistic, least squares, Poisson, squared hinge): Newton's
method carried from one strength to the next, its set-up and its Hessian shared along the path.

The certified solver (derivtrain/trainer/certified.py) pays per fit for what a path can pay once:
[X | 1] and the row weights, the precision floor, the final report, and a Hessian X^T D X per
iteration (100k x 50 logistic, one point: ~250 ms, of which one iteration's step is ~80 ms). Here:

  - the first step at a new strength alpha' from the last solution T (where the gradient of the
    old objective is 0) is d = -(H + alpha' I)^-1 (alpha' - alpha) [W; 0]: the path's tangent, the
    classic predictor of continuation methods. It is solved with the last point's X^T D X (the
    curvature moves little between neighbouring strengths) and needs no new pass to form it;
  - a step after that forms X^T D X afresh at the iterate (Newton's own step, quadratic);
  - every accepted iterate's duality gap is computed from its own dual point (the loss's gradient,
    derivtrain/convex), and the point ends as soon as it is <= optim.tol, the same test and the
    same certificate as the certified solver's.

Each step is an Armijo backtracking search along d (derivtrain/trainer/armijo.py; the scores move
linearly: z + t X d).
"""
import torch

from derivtrain.data import sparse
from derivtrain.convex.certificate import Certificate, linear_problem
from derivtrain.convex.certificate import dual_value, rounding_error, row_weights
from derivtrain.convex.penalty_dual import penalty_dual
from derivtrain.path.columns import Columns
from derivtrain.trainer.gradient_certificate import gradient_certificate, settle_bias
from derivtrain.threads import threads_for
from derivtrain.trainer.armijo import backtrack
from derivtrain.trainer.linear_system import _DenseFactor
from derivtrain.trainer.smooth_part import smooth_part
from derivtrain.trainer.stop_rules import epoch_cap

_HALVINGS = 50
_GATE = 1.0  # certify once the Newton decrement is within this factor of tol |P|
_STALE_STEPS = 1  # steps a point takes with the last curvature before forming its own (2: 38 -> 59
# iterations on a 30-point 100k x 50 logistic path, 1.8 -> 2.2 s: a second stale step gains less than it costs)


def fits(ctx) -> bool:
    """Whether this path can go here: a smooth loss, an L2 penalty, dense rows in one process, a
    Hessian small enough to factor (past optim.max_dense the certified solver's CG goes on)."""
    problem = linear_problem(ctx.objective)
    if problem is None or problem.loss.pieces() is not None or not _scalar_ridge(problem.penalty):
        return False
    linear, X = problem.linear, ctx.data.train.X
    dense = ctx.optim.hessian == "dense" or (ctx.optim.hessian == "auto" and
                                             (linear.in_features + 1) * linear.out_features <= ctx.optim.max_dense)
    return dense and isinstance(X, torch.Tensor) and not sparse.is_sparse(X) and ctx.distributed.world_size == 1


def _scalar_ridge(penalty) -> bool:
    """alpha/2 ||W||^2 alone, one alpha for every weight (derivtrain/convex/penalty.py's ElementwiseDual
    with l1 = 0 and a scalar l2): what this solver's steps write out."""
    from derivtrain.convex.penalty import ElementwiseDual

    return (isinstance(penalty, ElementwiseDual) and penalty.pieces() is None
            and not isinstance(penalty.l2, torch.Tensor))


class SmoothPath:
    """The path's shared state: [X | 1], targets, row weights, the last curvature and iterate."""

    def __init__(self, ctx, start=None):
        self.ctx, self.dtype = ctx, getattr(torch, ctx.optim.dtype)
        self.problem = linear_problem(ctx.objective)
        X = ctx.data.train.X.to(self.dtype)
        self.X = X
        self.system = Columns(X)  # LinearSystem's products on [X | 1] stored by column (columns.py)
        y = self.problem.loss.prepare(ctx.targets(ctx.data.train))
        self.y = y.to(self.dtype) if y.is_floating_point() else y
        self.c = row_weights(self.problem.loss, self.y, len(X), X.device, ctx.data.train.weight).to(self.dtype)
        linear = self.problem.linear
        self.T = (torch.zeros(linear.out_features, linear.in_features + 1, dtype=self.dtype, device=X.device)
                  if start is None else start.to(dtype=self.dtype, device=X.device).clone())
        self.blocks = None  # X^T D X at the last iterate whose curvature was formed
        self.z = None  # the scores X T of the last point's solution
        self.carried = None  # (its smooth part, X^T G): what the next point's first step starts from

    def solve(self) -> tuple:
        """(iterations, certificate, converged) at the objective's penalty strength (the caller set it),
        from the last point's solution."""
        with threads_for(self.X.numel(), small=1 << 24), torch.no_grad():
            self.problem.penalty = penalty_dual(self.ctx.objective.penalty, tuple(self.T[:, :-1].shape))
            alpha = float(self.problem.penalty.l2)  # the ridge coefficient, strength included
            T, tol = self.T, float(self.ctx.optim.tol)
            # the last point's scores, carried as z + t X d (~1e-16 relative per step): no pass over X
            z = self.system.scores(T) if self.z is None else self.z
            # and its smooth part and data gradient: they do not depend on the strength
            carried = self.carried
            for iteration in range(epoch_cap(self.ctx.trainer, self.ctx.optim) + 1):  # the certified solver's cap
                T, z, smooth, data_gradient = self._measure(T, z) if carried is None else (T, z, *carried)
                carried = None
                primal = smooth.value + alpha / 2 * T[:, :-1].square().sum().item()
                gradient = data_gradient.clone()
                gradient[:, :-1] += alpha * T[:, :-1]
                stale = self.blocks is not None
                if not stale:
                    self.blocks = self.system._blocks(smooth.D, torch.zeros_like(T[:, :-1]))
                direction, slope = self._direction(gradient, alpha, smooth.D.dim() == 2)
                # the Newton decrement -slope/2 estimates P - P*: the certificate is computed once it
                # says tol may be met. At a later point's iteration 0 (the last optimum) it costs no
                # pass (the carried gradient is its dual), and where the path is flat (the weak end
                # of a C grid) the last optimum is already certified at the new strength
                if -slope / 2 <= _GATE * tol * abs(primal) or not slope < 0:
                    certificate = self._certificate(primal, smooth, data_gradient, z, T)
                    if certificate.relative_gap <= tol:
                        break
                if stale and iteration >= _STALE_STEPS:  # the last curvature did its part: Newton's own
                    self.blocks = self.system._blocks(smooth.D, torch.zeros_like(T[:, :-1]))
                    direction, slope = self._direction(gradient, alpha, smooth.D.dim() == 2)
                step = self._search(T, z, direction, slope, alpha, primal) if slope < 0 else None
                if step is None:  # no step decreases P: rounding decides, this iterate is the point
                    certificate = self._certificate(primal, smooth, data_gradient, z, T)
                    break
                T, z = T + step[0], z + step[1]
            else:  # the iteration cap: the last iterate's certificate
                T, z, smooth, data_gradient = self._measure(T, z)
                primal = smooth.value + alpha / 2 * T[:, :-1].square().sum().item()
                certificate = self._certificate(primal, smooth, data_gradient, z, T)
            self.T, self.z, self.carried = T, z, (smooth, data_gradient)
            return iteration, certificate, certificate.relative_gap <= tol

    def _measure(self, T, z) -> tuple:
        """(T, z, smooth part, X^T G) at the iterate, its bias first made exact (derivtrain/trainer/
        gradient_certificate.py: then X^T G is the certificate's dual V too, and it needs no pass)."""
        smooth = smooth_part(self.problem.loss, z, self.y, self.c)
        T, z, smooth = settle_bias(self.problem.loss, z, self.y, self.c, T, smooth)
        return T, z, smooth, self.system.backproject(smooth.G)

    def _certificate(self, primal: float, smooth, data_gradient, z, T) -> Certificate:
        W = T[:, :-1]
        quick = gradient_certificate(self.problem, primal, smooth, data_gradient[:, :-1], z, self.y, self.c, W)
        if quick is not None:
            return quick
        error = rounding_error(self.problem, z, self.y, self.c, None, W)
        return Certificate(primal, dual_value(self.problem, smooth.theta, self.c, self.X, self.y), error)

    def _direction(self, gradient, alpha: float, diagonal: bool) -> tuple:
        """(d, g . d): d = -(X^T D X + alpha I)^-1 g with the curvature at hand."""
        blocks = self.blocks.clone()
        for k in range(blocks.shape[0]):
            blocks[k, k].diagonal()[:-1] += alpha
        direction = -_DenseFactor(blocks, diagonal).solve(gradient)
        return direction, (gradient * direction).sum().item()

    def _search(self, T, z, direction, slope: float, alpha: float, primal: float):
        """(dT, dz) of an Armijo backtracking step along `direction`; None if none decreases P."""
        dz = self.system.scores(direction)

        def value_at(t: float) -> float:
            trial = T + t * direction
            value = (self.c * self.problem.loss.values(z + t * dz, self.y)).sum().item()
            return value + alpha / 2 * trial[:, :-1].square().sum().item()

        t = backtrack(value_at, primal, slope, _HALVINGS)
        return (t * direction, t * dz) if t > 0.0 else None

    def set_weights(self) -> None:
        with torch.no_grad():
            linear = self.problem.linear
            linear.weight.copy_(self.T[:, :-1])
            linear.bias.copy_(self.T[:, -1])
