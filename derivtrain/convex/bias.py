"""Make dual variables meet the bias's constraint sum_i c_i theta_i = 0 by scaling rows toward 0.

Rows are scaled by t_i in [0, 1] (theta_i -> t_i theta_i stays in every loss's dual domain, which
is convex and contains 0), as little as possible:

    min_t  sum_i c_i (1 - t_i)^2 / 2    subject to    sum_i c_i t_i theta_i = 0,  0 <= t <= 1

t = 0 is always feasible, so this has a solution. Its dual in lambda (one number per score
column) is concave and piecewise quadratic:

    q(lambda) = sum_i c_i [(1 - t_i)^2 / 2 + t_i theta_i.lambda],   t_i = clamp(1 - theta_i.lambda, 0, 1)

with gradient r(lambda) = sum_i c_i t_i theta_i (the residual of the constraint) and Hessian
-sum over rows with t_i in (0, 1] of c_i theta_i theta_i^T. Semismooth Newton on lambda (K unknowns)
with a backtracking line search reaches r = 0 to rounding in a few steps. Near the optimum of
the primal problem r is already small, so t stays close to 1 and the dual value barely moves.
"""
import torch

_MAX_STEPS = 60
_TOLERANCE = 1e-12


def balance_rows(theta: torch.Tensor, c: torch.Tensor, reduce=None):
    """theta (n, K) scaled per row so that sum_i c_i theta_i = 0 (to rounding); returns
    (scaled theta, relative residual left). c: (n,) nonnegative row weights. `reduce`: sums
    over rows other ranks hold (each rank scales its own rows; lambda is shared)."""
    total = reduce.all_sum if reduce is not None else (lambda t: t)
    scale = total((c[:, None] * theta.abs()).sum(dim=0)).max().clamp_min(torch.finfo(theta.dtype).tiny)
    lam = theta.new_zeros(theta.shape[1])
    full = total((theta * c[:, None]).T @ theta)  # the Hessian's model when no row is active
    ridge = torch.eye(len(lam), dtype=theta.dtype, device=theta.device) * (1e-12 * full.diagonal().max()
                                                                          + torch.finfo(theta.dtype).tiny)

    def at(lam):
        u = theta @ lam
        t = (1 - u).clamp(0.0, 1.0)
        q = total((c * ((1 - t).square() / 2 + t * u)).sum())
        return u, t, q

    u, t, q = at(lam)
    for _ in range(_MAX_STEPS):
        r = total((c * t) @ theta)
        if r.abs().max() <= _TOLERANCE * scale:  # the sum's own rounding is ~ n eps
            break
        active = (u >= 0) & (u < 1)  # t in (0, 1]: rows whose scale moves with lambda
        some_active = total(active.sum()) > 0
        J = total((theta[active] * c[active, None]).T @ theta[active]) if some_active else full
        step = torch.linalg.solve(J + ridge, r)  # ascent: -Hessian^-1 gradient
        slope, tau = (r @ step).item(), 1.0
        while tau > 1e-12:
            u_new, t_new, q_new = at(lam + tau * step)
            if q_new >= q + 1e-4 * tau * slope:
                break
            tau /= 2
        else:
            break
        lam, u, t, q = lam + tau * step, u_new, t_new, q_new
    residual = total((c * t) @ theta).abs().max() / scale
    return theta * t[:, None], residual.item()
