"""The computed conjugate (derivtrain/convex/conjugate.py) against the closed forms of the built-in
losses (their `conjugate`, derivtrain/losses) and of the Huber and pinball losses: never below the
true value beyond the closed form's own rounding, and above it by rounding only."""
import pytest
import torch
from torch.nn import functional as F

from derivtrain.convex.conjugate import conjugate_upper
from derivtrain.losses import CrossEntropyLoss, MSELoss
from derivtrain.losses.poisson import PoissonLoss

N = 4000
EPS = torch.finfo(torch.float64).eps


def assert_close_above(computed, exact):
    """computed >= exact (to the closed form's rounding) and within ~1e-11 of it."""
    scale = 1 + exact.abs()
    assert bool((computed - exact >= -8 * EPS * scale).all()), (computed - exact).min()
    assert float(((computed - exact) / scale).max()) < 1e-11


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_logistic_squared_error_and_poisson_match_their_closed_forms():
    g = gen()
    y01 = torch.randint(0, 2, (N, 1), generator=g).double()
    theta = torch.rand(N, 1, generator=g, dtype=torch.float64) * 0.998 + 0.001 - y01
    logistic = lambda z, y: F.softplus(z) - y * z  # noqa: E731
    assert_close_above(conjugate_upper(logistic, theta, y01),
                       CrossEntropyLoss().conjugate(theta, y01))
    y = torch.randn(N, 1, generator=g, dtype=torch.float64) * 1e3  # regression targets far from 0
    theta = torch.randn(N, 1, generator=g, dtype=torch.float64) * 50
    assert_close_above(conjugate_upper(lambda z, y: (z - y) ** 2, theta, y),
                       MSELoss().conjugate(theta, y))
    counts = torch.randint(1, 30, (N, 1), generator=g).double()
    theta = torch.rand(N, 1, generator=g, dtype=torch.float64) * 20 - counts + 1e-3
    assert_close_above(conjugate_upper(lambda z, y: z.exp() - y * z, theta, counts),
                       PoissonLoss().conjugate(theta, counts))


@pytest.mark.parametrize("q", [0.1, 0.5, 0.9])
def test_kinked_pinball_is_exact_at_its_kink(q):
    """A piecewise-linear f: the two tangents that bracket its kink ARE its pieces, so the bound is exact."""
    g = gen(1)
    y = torch.randn(N, generator=g, dtype=torch.float64) * 100
    theta = torch.rand(N, generator=g, dtype=torch.float64) - q  # the domain [-q, 1 - q]
    pinball = lambda z, y: torch.maximum(q * (y - z), (q - 1) * (y - z))  # noqa: E731
    assert_close_above(conjugate_upper(pinball, theta, y), theta * y)


def test_huber_inside_its_domain_and_infinite_outside():
    g = gen(2)
    y = torch.randn(N, generator=g, dtype=torch.float64) * 10
    theta = torch.rand(N, generator=g, dtype=torch.float64) * 2 - 1
    huber = lambda z, y: torch.where((z - y).abs() <= 1, (z - y) ** 2 / 2, (z - y).abs() - 0.5)  # noqa: E731
    assert_close_above(conjugate_upper(huber, theta, y), theta ** 2 / 2 + theta * y)
    zero = torch.zeros(2, dtype=torch.float64)
    outside = conjugate_upper(huber, torch.tensor([1.5, -3.0], dtype=torch.float64), zero)
    assert torch.isinf(outside).all() and (outside > 0).all()


def test_a_smooth_hinge_datafit_matches_fenchel_young_at_its_derivatives():
    """l*(l'(z)) = z l'(z) - l(z): through ConvexLoss's derived datafit, autograd and the solve together."""
    from derivtrain.losses import ConvexLoss

    class SmoothHinge(ConvexLoss):
        def elementwise(self, z, s):
            m = 1 - s * z
            return torch.where(m <= 0, 0 * m, torch.where(m < 0.5, m * m, m - 0.25))

    g = gen(3)
    z = torch.randn(N, 3, generator=g, dtype=torch.float64) * 2
    signs = torch.randint(0, 2, (N, 3), generator=g).double() * 2 - 1
    datafit = SmoothHinge().convex_dual(3)
    leaf = z.clone().requires_grad_(True)
    values = datafit.values(leaf, signs)
    (theta,) = torch.autograd.grad(values.sum(), leaf)
    assert_close_above(datafit.conjugate(theta, signs), (theta * z).sum(dim=1) - values.detach())
