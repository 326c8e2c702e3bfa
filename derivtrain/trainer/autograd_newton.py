"""Newton's step from autograd: fit_newton's step for any twice-differentiable objective that is not
a linear convex one (an MLP, a plugin's model or loss, a linear model without a dual).

The gradient is built with create_graph=True, so differentiating it again gives Hessian rows
(dense) or Hessian-vector products (Newton-CG: derivtrain/trainer/conjugate_gradient.py, never
H itself). For a linear model with a convex loss and penalty the same matrix is X^T D X, formed
in one product per block: derivtrain/trainer/linear_newton.py takes those.
"""
import torch

from derivtrain.trainer.armijo import backtrack
from derivtrain.trainer.conjugate_gradient import conjugate_gradient
from derivtrain.trainer.damped_cholesky import newton_direction_of

_MAX_HALVINGS = 40
_MAX_CG_STEPS = 250


def _flat(tensors) -> torch.Tensor:
    return torch.cat([t.reshape(-1) for t in tensors])


def dense_hessian(flat_grad: torch.Tensor, params) -> torch.Tensor:
    """The Hessian, one row per backward pass through the gradient's graph.

    Row by row rather than vmapped (is_grads_batched): the objective contains custom autograd
    Functions, which need not have vmap rules.
    """
    rows = [_flat(torch.autograd.grad(flat_grad[i], params, retain_graph=True, materialize_grads=True))
            for i in range(flat_grad.numel())]
    return torch.stack(rows)


def forcing_tolerance(g: torch.Tensor) -> float:
    """Truncated Newton's CG stop, min(0.5, sqrt|g|) |g|: loose far from the optimum, tight near it,
    which keeps convergence superlinear (Nocedal and Wright, alg. 7.1)."""
    norm = g.norm().item()
    return min(0.5, norm ** 0.5) * norm


def newton_direction(f: torch.Tensor, params, dense: bool, total=lambda t: t):
    """(gradient, Newton direction) of the objective value `f` at the current parameters. `total`
    sums over ranks (trainer=ddp: f is this rank's weighted share; its gradient, Hessian and
    Hessian-vector products are summed, one all-reduce each). Where H is not positive definite the
    dense solve is damped (derivtrain/trainer/damped_cholesky.py) and CG stops on the negative
    curvature, so the direction is still one of descent."""
    g_local = _flat(torch.autograd.grad(f, params, create_graph=True))  # a graph: differentiated again
    g = total(g_local.detach())
    if dense:
        return g, newton_direction_of(total(dense_hessian(g_local, params)), g)

    def hvp(v):
        return total(_flat(torch.autograd.grad(g_local, params, grad_outputs=v, retain_graph=True,
                                               materialize_grads=True)))

    return g, conjugate_gradient(hvp, -g, forcing_tolerance(g), min(_MAX_CG_STEPS, g.numel()))


class AutogradNewton:
    """fit_newton's step for any model: evaluate() the objective and Newton's direction at the
    parameters, move() them along it by the Armijo search."""

    def __init__(self, params, value, dense: bool, total):
        self.params, self.value, self.dense, self.total = params, value, dense, total
        self._at = None  # (f0, direction) of the last evaluate()

    def evaluate(self) -> tuple:
        """(objective, g . d) at the current parameters (-lambda^2: lambda is the Newton decrement)."""
        f = self.value()
        g, direction = newton_direction(f, self.params, self.dense, self.total)
        f0 = self.total(f.detach()).item()
        self._at = (f0, direction)
        return f0, (g @ direction).item()

    @torch.no_grad()
    def move(self, slope: float) -> float:
        """Backtracking from the full Newton step; moves the parameters there and returns the step
        size (0.0, parameters unchanged, if none decreases the objective)."""
        f0, direction = self._at
        start = [p.detach().clone() for p in self.params]
        pieces = direction.split([p.numel() for p in self.params])

        def place(t: float) -> None:
            for p, p0, d in zip(self.params, start, pieces):
                p.copy_(p0 + t * d.view_as(p) if t else p0)

        def value_at(t: float) -> float:
            place(t)
            return self.total(self.value()).item()

        t = backtrack(value_at, f0, slope, _MAX_HALVINGS)
        place(t)
        return t
