"""Gap-safe screening: the weights a duality gap proves zero at the optimum, before solving for it.

For P(w, b) = sum_i c_i l_i(z_i) + l1 ||w||_1 + l2/2 ||w||^2 and its dual D(theta) (derivtrain/
convex/certificate.py), with V(theta) = -X^T (c theta), the optimum has

    w*_j = 0   wherever   |V_j(theta*)| < l1        (theta* the dual optimum)

because w*_j = sign(V_j*) max(|V_j*| - l1, 0) / l2 (l2 > 0), and |V_j*| = l1 wherever w*_j != 0
(l2 = 0). theta* is unknown, but it is close to any feasible theta: where every l_i* is
gamma-strongly convex (squared error: l* = t^2/4 + t y, gamma = 1/2; logistic: the binary
entropy, gamma = 4), D is gamma-strongly concave in ||t||_c^2 = sum_i c_i t_i^2, so
D(theta*) - D(theta) >= gamma/2 ||theta - theta*||_c^2, and as D(theta*) <= P(w, b) for any
weights,

    ||theta - theta*||_c <= sqrt(2 (P(w, b) - D(theta)) / gamma) = r.

Both theta and theta* meet the bias's constraint sum_i c_i theta_i = 0, so V_j moves by
|x_j - mean_c x_j|^T c (theta - theta*) <= sigma_j r (Cauchy-Schwarz, sigma_j the column's
c-weighted standard deviation), and

    |V_j(theta)| + sigma_j r < l1   proves   w*_j = 0

(Ndiaye, Fercoq, Gramfort and Salmon, "Gap Safe screening rules for sparsity enforcing
penalties", JMLR 2017, the sphere test; written here from the paper's statement). Along a path
the theta is the last point's dual point, rescaled for the new strength (a feasible point of the
new dual), and the gap is the last weights' at the new strength: no pass over the rows. A screened
weight is left out of the point's solve; the point's own certificate still covers every weight.
"""
import math

import numpy as np

_MARGIN = 1e-9  # relative: the test's own rounding (|V_j| and sigma_j are sums over rows)


def strong_convexity(datafit):
    """gamma for a datafit whose loss has a bounded second derivative, l'' <= curvature_limit (the
    datafit contract: logistic 1/4, squared error and squared hinge 2): then l* is
    1/curvature_limit-strongly convex. None (no screening) where the curvature is unbounded (Poisson)."""
    limit = getattr(datafit, "curvature_limit", None)
    return None if limit is None else 1.0 / limit


def screened(V: np.ndarray, sigma: np.ndarray, gap: float, l1: float, gamma: float) -> np.ndarray:
    """The weights proved zero (a boolean mask over V's), for a feasible dual point whose
    V = -X^T (c theta) is `V` and whose gap to some weights is `gap`."""
    if not l1 > 0 or not math.isfinite(gap):
        return np.zeros(V.shape, dtype=bool)
    radius = math.sqrt(2 * max(gap, 0.0) / gamma)
    return np.abs(V) + sigma * radius < l1 * (1 - _MARGIN)


def rescaled_duals(V: np.ndarray, quadratic: np.ndarray, linear: np.ndarray, l1: np.ndarray, l2: np.ndarray):
    """(s, D(s theta)) per row, for dual points whose V = -X^T (c theta) are V's rows (P, d) and
    whose loss parts are sum_i c_i l*(s theta_i) = s^2 quadratic + s linear (the squared error's
    conjugate is quadratic), at strengths (l1, l2) each (P,): the best s in [0, the largest that
    keeps |s V_j| <= l1 when l2 = 0], in closed form. A feasible point of each dual, so each D is a
    lower bound on its optimum (derivtrain/convex/certificate.py; its feasible_scale is the top)."""
    largest = np.abs(V).max(axis=1, initial=0.0)
    top = np.where((l2 > 0) | (largest <= l1), 1.0, l1 / np.maximum(largest, 1e-300))
    unconstrained = np.where(quadratic > 0, -linear / (2 * np.maximum(quadratic, 1e-300)), np.inf)
    best = np.minimum(top, np.maximum(0.0, unconstrained))  # the loss part's best: all of D's where l2 = 0
    if np.any(l2 > 0):  # the penalty's part too: Newton on the concave, piecewise quadratic D(s), s >= 0
        best = np.where(l2 > 0, _newton_scale(np.abs(V), quadratic, linear, l1, l2, best), best)
    at_top, at_best = _dual(V, quadratic, linear, l1, l2, top), _dual(V, quadratic, linear, l1, l2, best)
    better = at_best > at_top
    return np.where(better, best, top), np.where(better, at_best, at_top)


def _newton_scale(a, quadratic, linear, l1, l2, s, steps: int = 8):
    """s maximizing D(s) = -(s^2 quadratic + s linear) - sum_j max(s a_j - l1, 0)^2 / (2 l2) over
    s >= 0 (an elastic net's dual point may be scaled freely: g* is finite everywhere): D' is
    piecewise linear and decreasing, so Newton's steps end on its root once they stop crossing a
    kink; whatever s they end at, D(s) is a valid lower bound."""
    l2 = np.maximum(l2, 1e-300)[:, None]
    for _ in range(steps):
        excess = np.maximum(s[:, None] * a - l1[:, None], 0.0)
        slope = -(2 * s * quadratic + linear) - (a * excess / l2).sum(axis=1)
        curvature = -2 * quadratic - (a * a * (excess > 0) / l2).sum(axis=1)
        s = np.maximum(0.0, s - slope / np.minimum(curvature, -1e-300))
    return s


def _dual(V, quadratic, linear, l1, l2, s) -> np.ndarray:
    """-(s^2 quadratic + s linear) - g*(s V): g* of l1 ||w||_1 + l2/2 ||w||^2 (derivtrain/convex/
    penalty.py's ElementwiseDual, scalar coefficients) is sum max(|V_j| - l1, 0)^2 / (2 l2), or
    the L1 box's indicator when l2 = 0 (s keeps s V inside it)."""
    excess = np.maximum(s[:, None] * np.abs(V) - l1[:, None], 0.0)
    penalty = np.where(l2 > 0, np.square(excess).sum(axis=1) / (2 * np.maximum(l2, 1e-300)), 0.0)
    return -(s * s * quadratic + s * linear) - penalty
