"""Sparse rows standardized: every column scaled, and the columns far from 0 centred too.

Centring a sparse column fills its zeros in, so sparse columns are scaled only, x / std, as
scikit-learn's StandardScaler(with_mean=False) does: except a column whose mean is more than
CENTRED_FROM = 4 standard deviations from 0. Such a column is stored in more than 16/17 of the rows
(its zeros alone would make the variance at least mean^2 (1/p - 1) for a share p of stored rows),
so filling its zeros in grows it by under 1/16. Scaled without centring, its values would sit at
mean / std +- 1 when rounded to float32: a raw 3e7 + N(0, 1) column stored in every row becomes
3.0e7 +- 1.4 in steps of 2, its noise (the signal) gone, and the column nearly collinear with the
bias for the solvers. Centred in float64 first, it is the user's own numbers that are fitted, as
for dense rows.

With a bias in the model the centring changes no prediction (the bias absorbs mean / std . w).
New rows (validation, test, predict) are centred by the training rows' means: a centred column is
filled in for them too.
"""
import numpy as np
import scipy.sparse as sp
import torch

from derivtrain.data.sparse import astype, from_scipy, scale_columns

CENTRED_FROM = 4.0


def sparse_means(mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """The means sparse standardization subtracts: a column's own where |mean| > 4 std, else 0."""
    return np.where(np.abs(mean) > CENTRED_FROM * scale, mean, 0.0)


def standardized_csr(A, mean: np.ndarray, scale: np.ndarray, dtype=torch.float32, device=None) -> torch.Tensor:
    """scipy sparse rows -> a torch CSR tensor (x - mean) / scale, worked in float64 and then rounded to
    dtype. Columns of mean 0 keep their nonzeros; a centred one is stored in every row."""
    A = A.tocsr()
    centred = np.flatnonzero(mean)
    if centred.size:
        A = _centred_columns(A, mean, centred)
    X = from_scipy(A, device=device, dtype=torch.float64)
    return astype(scale_columns(X, torch.as_tensor(1 / scale, dtype=torch.float64, device=X.device)), dtype)


def _centred_columns(A, mean: np.ndarray, centred: np.ndarray):
    """A (float64) with the `centred` columns minus their means, those columns stored in every row."""
    n, d = A.shape
    others = np.ones(d)
    others[centred] = 0.0
    kept = A.multiply(others).astype(np.float64)  # the other columns' entries (the centred ones 0, dropped below)
    block = A[:, centred].toarray().astype(np.float64) - mean[centred]  # (n, k), zeros included
    k = len(centred)
    filled = sp.csr_matrix((block.ravel(), np.tile(centred, n), np.arange(0, n * k + 1, k)), shape=(n, d))
    return (kept + filled).tocsr()  # scipy's sum keeps no zero (and sums duplicate entries)
