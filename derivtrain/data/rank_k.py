"""X^T diag(w) X for dense rows as one symmetric rank-k update: the Hessian block of every
second-order step (derivtrain/trainer/linear_system.py).

With w >= 0 (a convex loss's curvature, an interior point's lambda / s) it is A^T A for the rows
scaled by sqrt(w), A = diag(sqrt(w)) X: a BLAS syrk, which computes one triangle, half the
multiply-adds of a general product. Measured on 100k x 51 float64, one thread of a 2-core AMD
EPYC (median of 7): X^T (X * w) in one call 55 ms, torch's A^T A in one call 54 ms (a product
with a 100k inner dimension blocks badly), in chunks of rows 23 ms, scipy's dsyrk on the same
chunks 13.6 ms (19 GFLOP/s; 200k x 101: 128 vs 78 ms). torch has no syrk: large products call
scipy's. Rows go in chunks of _CHUNK numbers: the scaled chunk is written and read back while it
is still in cache (4096 to 16384 rows of 51 were within 3% of each other; all rows at once 60%
slower), and no n x d temporary is made.

scipy.linalg costs ~0.25 s to import (measured here), so scipy's syrk is taken from a product
big enough that the import is repaid within a fit's few steps, and torch's chunked product below
it (and on a GPU). The choice depends on the problem's size alone, never on what happens to be
imported: the same rows take the same path in every process, so a resumed solve repeats the
uninterrupted one bit for bit. Weights of
both signs (the off-diagonal blocks of a multinomial Hessian, -p_k p_l) are split into their
positive and negative parts, a rank-k product each: at most a general product's multiply-adds.
"""
import torch

_CHUNK = 1 << 19  # numbers of X scaled at a time on the CPU (4 MB of float64: about L2's size)
_DEVICE_CHUNK = 1 << 24  # on a GPU one large product is best; chunks only bound the temporary
# n * p^2 from which one gram's saving (~38 ps per n p^2 unit, syrk over torch) over a fit's
# ~7 steps repays scipy.linalg's import
_IMPORT_PAYS = 1 << 30


def weighted_gram(X: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """X^T diag(weights) X, (p, p), for dense X (n, p) and weights (n,)."""
    n, p = X.shape
    weights = weights.to(X.dtype)
    if n == 0:
        return X.new_zeros(p, p)
    if not bool((weights >= 0).all()):  # two curvatures of one sign each: a syrk apiece, at most a product's work
        negative = (-weights).clamp_min(0)
        return _positive(X, weights.clamp_min(0)) - _positive(X, negative)
    return _positive(X, weights)


def _positive(X: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    n, p = X.shape
    if not bool((weights > 0).any()):
        return X.new_zeros(p, p)
    roots = weights.sqrt()
    if _blas_syrk(X, n * p * p):
        return _syrk(X, roots)
    rows = max(1, (_CHUNK if X.device.type == "cpu" else _DEVICE_CHUNK) // p)
    out = X.new_zeros(p, p)
    scaled = X.new_empty(min(rows, n), p)
    for a in range(0, n, rows):
        A = torch.mul(X[a:a + rows], roots[a:a + rows, None], out=scaled[:min(rows, n - a)])
        out.addmm_(A.T, A)
    return _mirrored(out)  # a general product's two triangles differ in rounding; Cholesky reads one


def _blas_syrk(X: torch.Tensor, work: int) -> bool:
    if X.device.type != "cpu" or X.dtype not in (torch.float64, torch.float32):
        return False
    return work >= _IMPORT_PAYS


def _syrk(X: torch.Tensor, roots: torch.Tensor) -> torch.Tensor:
    """sum over chunks of A^T A by scipy's BLAS, upper triangle accumulated in place, then mirrored."""
    import numpy as np
    from scipy.linalg import blas

    n, p = X.shape
    syrk = blas.dsyrk if X.dtype == torch.float64 else blas.ssyrk
    rows = max(1, _CHUNK // p)
    out = np.zeros((p, p), dtype=np.float64 if X.dtype == torch.float64 else np.float32, order="F")
    scaled = X.new_empty(min(rows, n), p)
    for a in range(0, n, rows):
        A = torch.mul(X[a:a + rows], roots[a:a + rows, None], out=scaled[:min(rows, n - a)]).numpy()
        # A is row-major (k, p), so A.T is a column-major (p, k) matrix: C += A.T (A.T)^T, no copy
        out = syrk(1.0, A.T, beta=1.0, c=out, trans=0, lower=0, overwrite_c=1)
    return _mirrored(torch.from_numpy(out))


def _mirrored(upper: torch.Tensor) -> torch.Tensor:
    """The symmetric matrix whose upper triangle is upper's."""
    return upper.triu() + upper.triu(1).T
