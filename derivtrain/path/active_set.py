"""min_u 1/2 u^T H u + q^T u + sum_j lam_j |u_j| by sign-pattern steps, from a warm start's support.

The L1 model of a path point (derivtrain/path/gram_path.py: a least-squares lasso on its Gram
matrix is exactly this problem) changes little from one strength to the next: the support and
signs of the last solution are usually the new one's, or one feature away. Coordinate descent
(derivtrain/trainer/l1_quadratic.py) pays a Python loop over every coordinate an epoch to
rediscover them; here a step solves the quadratic on the current support with its signs fixed
(one Cholesky of |S| x |S|) and moves toward that solution only as far as the objective keeps
falling, stopping at the first place a weight would cross zero when that is lower (feature-sign
search: Lee, Battle, Raina and Ng, NIPS 2006, written here from the paper's description). When
the support's solution is optimal for its signs, the coordinates off the support are checked
(|gradient_j| <= lam_j); the worst that is not enters with the sign that lowers the objective.
Every step lowers the objective, so the search ends; it is exact to rounding when it does.

`allowed`: the coordinates that may be non-zero (screening dropped the rest: they are certified
zero at the optimum). Returns None where a support's matrix does not factor (collinear columns
under a pure L1 penalty): the caller falls back to coordinate descent.
"""
import sys

import numpy as np

from derivtrain.trainer.l1_quadratic import solve_l1_quadratic

_MAX_STEPS = 200
_GUESSES = 4
_KKT_SLACK = 1e-9  # |gradient_j| up to lam_j (1 + this) counts as inside (rounding of H u + q)


def solve_active_set(H: np.ndarray, q: np.ndarray, lam: np.ndarray, u0: np.ndarray, allowed: np.ndarray):
    """(u, steps) or None. lam_j = 0 marks a free coordinate (the bias): always on the support."""
    free = lam == 0
    guessed = _guessed_support(H, q, lam, u0, allowed, free)
    if guessed is not None:  # the common case along a path, in a few array operations
        return guessed, 1
    u = np.where(allowed, u0, 0.0)
    slack = lam * (1 + _KKT_SLACK) + 1e-14 * np.abs(q).max(initial=0.0)
    for step in range(_MAX_STEPS):
        support = (u != 0) | (free & allowed)
        gradient = H @ u + q
        if not _support_optimal(gradient, lam, u, support, slack):
            signs = np.sign(u)
        else:  # off the support: the worst violator enters
            outside = np.abs(gradient) - slack
            outside[support | ~allowed] = -np.inf
            worst = int(np.argmax(outside))
            if outside[worst] <= 0:
                return u, step
            support[worst] = True
            signs = np.sign(u)
            signs[worst] = -np.sign(gradient[worst])
        moved = _sign_step(H, q, lam, u, support, signs, free)
        if moved is None:
            return None
        u = moved
    return None


def _guessed_support(H, q, lam, u0, allowed, free):
    """The optimum found by guessing its support (None when the guesses run out): solve on the
    support with its signs fixed; a weight whose sign flipped leaves, the weights off the support
    that break |gradient_j| <= lam_j enter with the sign that lowers the objective; again. Along a
    path the last support is right or one weight away, so one or two solves end it; the answer
    is only returned when every optimality condition holds. (Written in few array operations:
    at ~10 features each costs more than its arithmetic, and a path makes this call per point.)"""
    support, signs = allowed & ((u0 != 0) | free), np.sign(u0)
    floor = 1e-14 * np.abs(q).max(initial=0.0)
    for _ in range(_GUESSES):
        S = np.flatnonzero(support)
        rows = H[S]
        uS = _solve_positive(rows[:, S], -(q[S] + lam[S] * signs[S]))
        if uS is None:
            return None
        flipped = (np.sign(uS) != signs[S]) & ~free[S]
        if flipped.any():
            support[S[flipped]] = False
            continue
        gradient = uS @ rows + q  # H is symmetric: its rows S are its columns S
        excess = np.abs(gradient) - lam * (1 + _KKT_SLACK)
        excess[support | ~allowed] = 0.0
        if excess.max() <= floor:
            u = np.zeros_like(u0)
            u[S] = uS
            return u
        entering = excess > floor
        support |= entering
        signs = signs.copy()
        signs[entering] = -np.sign(gradient[entering])
    return None


