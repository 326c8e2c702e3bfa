"""The certificate's two passes over float32 rows, compiled (numba; built ahead of time by derivtrain/compiled).

Each float32 entry becomes a float64 exactly, so reading X in float32 and multiplying and summing in
float64 gives the float64 products the certificate needs (derivtrain/convex/passes.py) without
writing a float64 copy of each block first: one read of X a pass. Reassociation ("reassoc", with
"contract" for fused multiply-adds and "nsz", as derivtrain/losses/linear_svm_kernels.py) lets each
row's sums use vector instructions; the order is fixed by the compiled code, so a pass repeats its
numbers bit for bit. The flags that assume no NaN or infinity are left out: weights that diverged
still give a NaN certificate, never a finite one.
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


@njit(cache=True, nogil=True, fastmath=_FLAGS)
def backproject_rows(Gt, X, start, stop):
    """sum over rows start..stop of G_i x_i^T: (K, d) float64, for Gt = G^T (K, n) float64, X (n, d) float32."""
    K, d = Gt.shape[0], X.shape[1]
    out = np.zeros((K, d))
    for i in range(start, stop):
        row = X[i]
        for k in range(K):
            g = Gt[k, i]
            if g != 0.0:
                into = out[k]
                for j in range(d):
                    into[j] += g * row[j]
    return out
