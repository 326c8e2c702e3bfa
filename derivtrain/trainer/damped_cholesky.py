"""Cholesky factors of a Hessian that may be singular or indefinite, for Newton-type steps.

Where H is not positive definite (a non-convex objective, a flat direction such as an
unpenalized bias no row constrains, or rounding), the least multiple of I, in powers of 10 of
H's largest diagonal entry, is added: the step is then still one of descent (Levenberg's
damping), and it is the exact Newton step whenever H itself factors.
"""
import torch


def damped_cholesky(H: torch.Tensor) -> torch.Tensor:
    """L with L L^T = H + damping I, the damping as small as the factorization allows."""
    # H is symmetric up to rounding (blocks or rows computed separately): Cholesky reads only its
    # lower triangle, so that triangle is the symmetric matrix factored
    L, info = torch.linalg.cholesky_ex(H)
    if info.item() == 0:  # the usual case: H itself factors, the exact Newton step
        return L
    scale = H.diagonal().abs().max().clamp_min(torch.finfo(H.dtype).tiny)
    eye = torch.eye(len(H), dtype=H.dtype, device=H.device)
    damping = 1e-12
    for _ in range(19):
        L, info = torch.linalg.cholesky_ex(H + damping * scale * eye)
        if info.item() == 0:
            return L
        damping = 1e-12 if damping == 0 else damping * 10
    raise FloatingPointError("the Hessian is not finite")


def newton_direction_of(H: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """-H^-1 g through the damped factor (steepest descent -g if H is not finite at all)."""
    try:
        L = damped_cholesky(H)
    except FloatingPointError:
        return -g
    return -torch.cholesky_solve(g.unsqueeze(1), L).squeeze(1)


def block_diagonal_solver(blocks: torch.Tensor):
    """R -> (H_kk^-1 R_k)_k for the diagonal blocks H_kk of `blocks` (K, K, p, p) and R (K, p): each
    block factored (damped) on its own, all K systems solved in one batched call."""
    L = torch.stack([damped_cholesky(blocks[k, k]) for k in range(blocks.shape[0])])
    return lambda R: torch.cholesky_solve(R.unsqueeze(-1), L).squeeze(-1)