def _solve_positive(A: np.ndarray, b: np.ndarray):
    """A^-1 b for a symmetric positive definite A (None when it is not). LAPACK's Cholesky solve
    where scipy is loaded already (an estimator's fit: scikit-learn loads it), ~4x less overhead
    than numpy's general solve on these few-by-few systems; numpy's otherwise, as scipy.linalg's
    import (~0.3 s) would cost a command-line run more than it saves. Either is exact to rounding,
    and a point's certificate is computed from its rows whichever solved it."""
    lapack = sys.modules.get("scipy.linalg.lapack")
    if lapack is not None:
        _, x, info = lapack.dposv(A, b)
        return x if info == 0 else None
    try:
        return np.linalg.solve(A, b)
    except np.linalg.LinAlgError:
        return None


def _support_optimal(gradient, lam, u, support, slack) -> bool:
    """The support's optimality conditions: gradient_j = -lam_j sign(u_j) on it (to rounding)."""
    inside = support & (u != 0)
    target = -lam[inside] * np.sign(u[inside])
    scale = np.abs(gradient[inside]).max(initial=0.0) + lam.max(initial=0.0) + 1e-300
    free = support & (lam == 0)
    return (np.all(np.abs(gradient[inside] - target) <= 1e-9 * scale)
            and np.all(np.abs(gradient[free]) <= slack[free] + 1e-9 * scale))


def _sign_step(H, q, lam, u, support, signs, free):
    """u moved toward the support's solution for `signs`, to the lowest of: that solution and each
    point on the way where a weight reaches zero; None when none is lower than u."""
    S = np.flatnonzero(support)
    HS, qS, lamS = H[np.ix_(S, S)], q[S], lam[S]
    target = _solve_positive(HS, -(qS + lamS * np.where(free, 0.0, signs)[S]))
    if target is None:  # singular: collinear columns on the support
        return None
    start = u[S]
    change = target - start
    crossing = (~free[S]) & (start != 0) & (np.sign(target) != np.sign(start))
    at = np.full(len(S), np.inf)
    at[crossing] = -start[crossing] / change[crossing]  # in (0, 1]: where weight k reaches zero
    best, best_value = None, _objective(HS, qS, lamS, start)
    for t in sorted(set(at[crossing]) | {1.0}):
        trial = start + t * change
        trial[at == t] = 0.0  # exactly zero where it reaches zero, not a rounding away
        value = _objective(HS, qS, lamS, trial)
        if value < best_value:
            best, best_value = trial, value
    if best is None:
        return None
    moved = u.copy()
    moved[S] = best
    return moved


def _objective(HS, qS, lamS, uS) -> float:
    return float(0.5 * uS @ (HS @ uS) + qS @ uS + lamS @ np.abs(uS))



def solve_together(H: np.ndarray, q: np.ndarray, lam: np.ndarray, U0: np.ndarray) -> tuple:
    """solve_active_set for K problems at once (the K folds of a cross-validated path at one
    strength: H (K, p, p), q, lam, U0 (K, p)): (U, steps (K,)). Each guess of the K supports is
    one batched solve (the coordinates off a problem's support get the identity's row: zero) and
    one batched check, so a guess costs about what one problem's does; a problem whose guesses
    run out is solved alone by the feature-sign search (coordinate descent where that fails)."""
    free = lam == 0
    support, signs = (U0 != 0) | free, np.sign(U0)
    floor = 1e-14 * np.abs(q).max(axis=1, initial=0.0)[:, None]
    U, done, steps = np.zeros_like(U0), np.zeros(len(U0), dtype=bool), np.ones(len(U0), dtype=int)
    diagonal = np.arange(U0.shape[1])
    for _ in range(_GUESSES):
        A = np.where(support[:, :, None] & support[:, None, :], H, 0.0)
        A[:, diagonal, diagonal] += ~support
        try:
            x = np.linalg.solve(A, np.where(support, -(q + lam * signs), 0.0)[:, :, None])[:, :, 0]
        except np.linalg.LinAlgError:  # a singular support in some problem: each alone
            break
        flipped = support & ~free & (np.sign(x) != signs)
        support &= ~flipped
        gradient = np.einsum("kp,kpq->kq", x, H) + q
        excess = np.abs(gradient) - lam * (1 + _KKT_SLACK)
        excess[support] = 0.0
        solved = ~flipped.any(axis=1) & (excess.max(axis=1) <= floor[:, 0]) & ~done
        U[solved], done = x[solved], done | solved
        if done.all():
            return U, steps
        entering = (excess > floor) & ~flipped.any(axis=1)[:, None]
        support |= entering
        signs = np.where(entering, -np.sign(gradient), signs)
    for k in np.flatnonzero(~done):
        found = solve_active_set(H[k], q[k], lam[k], U0[k], np.ones(U0.shape[1], dtype=bool))
        # collinear columns on a support: coordinate descent (l1_quadratic.py), exact to rounding too
        U[k], steps[k] = found if found is not None else (solve_l1_quadratic(H[k], q[k], lam[k], U0[k]), 1)
    return U, steps
