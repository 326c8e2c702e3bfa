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
With one score column (binary and regression problems) the root is found in closed form first
(_one_column), Newton only where some row would be scaled to 0.
"""
import torch

import derivtrain.convex.rowwise as rowwise

_MAX_STEPS = 60
_TOLERANCE = 1e-12


def balance_rows(theta: torch.Tensor, c: torch.Tensor, reduce=None):
    """theta (n, K) scaled per row so that sum_i c_i theta_i = 0 (to rounding); returns
    (scaled theta, relative residual left). c: (n,) nonnegative row weights. `reduce`: sums
    over rows other ranks hold (each rank scales its own rows; lambda is shared)."""
    total = reduce.all_sum if reduce is not None else (lambda t: t)
    scale = total(rowwise.rowsum(lambda th, cc: cc @ th.abs(), theta, c))
    scale = scale.max().clamp_min(torch.finfo(theta.dtype).tiny)
    if theta.shape[1] == 1:
        closed = _one_column(theta, c, scale, total)
        if closed is not None:
            return closed
    return _newton(theta, c, scale, total)


def _side_sums(theta, c):
    """A block's sum_i c_i theta_i and sum_i c_i theta_i^2 over the rows with theta > 0 and < 0
    (c theta max(theta, 0) is c theta^2 there, 0 elsewhere: two products, no masked copies)."""
    weighted = c * theta
    return weighted.sum(), weighted @ theta.clamp(min=0.0), weighted @ theta.clamp(max=0.0)


def _one_column(theta, c, scale, total):
    """K = 1 in closed form, or None. lambda moves only the rows with theta_i lambda > 0, the side
    of the residual r0 = sum_i c_i theta_i; while no row reaches t_i = 0, r is linear there:
    r(lambda) = r0 - lambda sum_side c_i theta_i^2 = 0. r is monotone, so this is the scaling
    Newton converges to (to rounding), in two sweeps of the rows (block by block, in cache)
    instead of Newton's ~40 passes."""
    r0, positive, negative = (total(part) for part in rowwise.rowsum(_side_sums, theta[:, 0], c))
    if r0.abs() <= _TOLERANCE * scale:
        return theta.clone(), (r0.abs() / scale).item()
    lam = r0 / (positive if r0 > 0 else negative)
    scaled = torch.empty_like(theta)

    def scale_block(block, weights, out):
        u = block[:, 0] * lam
        torch.mul(block[:, 0], (1 - u).clamp_(max=1.0), out=out[:, 0])
        return (u >= 1).sum(), weights @ out[:, 0]  # rows scaled to 0 or below (the piecewise case); residual

    reached, residual = rowwise.rowsum(scale_block, theta, c, scaled)
    if total(reached) > 0:
        return None
    residual = total(residual).abs() / scale
    if residual > _TOLERANCE:
        return None
    return scaled, residual.item()


def _newton(theta, c, scale, total):
    """Semismooth Newton on lambda with a backtracking line search (the module's docstring)."""
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
        # rows with t in (0, 1] move with lambda; a mask, not a gather of them (a copy of theta)
        active = ((u >= 0) & (u < 1)).to(theta.dtype)
        J = total((theta * (c * active)[:, None]).T @ theta) if total(active.sum()) > 0 else full
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
