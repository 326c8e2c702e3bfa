"""Newton's step for a linear model with a smooth convex loss and a smooth penalty: the one Newton
of the linear convex problems, whether optim=auto/certified (trainer/certified.py) or optim=newton
(trainer/newton.py) asked for it.

With the parameters as one (K, d + 1) matrix T = [W | b] and scores z = X_aug T^T, the gradient
is G^T X_aug plus the penalty's and the Hessian X_aug^T D X_aug plus the penalty's curvature, G and
D the loss's first and second derivatives in score space (trainer/smooth_part.py): one pass over X
for the gradient and one symmetric rank-k product per Hessian block (trainer/linear_system.py),
where autograd would need one backward pass per parameter for the same matrix. The step is
d = -H^-1 g with an Armijo backtracking search along it (trainer/armijo.py); the scores move
linearly, z + t X_aug d^T, so a trial costs O(n K), not a pass over X.
"""
import torch

from derivtrain.convex.certificate import row_weights
from derivtrain.convex.plan import method
from derivtrain.data import sparse
from derivtrain.threads import threads_for
from derivtrain.trainer.armijo import backtrack
from derivtrain.trainer.linear_system import LinearSystem
from derivtrain.trainer.smooth_part import smooth_part

_MAX_HALVINGS = 60
_ONE_THREAD_BELOW = 1 << 24  # as fit_certified: elementwise work on n-vectors, faster on one thread


def parts(problem, z, y, c, T, reduce) -> tuple:
    """The objective's two parts at T (scores z): the weighted mean loss and the penalty."""
    with torch.no_grad():
        loss = reduce.all_sum((c * problem.loss.values(z, y)).sum())
        both = torch.stack([loss, problem.penalty.value(T[:, :-1]).to(loss.dtype)]).tolist()
    return both[0], both[1]


def primal(problem, z, y, c, T, reduce) -> float:
    return sum(parts(problem, z, y, c, T, reduce))


def newton_gradient(system: LinearSystem, problem, T: torch.Tensor, smooth) -> tuple:
    """(g, predicted gap): the objective's gradient (K, d + 1) at T, one pass over X, and the gap
    its certificate would show, from g alone. With theta = l'(z) each row's Fenchel-Young gap is 0,
    so P - D(theta) is the penalty's: g(W) + g*(V) - <W, V>, V = -X^T (c theta), which for a quadratic
    penalty is g*(-g_W). Bias balancing (derivtrain/convex/bias.py) moves theta a little, so it is an
    estimate: what decides whether a certificate is worth its pass, never the stop itself."""
    gradient = system.backproject(smooth.G)
    penalty_gradient, _ = problem.penalty.smooth_part(T[:, :-1])  # the penalty's (L2: alpha W)
    gradient[:, :-1] += penalty_gradient
    predicted = problem.penalty.conjugate(-gradient[:, :-1]).item() if problem.penalty.quadratic else 0.0
    return gradient, predicted


def newton_direction(system: LinearSystem, problem, T: torch.Tensor, smooth, gradient=None,
                     sampled: bool = False) -> tuple:
    """(d, g . d): Newton's direction d = -H^-1 g at T and the slope along it (-lambda^2, lambda
    the Newton decrement). Raises FloatingPointError or LinAlgError where H does not factor.
    gradient: newton_gradient's, where the caller has it; sampled: H from a sample of the rows
    (LinearSystem.factor), for the steps far from the optimum."""
    gradient = newton_gradient(system, problem, T, smooth)[0] if gradient is None else gradient
    _, extra = problem.penalty.smooth_part(T[:, :-1])  # the penalty's curvature (L2: alpha)
    direction = -system.factor(smooth.D, extra, newton=True, sampled=sampled).solve(gradient)
    return direction, (gradient * direction).sum().item()


def line_search(system: LinearSystem, problem, T, z, y, c, direction, slope: float, f0: float, reduce) -> tuple:
    """(t, scores at T + t d or None): the Armijo step size along `direction` from T (scores z,
    objective f0), 0.0 when none decreases it. The full step's scores are X (T + d) exactly, the
    product the next iteration would compute (T + 1.0 d is T + d to the bit): returned for it to
    reuse, one pass saved an iteration. Shorter steps move the scores linearly, z + t (z1 - z),
    O(n K) a trial, and the next iteration computes its scores afresh."""
    full = T + direction
    z1 = system.scores(full)
    dz = []

    def value_at(t: float) -> float:
        if t == 1.0:
            return primal(problem, z1, y, c, full, reduce)
        if not dz:
            dz.append(z1 - z)
        return primal(problem, z + t * dz[0], y, c, T + t * direction, reduce)

    t = backtrack(value_at, f0, slope, _MAX_HALVINGS)
    return t, (z1 if t == 1.0 else None)


def structured(problem, X) -> bool:
    """Whether this Newton takes the problem: certified by Newton's method (derivtrain/convex/plan.py:
    a smooth loss, a penalty without kinks), rows in memory."""
    return (problem is not None and method(problem) == "newton" and problem.loss.pieces() is None
            and isinstance(X, torch.Tensor))


class LinearNewton:
    """fit_newton's step on a linear convex objective: its iterate is the model's linear layer (in
    the solver's precision), read at evaluate() and written at move(), so fit_newton's log, stop
    test and checkpoints see the parameters as autograd Newton leaves them."""

    def __init__(self, ctx, problem, X: torch.Tensor):
        self.problem, self.reduce = problem, ctx.distributed
        self.system = LinearSystem(sparse.with_ones_column(X), problem.linear.out_features, ctx.optim.max_dense,
                                   ctx.optim.hessian, self.reduce)
        y = problem.loss.prepare(ctx.targets(ctx.data.train))
        self.y = y.to(X.dtype) if y.is_floating_point() else y
        self.c = row_weights(problem.loss, self.y, X.shape[0], X.device, ctx.data.train.weight, self.reduce)
        self.c = self.c.to(X.dtype)
        self.size = X.shape[0] * X.shape[1]
        self._at = None  # (T, z, f0, direction) of the last evaluate()

    def evaluate(self) -> tuple:
        """(objective, g . d) at the current weights; Newton's direction d kept for move()."""
        linear = self.problem.linear
        with threads_for(self.size, small=_ONE_THREAD_BELOW), torch.no_grad():
            T = torch.cat([linear.weight, linear.bias[:, None]], dim=1)
            z = self.system.scores(T)
            smooth = smooth_part(self.problem.loss, z, self.y, self.c)
            f0 = primal(self.problem, z, self.y, self.c, T, self.reduce)
            try:
                direction, slope = newton_direction(self.system, self.problem, T, smooth)
            except (FloatingPointError, torch.linalg.LinAlgError):  # H not finite: rounding's verdict, no step
                direction, slope = None, 0.0
        self._at = (T, z, f0, direction)
        return f0, slope

    def move(self, slope: float) -> float:
        """The line search along the last direction: the step size taken (0.0: the weights stay)."""
        T, z, f0, direction = self._at
        if direction is None or not slope < 0:
            return 0.0
        with threads_for(self.size, small=_ONE_THREAD_BELOW), torch.no_grad():
            t, _ = line_search(self.system, self.problem, T, z, self.y, self.c, direction, slope, f0, self.reduce)
            if t > 0.0:
                moved = T + t * direction
                self.problem.linear.weight.copy_(moved[:, :-1])
                self.problem.linear.bias.copy_(moved[:, -1])
        return t
