"""The certificate's two passes over float32 rows, compiled (numba; built ahead of time by derivtrain/compiled).

Each float32 entry becomes a float64 exactly, so reading X in float32 and multiplying and summing in
float64 gives the float64 products the certificate needs (derivtrain/convex/passes.py) without
writing a float64 copy of each block first: one read of X a pass. Reassociation ("reassoc", with
"contract" for fused multiply-adds and "nsz", as derivtrain/losses/linear_svm_kernels.py) lets each
row's sums use vector instructions; the order is fixed by the compiled code, so a pass repeats its
numbers bit for bit. The flags that assume no NaN or infinity are left out: weights that diverged
still give a NaN certificate, never a finite one.

CSR rows with float32 values get the same two passes on their own three arrays (csr_scores_rows,
csr_backproject_rows), where scipy's products needed the values copied to float64 block by block.
"""
import numpy as np
from numba import njit

_FLAGS = {"reassoc", "contract", "nsz"}


@njit(cache=True, nogil=True, fastmath=_FLAGS)
def scores_rows(X, W, b, out, start, stop):
    """out[i] = W x_i + b for rows start..stop of X (n, d) float32; W (K, d), b (K,), out (n, K) float64."""
    K, d = W.shape
    for i in range(start, stop):
        row = X[i]
        for k in range(K):
            w = W[k]
            total = 0.0
            for j in range(d):
                total += row[j] * w[j]
            out[i, k] = total + b[k]
    return stop - start


_GROUP = 4  # rows backprojected together: each float64 partial sum of V is then loaded and stored once for four


@njit(cache=True, nogil=True, fastmath=_FLAGS)
def backproject_rows(Gt, X, start, stop):
    """sum over rows start..stop of G_i x_i^T: (K, d) float64, for Gt = G^T (K, n) float64, X (n, d) float32.

    Four rows at a time: their float32 entries made float64 once into a small buffer (not once per
    score column), then each column's partial sums updated once for the four (a load and a store of
    V's row per four rows, not per row). Measured on 875k x 100 rows, four columns (the hinge's four
    barrier widths), one thread: 49-50 ms a row at a time, 30 ms this way; a float32 sum of X 15 ms."""
    K, d = Gt.shape[0], X.shape[1]
    out = np.zeros((K, d))
    rows = np.empty((_GROUP, d))
    i = start
    while i + _GROUP <= stop:
        for r in range(_GROUP):
            source, into = X[i + r], rows[r]
            for j in range(d):
                into[j] = source[j]
        r0, r1, r2, r3 = rows[0], rows[1], rows[2], rows[3]
        for k in range(K):
            g0, g1, g2, g3 = Gt[k, i], Gt[k, i + 1], Gt[k, i + 2], Gt[k, i + 3]
            if g0 != 0.0 or g1 != 0.0 or g2 != 0.0 or g3 != 0.0:
                into = out[k]
                for j in range(d):
                    into[j] += (g0 * r0[j] + g1 * r1[j]) + (g2 * r2[j] + g3 * r3[j])
        i += _GROUP
    for i in range(i, stop):  # the last rows, fewer than four
        row = X[i]
        for k in range(K):
            g = Gt[k, i]
            if g != 0.0:
                into = out[k]
                for j in range(d):
                    into[j] += g * row[j]
    return out


@njit(cache=True, nogil=True, fastmath=_FLAGS)
def csr_scores_rows(indptr, indices, values, W, b, out, start, stop):
    """out[i] = W x_i + b for the CSR rows start..stop (indptr, indices, values float32: X's own arrays);
    W (K, d), b (K,), out (n, K) float64. Each row's stored entries are read once for all K columns."""
    K = W.shape[0]
    for i in range(start, stop):
        first, last = indptr[i], indptr[i + 1]
        for k in range(K):
            w = W[k]
            total = 0.0
            for p in range(first, last):
                total += values[p] * w[indices[p]]
            out[i, k] = total + b[k]
    return stop - start


@njit(cache=True, nogil=True, fastmath=_FLAGS)
def csr_backproject_rows(Gt, first, indptr, indices, values, d, start, stop):
    """sum over the CSR rows start..stop of G_i x_i^T: (K, d) float64, for Gt = G^T (K, m) float64 whose
    column i - first is row i's (values float32, each made float64 exactly). The sums are kept
    column-major, (d, K), while they are added: a stored entry's K sums then lie side by side, in one
    cache line, where K rows of d sums would take K lines a row (scipy's own layout for G^T X)."""
    K = Gt.shape[0]
    sums = np.zeros((d, K))
    g = np.empty(K)
    for i in range(start, stop):
        nothing = True
        for k in range(K):
            g[k] = Gt[k, i - first]
            nothing = nothing and g[k] == 0.0
        if nothing:  # (the hinge's rows outside every margin)
            continue
        for p in range(indptr[i], indptr[i + 1]):
            into, value = sums[indices[p]], values[p]
            for k in range(K):
                into[k] += g[k] * value
    out = np.empty((K, d))
    for j in range(d):
        for k in range(K):
            out[k, j] = sums[j, k]
    return out
