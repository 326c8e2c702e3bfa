"""conjugate_gradient(): solve H x = r from products H v alone, never H itself (Newton-CG).

One solver for both Newton methods: autograd Newton (trainer/newton.py: a flat vector, Hessian-
vector products by double backward, no preconditioner, the forcing tolerance of truncated
Newton) and the linear models' second-order steps (trainer/linear_system.py: (K, d + 1) blocks,
H v in two passes over X, a preconditioner from H's diagonal blocks or its diagonal, a tight
relative tolerance). Tensors of any shape: inner products are (a * b).sum().

The preconditioner M ~ H^-1 is a function R -> M R. CG stops when the residual's norm is at most
`tolerance`, after max_steps products, or on non-positive curvature along a search direction (H
is not positive definite there): it returns the solution so far, which is still a descent
direction for Newton, or r itself when no step was taken (steepest descent, for r = -g).
"""
import torch


def conjugate_gradient(hvp, r: torch.Tensor, tolerance: float, max_steps: int, precondition=None) -> torch.Tensor:
    """x with hvp(x) ~= r (see the module's docstring for the stops)."""
    x = torch.zeros_like(r)
    residual = r.clone()
    z = precondition(residual) if precondition is not None else residual
    direction = z.clone()  # the residual is updated in place below: the direction must not share it
    rz = (residual * z).sum()
    for i in range(max_steps):
        Hd = hvp(direction)
        curvature = (direction * Hd).sum()
        if curvature.item() <= 0:
            return x if i > 0 else r
        step = rz / curvature
        x.add_(step * direction)
        residual.sub_(step * Hd)
        if residual.norm().item() <= tolerance:
            break
        z = precondition(residual) if precondition is not None else residual
        rz_next = (residual * z).sum()
        direction = z + (rz_next / rz) * direction
        rz = rz_next
    return x


def jacobi(diagonal: torch.Tensor):
    """The diagonal preconditioner R -> R / diag(H) (a zero diagonal entry: left as the tiniest)."""
    inverse = 1 / diagonal.clamp_min(torch.finfo(diagonal.dtype).tiny)
    return lambda R: R * inverse
