"""The pieces every second-order solver shares: conjugate gradients (trainer/conjugate_gradient.py)
against a direct solve, and the Armijo search (trainer/armijo.py) against a quadratic's closed form."""
import math

import pytest
import torch

from derivtrain.trainer.armijo import ARMIJO, backtrack
from derivtrain.trainer.conjugate_gradient import conjugate_gradient, jacobi
from derivtrain.trainer.damped_cholesky import block_diagonal_solver


def spd(n: int, seed: int, condition: float = 1e3) -> torch.Tensor:
    """A symmetric positive definite matrix with eigenvalues from 1 to `condition`, badly scaled rows."""
    g = torch.Generator().manual_seed(seed)
    Q, _ = torch.linalg.qr(torch.randn(n, n, generator=g, dtype=torch.float64))
    eigenvalues = torch.logspace(0, math.log10(condition), n, dtype=torch.float64)
    scale = torch.logspace(-1, 1, n, dtype=torch.float64)  # what a diagonal preconditioner undoes
    return scale[:, None] * (Q * eigenvalues) @ Q.T * scale


@pytest.mark.parametrize("preconditioned", [False, True])
def test_cg_on_a_vector_matches_a_direct_solve(preconditioned):
    H = spd(40, 0)
    r = torch.randn(40, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    precondition = jacobi(H.diagonal()) if preconditioned else None
    x = conjugate_gradient(lambda v: H @ v, r, 1e-12 * r.norm().item(), 500, precondition)
    expected = torch.linalg.solve(H, r)
    torch.testing.assert_close(x, expected, rtol=1e-8, atol=0)


def test_cg_on_blocks_with_their_cholesky_preconditioner_matches_a_direct_solve():
    """(K, p) unknowns, H coupling the blocks weakly: the block preconditioner is nearly H^-1, so
    CG needs a handful of products where unpreconditioned CG needs dozens."""
    K, p = 3, 15
    A = torch.randn(K * p, K * p, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    H = 1e-4 * A @ A.T / torch.linalg.matrix_norm(A @ A.T, ord=2)  # the coupling, small beside each block
    for k in range(K):
        H[k * p:(k + 1) * p, k * p:(k + 1) * p] += spd(p, 3 + k)
    H = (H + H.T) / 2
    blocks = H.reshape(K, p, K, p).permute(0, 2, 1, 3)  # (K, K, p, p), block k, l = H[kp:, lp:]
    R = torch.randn(K, p, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    calls = {"preconditioned": 0, "plain": 0}

    def product(name):
        def hvp(V):
            calls[name] += 1
            return (H @ V.reshape(-1)).view(K, p)
        return hvp

    tolerance = 1e-12 * R.norm().item()
    x = conjugate_gradient(product("preconditioned"), R, tolerance, 500, block_diagonal_solver(blocks))
    plain = conjugate_gradient(product("plain"), R, tolerance, 500)
    expected = torch.linalg.solve(H, R.reshape(-1)).view(K, p)
    torch.testing.assert_close(x, expected, rtol=1e-8, atol=0)
    torch.testing.assert_close(plain, expected, rtol=1e-7, atol=0)
    assert calls["preconditioned"] <= 10 < calls["plain"]


def test_cg_stops_at_its_tolerance_and_its_step_cap():
    H = spd(30, 5)
    r = torch.randn(30, generator=torch.Generator().manual_seed(6), dtype=torch.float64)
    loose = conjugate_gradient(lambda v: H @ v, r, 0.1 * r.norm().item(), 500)
    assert (r - H @ loose).norm() <= 0.1 * r.norm()
    calls = []
    conjugate_gradient(lambda v: calls.append(1) or H @ v, r, 0.0, 3)
    assert len(calls) == 3


def test_cg_on_negative_curvature_returns_its_progress_or_the_right_hand_side():
    """An indefinite H: along the first direction r the curvature is negative, so r itself comes
    back (steepest descent for r = -g); after a step, the solution so far."""
    H = torch.diag(torch.tensor([-1.0, 2.0], dtype=torch.float64))
    r = torch.tensor([1.0, 0.0], dtype=torch.float64)
    assert torch.equal(conjugate_gradient(lambda v: H @ v, r, 0.0, 10), r)
    H = torch.diag(torch.tensor([2.0, -1.0, 4.0], dtype=torch.float64))
    r = torch.tensor([1.0, 1e-3, 0.0], dtype=torch.float64)  # first direction's curvature > 0, then < 0
    x = conjugate_gradient(lambda v: H @ v, r, 0.0, 10)
    step = (r @ r) / (r @ H @ r)
    torch.testing.assert_close(x, step * r)


@pytest.mark.parametrize("curvature,slope", [(1.0, -1.0), (3e3, -2.0), (1e-3, -5.0), (1e6, -1e-2)])
def test_backtracking_on_a_quadratic_takes_the_largest_halving_armijo_allows(curvature, slope):
    """f(t) = f0 + slope t + curvature t^2 / 2 meets Armijo's test exactly when
    t <= 2 (1 - ARMIJO) (-slope) / curvature: the search returns the largest 2^-k below that."""
    f0 = 7.0
    bound = 2 * (1 - ARMIJO) * -slope / curvature
    expected = 1.0 if bound >= 1 else 2.0 ** -math.ceil(-math.log2(bound))
    trials = []

    def value_at(t):
        trials.append(t)
        return f0 + slope * t + curvature * t * t / 2

    assert backtrack(value_at, f0, slope, 60) == expected
    assert trials == [2.0 ** -k for k in range(len(trials))] and trials[-1] == expected


def test_backtracking_finds_no_step_along_an_ascent_direction_or_past_its_halvings():
    assert backtrack(lambda t: t, 0.0, -1.0, 60) == 0.0  # f rises along a direction said to descend
    # the Armijo step here is 2^-10: four halvings do not reach it
    assert backtrack(lambda t: -t + 1e3 * t * t, 0.0, -1.0, 4) == 0.0
    assert backtrack(lambda t: -t + 1e3 * t * t, 0.0, -1.0, 11) == 2.0 ** -10


def test_the_softmax_closed_form_derivatives_are_autograds():
    """MultinomialDatafit.score_derivatives (softmax p - e_y and diag(p) - p p^T) against the K + 1
    autograd passes smooth_part takes for a datafit without it, on digits' scores, weighted rows."""
    from sklearn.datasets import load_digits

    from derivtrain.losses.likelihood import MultinomialDatafit
    from derivtrain.trainer.smooth_part import smooth_part

    class ByAutograd(MultinomialDatafit):
        score_derivatives = None

    X, y = load_digits(return_X_y=True)
    X = torch.as_tensor(X[:400], dtype=torch.float64) / 16
    z = X @ torch.randn(64, 10, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    y = torch.as_tensor(y[:400])
    c = torch.rand(400, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) / 400
    closed, autograd = smooth_part(MultinomialDatafit(10), z, y, c), smooth_part(ByAutograd(10), z, y, c)
    assert closed.value == pytest.approx(autograd.value, rel=1e-13)
    for a, b in ((closed.G, autograd.G), (closed.D, autograd.D), (closed.theta, autograd.theta)):
        assert torch.allclose(a, b, rtol=1e-12, atol=1e-15)
