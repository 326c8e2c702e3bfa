"""Kinks made smooth by a logarithmic barrier: dual points for weights that came from elsewhere.

The certified solver carries its own dual variables (derivtrain/trainer/interior_point.py). To
certify weights from any other fitter (SGD, Adam) a dual point must be built from the weights
alone; the derivative of a smoothed loss at them is one, and `certify` tries a few widths.

A kinked convex function is a maximum of affine pieces, max_k m_k. Its barrier smoothing with
weight tau is

    f_tau(m) = min over xi of   xi - tau sum_k log(xi - m_k)

which is smooth and strictly convex, with derivative p_k = tau / (xi - m_k): positive and summing
to 1, so it is a point of the max's dual domain (the simplex) strictly inside it. At the
minimizer of a smoothed objective the duality gap of the TRUE objective is about tau per piece
and row (the central path of an interior-point method: each piece contributes p_k (xi - m_k) = tau),
so shrinking tau drives the certificate to 0. Unlike a quadratic rounding of the kink (Huber),
the barrier's derivative is strictly inside the domain everywhere and moves smoothly with tau.

    hinge max(0, u):        two pieces {0, u}:  xi = (u + 2 tau + sqrt(u^2 + 4 tau^2)) / 2,  p = tau / (xi - u)
    max of K pieces (Crammer-Singer): xi found by safeguarded Newton iterations per row

The backward passes are written in differentiable torch ops, so autograd differentiates them
again: exact Hessian-vector products of the smoothed objective.
"""
import torch

from derivtrain.function import Function  # torch.autograd.Function without per-call binding


class _BarrierFunction(Function):
    """forward(x, tau): saves x and tau for a backward that recomputes the barrier's minimizer."""

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, tau = inputs
        ctx.tau = tau
        ctx.save_for_backward(x)


def _hinge_xi(u, tau):
    return (u + 2 * tau + torch.sqrt(u.square() + 4 * tau * tau)) / 2


class BarrierHingeFunction(_BarrierFunction):
    """f_tau(u) for max(0, u) elementwise; derivative p = tau / (xi - u) in (0, 1)."""

    @staticmethod
    def forward(u, tau: float):
        xi = _hinge_xi(u, tau)
        return xi - tau * torch.log(xi) - tau * torch.log(xi - u)

    @staticmethod
    def backward(ctx, grad):
        (u,) = ctx.saved_tensors
        return grad * barrier_hinge_slope(u, ctx.tau), None


def barrier_hinge(u: torch.Tensor, tau: float) -> torch.Tensor:
    return BarrierHingeFunction.apply(u, tau)


def barrier_hinge_slope(u: torch.Tensor, tau: float) -> torch.Tensor:
    """d f_tau(u) / du = tau / (xi - u), in (0, 1): the backward above, and a dual point of the
    hinge without a pass through autograd (derivtrain/losses/hinge.py: HingeDatafit.smoothed_slope)."""
    return tau / (_hinge_xi(u, tau) - u)


def _max_xi(m: torch.Tensor, tau: float, steps: int = 60) -> torch.Tensor:
    """The root xi > max m of sum_k tau / (xi - m_k) = 1 for each row of m (n, K): it lies in
    [max m + tau, max m + K tau]. Newton on the convex decreasing function from the left end
    increases monotonically to the root (it never overshoots); a few dozen steps reach rounding."""
    top = m.amax(dim=1, keepdim=True)
    xi = top + tau
    for _ in range(steps):
        gaps = xi - m
        phi = (tau / gaps).sum(dim=1, keepdim=True) - 1
        slope = (tau / gaps.square()).sum(dim=1, keepdim=True)
        xi_next = xi + phi / slope
        if torch.equal(xi_next, xi):
            break
        xi = xi_next
    return xi


class BarrierMaxFunction(_BarrierFunction):
    """f_tau(m) for the row-wise max of m (n, K); derivative p = tau / (xi - m), rows on the simplex."""

    @staticmethod
    def forward(m, tau: float):
        xi = _max_xi(m, tau)
        return (xi - tau * torch.log(xi - m).sum(dim=1, keepdim=True)).squeeze(1)

    @staticmethod
    def backward(ctx, grad):
        (m,) = ctx.saved_tensors
        tau = ctx.tau
        root = _max_xi(m.detach(), tau)
        # one Newton step from the root, in differentiable ops: the same value, and the root's exact
        # derivative with respect to m (the implicit function theorem), so double backward is exact
        gaps = root - m
        xi = root - ((tau / gaps).sum(dim=1, keepdim=True) - 1) / (tau / gaps.square()).sum(dim=1, keepdim=True)
        return grad[:, None] * (tau / (xi - m)), None


def barrier_max(m: torch.Tensor, tau: float) -> torch.Tensor:
    return BarrierMaxFunction.apply(m, tau)
