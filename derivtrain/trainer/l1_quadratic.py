"""min_u 1/2 u^T H u + c^T u + sum_j lam_j |u_j|: the model each proximal Newton step solves.

H is small and dense ((d + 1) x (d + 1); lam_j >= 0 per coordinate, 0 for the bias), so the problem is
solved to rounding rather than approximately, in two moves that repeat:

  coordinate descent   one epoch visits each coordinate: u_j <- S(u_j - q_j / H_jj, lam / H_jj)
                       with q = H u + c kept up to date (one column of H a move), S the soft
                       threshold. It finds which weights are zero and the signs of the others.
  the support's solve  with that sign pattern s fixed, the optimum on the support S solves the
                       linear system H_SS u_S = -(c_S + lam s_S) (one Cholesky of |S| x |S|); it
                       is the exact optimum when its signs agree with s and every weight off the
                       support has |q_j| <= lam (the optimality conditions), else more epochs.

Coordinate descent alone converges linearly, slowly on correlated columns (a 100k x 50 lasso with
correlation 0.8 between neighbouring columns took hundreds of epochs to a 1e-10 model gap); the
support's solve ends it in one step once the signs are right, typically after 2-30 epochs.
"""
import numpy as np

from derivtrain.compiled import kernel

_MAX_EPOCHS = 2000
# what a support solve costs against an epoch (_epochs_like_a_solve): its fixed part (scipy's calls:
# digits' 65 weights, 62 us), its Cholesky's s^3 / 3 flops at ~1e10 a second, and an epoch's cost a
# coordinate, Python's loop (~2 us) or the compiled one (digits: 2 us an epoch of 65, its call included)
_SOLVE_SECONDS, _CHOLESKY_FLOPS = 6e-5, 1e10
_COORDINATE_SECONDS = {"python": 2e-6, "compiled": 3e-8}
_SIGN_SEARCH_UP_TO = 256  # coordinates; above, each move's objective checks cost more than epochs


def solve_l1_quadratic(H: np.ndarray, c: np.ndarray, lam: np.ndarray, u: np.ndarray) -> np.ndarray:
    """The minimizer, from the start u (a copy is returned); lam: each coordinate's L1 coefficient
    (0: a coordinate without one, as the bias). H must be positive definite (a ridge, a curvature
    on every direction). The support's solve is tried whenever an epoch leaves the sign pattern as
    it found it (a solve costs ~5 epochs at 65 coordinates; trying every few epochs instead took
    2-3x longer on digits), once the epochs since the last failed one cost about what it did
    (_epochs_like_a_solve): a solve's Cholesky grows as |S|^3, and a sparse lasso's 1,458-weight
    support (alpha 1e-4, 20k x 2k tf-idf rows) spent 5 s in solves tried after every stable epoch,
    the pattern still changing."""
    u = u.astype(np.float64).copy()
    lam = np.ascontiguousarray(lam, dtype=np.float64)
    # compiled where derivtrain/compiled's module is already built (the same numbers: l1_epoch_kernel.py)
    run_epochs = kernel("l1_epochs", fallback=_epochs, build=False)
    # from a start with weights (every proximal Newton step after the first) sign-pattern moves where the
    # epochs are Python's; from zero coordinate descent finds the pattern faster (digits: 61 moves, 6-11
    # ms, against 40 epochs, 4.5), and compiled epochs (2 us for 65 coordinates) beat the moves' Cholesky
    # solves from any start (30 interleaved fits each: digits L1 logistic 21.2 -> 19.5 ms, lasso 6.9 ->
    # 6.8, 20k x 2k tf-idf rows 29.0 -> 28.2 and 20.1 -> 19.5)
    if run_epochs is _epochs and np.any(u[lam > 0] != 0):
        solved = feature_sign_search(H, c, lam, u)
        if solved is not None:
            return solved
    H = np.ascontiguousarray(H, dtype=np.float64)
    q = H @ u + c
    diag = np.diag(H).copy()
    pattern, next_solve, epoch = np.sign(u), 0, 0
    while True:  # epochs until the signs hold still (and a solve is due), then the support's solve
        epoch = run_epochs(H, q, u, diag, lam, pattern, epoch, _MAX_EPOCHS, next_solve)
        if epoch >= _MAX_EPOCHS:
            return u
        solved = _support_solve(H, c, lam, u)
        if solved is not None:
            return solved
        support = int(np.count_nonzero((lam == 0) | (u != 0)))
        next_solve = epoch + _epochs_like_a_solve(support, len(u), "python" if run_epochs is _epochs else "compiled")
        epoch += 1


def _epochs_like_a_solve(support: int, size: int, epochs: str) -> int:
    """About how many epochs cost what one support solve does: its fixed cost and its Cholesky's
    support^3 / 3 flops against an epoch over `size` coordinates (`epochs`: "python" or "compiled").
    Counted in epochs, not seconds, so that every run (every rank of trainer=ddp) takes the same
    steps. With compiled epochs a solve is worth ~30 of them on digits: tried after every stable
    epoch, as Python's epochs have it (their rule gives 0 there), the field bench's digits lasso took
    5.1 ms a fit and its L1 logistic 18.3 ms; by this rule 4.0-4.2 and 16.3-17.2 ms (medians of 15,
    three runs; a fixed 5 to 50 epochs measured within ~5 % of that)."""
    solve = _SOLVE_SECONDS + support ** 3 / (3 * _CHOLESKY_FLOPS)
    return int(solve / (size * _COORDINATE_SECONDS[epochs]))


