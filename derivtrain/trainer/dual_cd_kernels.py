"""One epoch of dual coordinate descent for the L2-regularized hinge or squared hinge on CSR or dense
rows (Hsieh, Chang, Lin, Keerthi and Sundararajan 2008, the method of LIBLINEAR's dual solvers),
compiled by numba: a coordinate step is a few dozen flops, so a Python loop over rows would cost
100x the arithmetic.

In LIBLINEAR's units (derivtrain/trainer/dual_cd.py maps derivtrain's objective onto them) the dual is

    min_beta  1/2 ||w(beta)||^2 + 1/2 sum_i d_i beta_i^2 - sum_i beta_i (1 - y_i o),   0 <= beta_i <= u_i
    w(beta) = sum_i beta_i y_i x~_i,      x~_i = [x_i, B]   (the bias's column, B = `scale`)

with o the bias's proximal centre (`offset`; scores are w . x~_i + o). The hinge: u_i = c_i / alpha,
d_i = 0 (`shift` None); the squared hinge: u_i = inf, d_i = alpha / (2 c_i) (`shift`: its loss's
curvature seen from the dual, LIBLINEAR's D_ii = 1 / (2C)). One coordinate's problem is a parabola on a box:
beta_i <- clip(beta_i - G / (||x~_i||^2 + d_i), 0, u_i), G = y_i z_i - 1 + d_i beta_i its
derivative, then w moves along the row. w is kept in place, so a step reads and writes only the
row's nonzeros.

Shrinking (LIBLINEAR's, section 3.2 of the paper): a row at a bound of its box whose gradient points
out of the box by more than the largest projected gradient of the last epoch is set aside (moved past
the rows kept, `active[:n_active]` after the epoch) until the fitter next visits every row. The rows
kept keep their order and the epoch goes on in it, where LIBLINEAR swaps the last active row into the
set-aside one's place and visits it next: that jumped from the order's end, where the rows ahead were
prefetched (_AHEAD) and, over many rows, visited in memory order (dual_cd_order.py). Measured on the
1M-row run's epochs (875k x 100 dense): the epoch after one over every row, which sets half the rows
aside or more, 313 -> 108 ms; the fit 2.62-2.77 -> 2.46-2.55 s (three fresh processes each,
alternating). Most hinge rows sit at a bound (well classified: beta = 0; inside the margin: beta =
u), so after a few epochs an epoch visits a few percent of the rows (20k tf-idf rows: ~1,200 of them,
0.2 ms an epoch instead of 2-3). An epoch over every row (old_high = inf, old_low = -inf) sets none
aside.

Each epoch also returns what it saw on the way, for free: the projected gradient's largest and
least values (LIBLINEAR's stopping signal) and sum_i c_i l_i at the scores it met each row with (w
moves during the epoch, so an estimate of the loss, exact once w stops moving; only an epoch over
every row sees every loss): the fitter certifies with a pass of its own only when they say the
gap may be within tol.

The rows are visited in a random order (over many rows, blocks of rows in a random order:
dual_cd_order.py), so each visit starts with cache misses (the row, and its
entries of y, c, the diagonal, the bound and beta), and a visit's dependent arithmetic keeps about one
row's misses in flight. The row _AHEAD visits on is prefetched (derivtrain/compiled/prefetch.py), and
its own numbers too where their arrays outgrow the caches (`far`: dual_cd.py's _FAR_ROWS). Measured,
one thread: 875k x 100 dense, an epoch over every row 384 -> 184 ms; the default run's fit (optim=auto,
135 epochs) 4.4-4.7 -> 2.9-3.0 s; 140k x 100k standardized tf-idf rows, 273 epochs, 13.1-13.5 -> 6.0-6.4
s (LinearSVC: 11.9 s); 20k x 2k tf-idf rows to a 1e-3 gap, 0.020-0.021 s either way (prefetching
their numbers, which stay in cache, cost 15-25 %). The prefetches are separate small functions: folded
into one with a branch on the layout, the 20k x 2k fit took 0.026 s.
"""
import numpy as np
from numba import njit

from derivtrain.compiled.prefetch import prefetch

# visits ahead whose row is prefetched (measured: the module's docstring)
_AHEAD = 4


