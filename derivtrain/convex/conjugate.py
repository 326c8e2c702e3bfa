"""The convex conjugate of a 1-D convex function, computed from its value and derivatives alone.

    f*(t) = sup_z  t z - f(z)

is reached where f'(z) = t. For many scalar problems at once (one per score of every row) we
bracket that root, [lo, hi] with f'(lo) <= t <= f'(hi), and shrink the bracket by Newton's step
on f'(z) - t where it stays inside, else by bisection: f' is monotone, so this never fails, and
near a smooth root it converges quadratically.

A certificate must never be optimistic, and the dual value has -f* in it: the number returned is
an UPPER bound on f*(t), never below it. Any z gives a lower bound t z - f(z); the upper bound
comes from convexity: f lies above its tangents at lo and hi, and the maximizer lies between
them, so t z - f(z) <= t z - max(tangent_lo(z), tangent_hi(z)), whose largest value is at the
tangents' crossing. Once the bracket is at a root (or straddles a kink of a piecewise-linear f,
where the two tangents ARE the pieces) the two bounds meet to rounding, and a few units of
roundoff of the terms are added on top. Where no bracket is found (t outside the range of f', or
at a limit f' only approaches, like the logistic loss's 0 and 1) the bound is +inf: honest, and
a loss that lands there declares its conjugate in closed form instead.
"""
import torch

_EXPAND = 64  # bracket steps 1, 2, 4, ... 2^63 away from 0: any finite root of a float64 problem
_NEWTON = 100  # Newton / bisection steps at most: they stop once the two bounds meet (to rounding)
_EPS = torch.finfo(torch.float64).eps
_CLOSE = 1e-7  # relative: a bracket this wide leaves the tangent bound ~f'' 1e-14 z^2 above f*, rounding


def derivatives(f, z: torch.Tensor, y: torch.Tensor):
    """(f, f', f'') of an elementwise f at z, by autograd (f'' by differentiating f' again)."""
    with torch.inference_mode(False), torch.enable_grad():
        leaf = z.detach().clone().requires_grad_(True)
        value = f(leaf, y.clone())
        (slope,) = torch.autograd.grad(value.sum(), leaf, create_graph=True)
        if slope.requires_grad:
            (curvature,) = torch.autograd.grad(slope.sum(), leaf)
        else:  # affine where it is evaluated
            curvature = torch.zeros_like(slope)
    return value.detach(), slope.detach(), curvature.detach()


class _End:
    """One end of each bracket: position, value, slope (+-inf positions: not found yet)."""

    def __init__(self, like, side: float):
        self.z = torch.full_like(like, side)
        self.f = torch.zeros_like(like)
        self.g = torch.zeros_like(like)

    def take(self, mask, z, f, g):
        self.z, self.f = torch.where(mask, z, self.z), torch.where(mask, f, self.f)
        self.g = torch.where(mask, g, self.g)


def conjugate_upper(f, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """An upper bound on f*(t) elementwise (rounding level above it where t is in f''s range)."""
    t = t.detach().to(torch.float64)
    y = torch.broadcast_to(y.detach().to(torch.float64), t.shape)
    lo, hi = _End(t, -torch.inf), _End(t, torch.inf)
    z = torch.zeros_like(t)
    value, slope, curvature = derivatives(f, z, y)
    _update(lo, hi, t, z, value, slope)
    step = 1.0
    for _ in range(_EXPAND):  # walk out from 0 until each root is bracketed
        open_hi, open_lo = torch.isinf(hi.z), torch.isinf(lo.z)
        if not bool((open_hi | open_lo).any()):
            break
        z = torch.where(open_hi, lo.z + step, torch.where(open_lo, hi.z - step, z))
        z = torch.where(open_hi & open_lo, torch.zeros_like(z), z)
        value, slope, curvature = derivatives(f, z, y)
        _update(lo, hi, t, z, value, slope)
        step *= 2
    found = torch.isfinite(lo.z) & torch.isfinite(hi.z)
    lo.z, hi.z = torch.where(found, lo.z, torch.zeros_like(t)), torch.where(found, hi.z, torch.zeros_like(t))
    for _ in range(_NEWTON):
        upper, lower, size = _bounds(lo, hi, t)
        met = (upper - lower <= 4 * _EPS * size) | ((slope - t).abs() <= 4 * _EPS * (t.abs() + slope.abs()))
        if bool((met | ~found).all()):  # the bounds met (to rounding), or f'(z) = t to rounding
            break
        z = _next_point(lo, hi, t, z, slope, curvature)
        value, slope, curvature = derivatives(f, z, y)
        _update(lo, hi, t, z, value, slope)
    # Newton reaches a smooth root from one side: a point just past it closes the bracket there, so
    # the far end's tangent (and its roundoff) no longer sets the bound
    past = torch.where(slope <= t, z + _CLOSE * (1 + z.abs()), z - _CLOSE * (1 + z.abs()))
    value, slope, _ = derivatives(f, past, y)
    _update(lo, hi, t, past, value, slope)
    upper, _, size = _bounds(lo, hi, t)
    return torch.where(found, upper + 8 * _EPS * size, torch.full_like(t, torch.inf))


def _update(lo, hi, t, z, value, slope):
    lo.take(slope <= t, z, value, slope)
    hi.take(slope >= t, z, value, slope)


def _next_point(lo, hi, t, z, slope, curvature):
    """Newton's step on f'(z) = t where it lands strictly inside the bracket, else its midpoint."""
    newton = z - (slope - t) / curvature
    inside = (curvature > 0) & (newton > lo.z) & (newton < hi.z)
    return torch.where(inside, newton, (lo.z + hi.z) / 2)


def _bounds(lo, hi, t):
    """(upper, lower, size): t z - max(two tangents) at their crossing, the best t z - f(z) seen at
    the ends, and the size of the terms (their roundoff is what `upper` adds on return)."""
    lower = torch.maximum(t * lo.z - lo.f, t * hi.z - hi.f)
    flat = hi.g - lo.g <= 0  # f' == t at both ends: f is affine between them, t z - f(z) constant
    crossing = (hi.f - lo.f + lo.g * lo.z - hi.g * hi.z) / torch.where(flat, torch.ones_like(t), lo.g - hi.g)
    crossing = torch.minimum(torch.maximum(crossing, lo.z), hi.z)
    # either tangent's side at the computed crossing: the larger is >= the bound at the true crossing
    # (one side rises to it, the other falls from it), so a rounded crossing never makes it optimistic
    upper = torch.maximum(t * crossing - (lo.f + lo.g * (crossing - lo.z)),
                          t * crossing - (hi.f + hi.g * (crossing - hi.z)))
    upper = torch.where(flat, lower, torch.maximum(upper, lower))
    size = (t * crossing).abs() + lo.f.abs() + hi.f.abs() + (lo.g * lo.z).abs() + (hi.g * hi.z).abs()
    return upper, lower, size
