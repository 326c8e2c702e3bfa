"""The compiled row loop of derivtrain/losses/linear_svm_compiled.py (numba; its docstring says why).

Reassociation (fastmath's "reassoc", with "contract" for fused multiply-adds and "nsz") lets numba
turn each row's dot product and the row's addition into A^T X into vector instructions: without
it a float sum is kept in source order, one lane at a time (875k x 100 float32 rows: 64.9 ms a pass
against 18.8 ms; all of fastmath's flags, 17.8 ms). The flags that assume no NaN or infinity are
left out, so diverging weights still give an infinite or NaN loss that the gradient loop's guard
sees. The order is fixed by the compiled code, so a run repeats its numbers bit for bit.

Rows go four at a time, and whether a row's margin is violated is a value (y or 0), not a branch.
A branch on it is a coin toss where the weights are far from zero (about half the rows on each
side, in random order), and one row's score was a float64 sum of float32 products: half the vector
width and a conversion per product. Four rows' scores in X's dtype (as the BLAS products before it
had them) share each load of w, and their addition into A^T X is one load and store of it, not
four. Measured on 2 threads of an Intel Xeon (AVX-512), alternating with the one-row loop, median
of 7: 875k x 100 float32, one score column 23.6 -> 20.7 ms (a float32 sum of X: 12.3 ms), three
columns 40.4 -> 27.6 ms; 100k x 64 with ten columns 8.0 -> 4.3 ms. In whole full-batch runs
(optim=sgd, 30 epochs on 875k x 100) the pass went 29 -> 19.4 ms an epoch, the fit 0.893 -> 0.781 s.
"""
import numpy as np
from numba import njit


_FLAGS = {"reassoc", "contract", "nsz"}


@njit(cache=True, fastmath=_FLAGS, nogil=True)
def _violation(y, score, zero):
    """(a, the margin's part of the loss) of one row and column: (y, 1 - y s) where the margin is
    violated, else (0, 0) (the kink: 0), as values rather than a branch, so rows on either side of
    the margin in random order cost the same."""
    margin = 1.0 - y * score
    violated = margin > 0.0
    return (y if violated else zero), (margin if violated else 0.0)


@njit(cache=True, fastmath=_FLAGS, nogil=True)
def hinge_rows(X, signs, W, b, start, stop):
    """Rows start..stop of X (n, d): (sum of their margins max(0, 1 - y s), A^T [X | 1] (K, d + 1)),
    A = y where the margin is violated, else 0 (the kink: 0); scores and A^T X in X's dtype."""
    K, d = W.shape
    product = np.zeros((K, d + 1), dtype=X.dtype)
    zero = product[0, 0]  # a zero of X's dtype: sums started from it stay in that dtype
    total = 0.0
    grouped = start + (stop - start) // 4 * 4
    for i in range(start, grouped, 4):  # four rows at a time: one pass over w and over A^T X serves four
        r0, r1, r2, r3 = X[i], X[i + 1], X[i + 2], X[i + 3]
        for k in range(K):
            w = W[k]
            s0 = s1 = s2 = s3 = zero
            for j in range(d):
                s0 += r0[j] * w[j]
                s1 += r1[j] * w[j]
                s2 += r2[j] * w[j]
                s3 += r3[j] * w[j]
            a0, m0 = _violation(signs[i, k], s0 + b[k], zero)
            a1, m1 = _violation(signs[i + 1, k], s1 + b[k], zero)
            a2, m2 = _violation(signs[i + 2, k], s2 + b[k], zero)
            a3, m3 = _violation(signs[i + 3, k], s3 + b[k], zero)
            total += m0 + m1 + m2 + m3
            if a0 != 0 or a1 != 0 or a2 != 0 or a3 != 0:
                violated = product[k]
                for j in range(d):
                    violated[j] += a0 * r0[j] + a1 * r1[j] + a2 * r2[j] + a3 * r3[j]
                violated[d] += a0 + a1 + a2 + a3
    for i in range(grouped, stop):  # the last rows of the range, one at a time
        row = X[i]
        for k in range(K):
            w = W[k]
            score = zero
            for j in range(d):
                score += row[j] * w[j]
            a, margin = _violation(signs[i, k], score + b[k], zero)
            total += margin
            if a != 0:
                violated = product[k]
                for j in range(d):
                    violated[j] += a * row[j]
                violated[d] += a
    return total, product