def feature_sign_search(H, c, lam, u):
    """The minimizer by sign-pattern moves (Lee, Battle, Raina and Ng, NIPS 2006: "feature-sign
    search"; written here from the paper's description), or None where it does not apply (more
    than _SIGN_SEARCH_UP_TO coordinates), a support's system is singular, a move fails to lower the
    objective or the moves run out: then coordinate descent. A move solves the support's system
    for the current signs and walks toward its solution, stopping at the cheapest of the walk's end
    and the points where a weight crosses zero (that weight leaves). Once the support is solved,
    the zero weight whose gradient most exceeds its coefficient joins, signed to lower the
    objective. A proximal Newton step starts from the last iterate, whose support is nearly the
    answer: a few Cholesky solves where Python's coordinate descent took tens of epochs and trial
    solves (compiled epochs are cheaper still: solve_l1_quadratic)."""
    if len(u) > _SIGN_SEARCH_UP_TO:
        return None
    u, solved = u.copy(), False
    value = _objective(H, c, lam, u)
    for _ in range(2 * len(u) + 10):
        signs = np.where(lam > 0, np.sign(u), 0.0)
        active = (lam == 0) | (u != 0)
        if solved:  # the support's own optimum: done unless a zero weight's condition fails
            q = H @ u + c
            off = np.where(active, 0.0, np.abs(q) - _slack(lam, c))
            j = int(np.argmax(off))
            if off[j] <= 0.0:
                return u
            active[j], signs[j] = True, -np.sign(q[j])
        target = _positive_definite_solve(H[np.ix_(active, active)], -(c[active] + lam[active] * signs[active]))
        if target is None:
            return None
        u, new_value, solved = _cheapest_on_the_way(H, c, lam, u, active, target, signs[active])
        if not new_value <= value + 1e-12 * abs(value):  # no decrease beyond rounding: a cycle's start
            return None
        value = new_value
    return None


def _cheapest_on_the_way(H, c, lam, u, active, target, assumed):
    """(point, objective, whether it is the support's optimum): of the walk from u to `target` on the
    support, its end and each point where a weight crosses zero (that weight set to exactly zero
    there), the one of least objective. The target is the support's optimum when every penalized
    weight has the sign its system assumed (a weight that just joined may come out the other way)."""
    start = u[active]
    agrees = bool(np.all((np.sign(target) == assumed) | (lam[active] == 0)))
    crossing = np.flatnonzero((start != 0) & (np.sign(target) != np.sign(start)))
    fractions = start[crossing] / (start[crossing] - target[crossing])
    best = (None, np.inf, False)
    for i, t in enumerate(np.append(fractions, 1.0)):
        inside = start + t * (target - start)
        if i < len(crossing):
            inside[crossing[i]] = 0.0
        candidate = u.copy()
        candidate[active] = inside
        value = _objective(H, c, lam, candidate)
        if value < best[1]:
            best = (candidate, value, i == len(crossing) and agrees)
    return best


def _objective(H, c, lam, u) -> float:
    return float(0.5 * u @ H @ u + c @ u + lam @ np.abs(u))


def _epochs(H, q, u, diag, threshold, pattern, start: int, stop: int, next_solve: int) -> int:
    """Python's l1_epoch_kernel.l1_epochs: epochs from `start` until one leaves the signs as `pattern`
    (kept in place) had them at an epoch >= next_solve; that epoch, or stop."""
    for epoch in range(start, stop):
        _epoch(H, q, u, diag, threshold)
        now = np.sign(u)
        stable = np.array_equal(now, pattern)
        pattern[:] = now
        if stable and epoch >= next_solve:
            return epoch
    return stop


def _epoch(H, q, u, diag, threshold) -> None:
    # the scalars as Python floats: numpy's per-element arithmetic was a quarter of an epoch (51
    # coordinates: 0.10 -> 0.074 ms, the same numbers)
    diag_list, threshold_list = diag.tolist(), threshold.tolist()
    for j in range(len(u)):
        d = diag_list[j]
        if d <= 0:
            continue
        old = u[j]
        step, cut = old - q[j] / d, threshold_list[j] / d
        new = step - cut if step > cut else (step + cut if step < -cut else 0.0)  # the soft threshold
        if new != old:
            q += H[j] * (new - old)  # H is symmetric: its row j is its column j
            u[j] = new


def _support_solve(H, c, lam, u):
    """The exact optimum for u's sign pattern, or None when it is not the optimum."""
    support = (lam == 0) | (u != 0)
    signs = np.where(lam > 0, np.sign(u), 0.0)[support]
    inside = _positive_definite_solve(H[np.ix_(support, support)], -(c[support] + lam[support] * signs))
    if inside is None:
        return None
    if np.any((inside * signs) < 0):  # a weight crossed zero: the pattern was wrong
        return None
    out = np.zeros_like(u)
    out[support] = inside
    q = H @ out + c
    off = ~support
    return out if np.all(np.abs(q[off]) <= _slack(lam[off], c)) else None


def _positive_definite_solve(A, b):
    """A^-1 b by A's Cholesky factor and two triangular solves, or None where A is not positive
    definite. (numpy's general solve on each triangle was an LU factorization each: a 1,458-weight
    support of a sparse lasso took 20 ms a solve instead of 6.)"""
    from scipy.linalg import cho_factor, cho_solve

    try:
        return cho_solve(cho_factor(A, lower=True, check_finite=False), b, check_finite=False)
    except np.linalg.LinAlgError:
        return None


def _slack(lam, c):
    """How far |q_j| of a zero weight may exceed lam_j for rounding alone and still count as optimal."""
    return lam * (1 + 1e-9) + 1e-14 * np.abs(c).max(initial=0.0)
