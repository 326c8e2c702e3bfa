"""The compiled row loop of derivtrain/losses/linear_svm_compiled.py (numba; its docstring says why).

Reassociation (fastmath's "reassoc", with "contract" for fused multiply-adds and "nsz") lets numba
turn each row's dot product and the row's addition into A^T X into vector instructions: without
it a float sum is kept in source order, one lane at a time (875k x 100 float32 rows: 64.9 ms a pass
against 18.8 ms; all of fastmath's flags, 17.8 ms). The flags that assume no NaN or infinity are
left out, so diverging weights still give an infinite or NaN loss that the gradient loop's guard
sees. The order is fixed by the compiled code, so a run repeats its numbers bit for bit.
"""
import numpy as np
from numba import njit


@njit(cache=True, fastmath={"reassoc", "contract", "nsz"}, nogil=True)
def hinge_rows(X, signs, W, b, start, stop):
    """Rows start..stop of X (n, d): (sum of their margins max(0, 1 - y s), A^T [X | 1] (K, d + 1)),
    A = y where the margin is violated, else 0 (the kink: 0); A^T X accumulated in X's dtype."""
    K, d = W.shape
    product = np.zeros((K, d + 1), dtype=X.dtype)
    total = 0.0
    for i in range(start, stop):
        row = X[i]
        for k in range(K):
            w = W[k]
            score = row[0] * 0
            for j in range(d):
                score += row[j] * w[j]
            y = signs[i, k]
            margin = 1.0 - y * (score + b[k])
            if margin > 0.0:
                total += margin
                violated = product[k]
                for j in range(d):
                    violated[j] += y * row[j]
                violated[d] += y
    return total, product
