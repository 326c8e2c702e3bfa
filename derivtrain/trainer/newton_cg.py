"""Solve H x = r for a large linear model by preconditioned conjugate gradients.

Only Hessian-vector products (derivtrain/trainer/linear_system.py: two passes over X each), never H
itself. The preconditioner is H's per-class diagonal blocks, Cholesky-factored: for problems whose
classes do not interact (binary, one-vs-rest) they are H itself and CG ends in one step; coupled
ones (multinomial, Crammer-Singer, Weston-Watkins) converge in a few. Past _MAX_BLOCK features a
class the blocks would not fit, and the preconditioner is H's diagonal. Stops when the residual
is below _RELATIVE of r's norm or on non-positive curvature.
"""
import torch

from derivtrain.trainer.damped_cholesky import block_diagonal_solver

_MAX_BLOCK = 2048
_MAX_STEPS = 500
_RELATIVE = 1e-10


def _jacobi(diagonal: torch.Tensor):
    inverse = 1 / diagonal.clamp_min(torch.finfo(diagonal.dtype).tiny)
    return lambda R: R * inverse


def preconditioned_cg(hvp, r: torch.Tensor, blocks_fn, diagonal_fn=None) -> torch.Tensor:
    """x with hvp(x) ~= r. blocks_fn() builds H's diagonal blocks (K, K, p, p) for the preconditioner;
    diagonal_fn() H's diagonal (K, p), used where the blocks are too large."""
    K, p = r.shape
    if p <= _MAX_BLOCK:
        apply_inverse = block_diagonal_solver(blocks_fn())
    else:
        apply_inverse = _jacobi(diagonal_fn()) if diagonal_fn is not None else (lambda R: R)
    x = torch.zeros_like(r)
    residual = r.clone()
    z = apply_inverse(residual)
    direction = z.clone()
    rz = (residual * z).sum()
    target = _RELATIVE * r.norm().item()
    for i in range(_MAX_STEPS):
        Hd = hvp(direction)
        curvature = (direction * Hd).sum()
        if curvature.item() <= 0:
            return x if i > 0 else r
        step = rz / curvature
        x.add_(step * direction)
        residual.sub_(step * Hd)
        if residual.norm().item() <= target:
            break
        z = apply_inverse(residual)
        rz_next = (residual * z).sum()
        direction = z + (rz_next / rz) * direction
        rz = rz_next
    return x