@njit(cache=True, nogil=True)
def _visit(i, score, y, c, qdiag, upper, shift, beta, offset, old_high, old_low):
    """Row i's coordinate step at its score: (change of beta_i, projected gradient, loss, set aside?).
    shift None: the hinge, a branch numba removes where it compiles for None (a branch kept, never
    taken, cost the hinge's dense epochs 15%: 875k x 100, 410 -> 475 ms)."""
    margin = 1.0 - y[i] * (score + offset)
    loss = c[i] * margin if margin > 0.0 else 0.0
    G = -margin
    old = beta[i]
    if shift is not None:  # the squared hinge: c_i margin^2, and the dual's d_i beta_i
        loss *= max(margin, 0.0)
        G += shift[i] * old
    pg = G
    if old == 0.0:
        if G > old_high:
            return 0.0, 0.0, loss, True
        pg = min(G, 0.0)
    elif old == upper[i]:
        if G < old_low:
            return 0.0, 0.0, loss, True
        pg = max(G, 0.0)
    if pg == 0.0:
        return 0.0, 0.0, loss, False
    new = min(max(old - G / qdiag[i], 0.0), upper[i])
    beta[i] = new
    return new - old, pg, loss, False


@njit(cache=True, nogil=True)
def _keep(active, kept, s):
    """Moves the row visited at s to the end of the rows kept so far, active[:kept], and the row set aside
    that held that place (if any) to s: the kept rows stay in their order, the set-aside ones gather in
    active[kept:s + 1]. The new count of rows kept."""
    active[kept], active[s] = active[s], active[kept]
    return kept + 1


@njit(cache=True, nogil=True)
def _prefetch_csr(i, indptr, pairs):
    """Asks for CSR row i's (column, value) pairs ahead of its visit (derivtrain/compiled/prefetch.py says
    why), 4 pairs a 64-byte line."""
    for k in range(indptr[i], indptr[i + 1], 4):
        prefetch(pairs, k)


@njit(cache=True, nogil=True)
def _prefetch_dense(i, values, width):
    """The same for a dense row of float64 values, 8 a line."""
    for k in range(i * width, i * width + width, 8):
        prefetch(values, k)


@njit(cache=True, nogil=True)
def _prefetch_numbers(i, y, c, qdiag, upper, beta):
    """The same for row i's own numbers (arrays too long to stay in cache: `far`)."""
    prefetch(y, i)
    prefetch(c, i)
    prefetch(qdiag, i)
    prefetch(upper, i)
    prefetch(beta, i)


@njit(cache=True, nogil=True)
def run_epoch(indptr, pairs, values, width, y, c, qdiag, upper, shift, beta, w, scale, offset, active, n_active,
              old_high, old_low, far):
    """One pass over the rows active[:n_active], in that order; returns (largest and least projected
    gradient, rows still active: active[:that] after the pass, in the order they were visited, loss
    seen). Rows of a CSR matrix (indptr, and `pairs`: each stored value beside its column,
    derivtrain/trainer/dual_cd.py: PAIR; width 0), or of a dense C-contiguous
    one (`values` row after row, width its columns; indptr and pairs unread): one loop for both, the
    branch on `width` measured free (the same time per epoch as a kernel of each kind: 20k x 2k
    tf-idf rows, 100k x 50 dense). A column index beside its value (LIBLINEAR's layout) is one cache
    miss where a row starts, not two: 140k x 100k standardized tf-idf rows, the epochs of a whole fit
    15.2-15.6 s -> 12.5-13.5 s (strided views of the same buffer as two arrays: 15.2 s)."""
    p = w.shape[0] - 1
    high, low, loss, kept = -np.inf, np.inf, 0.0, 0
    dense = width > 0
    for s in range(n_active):
        if s + _AHEAD < n_active:
            ahead = active[s + _AHEAD]
            if dense:
                _prefetch_dense(ahead, values, width)
            else:
                _prefetch_csr(ahead, indptr, pairs)
            if far:
                _prefetch_numbers(ahead, y, c, qdiag, upper, beta)
        i = active[s]
        start, end = (i * width, i * width + width) if dense else (indptr[i], indptr[i + 1])
        score = scale * w[p]
        if dense:
            for k in range(start, end):
                score += values[k] * w[k - start]
        else:
            for k in range(start, end):
                score += pairs[k].v * w[pairs[k].j]
        change, pg, seen, aside = _visit(i, score, y, c, qdiag, upper, shift, beta, offset, old_high, old_low)
        loss += seen
        if aside:
            continue
        kept = _keep(active, kept, s)
        high, low = max(high, pg), min(low, pg)
        if change != 0.0:
            move = change * y[i]
            if dense:
                for k in range(start, end):
                    w[k - start] += move * values[k]
            else:
                for k in range(start, end):
                    w[pairs[k].j] += move * pairs[k].v
            w[p] += move * scale
    return high, low, kept, loss
