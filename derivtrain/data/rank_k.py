"""X^T diag(w) X for dense rows as one symmetric rank-k update: the Hessian block of every
second-order step (derivtrain/trainer/linear_system.py).

With w >= 0 (a convex loss's curvature, an interior point's lambda / s) it is A^T A for the rows
scaled by sqrt(w), A = diag(sqrt(w)) X: a BLAS syrk, which computes one triangle, half the
multiply-adds of a general product. torch has no syrk; numpy's matmul calls one when it sees a
matrix times its own transpose (A.T @ A on the same buffer), so the CPU path hands each chunk to
numpy (no copy: torch.Tensor.numpy shares the memory) and no scipy.linalg import (~0.25 s) is
needed. Measured on 100k x 51 float64, one thread of a 2-core machine, median of 9: torch's
chunked A^T A 38 ms, numpy's syrk on the same chunks 23 ms, scipy's dsyrk 22 ms. Rows go in
chunks of _CHUNK numbers: the scaled chunk is written and read back while it is still in cache
(4096 to 16384 rows of 51 were within 3% of each other; all rows at once 60% slower), and no
n x d temporary is made. numpy's BLAS (OpenBLAS) keeps its own thread pool: it gets as many
threads as torch has (derivtrain/threads.py: one on a small problem or a busy machine).

Small products (below _BLAS_FROM multiply-adds: breast_cancer-sized) stay in torch, one call; the
choice depends on the problem's size alone, never on what happens to be imported: the same rows take
the same path in every process, so a resumed solve repeats the uninterrupted one bit for bit.
Weights of both signs (the off-diagonal blocks of a multinomial Hessian, -p_k p_l) are split
into their positive and negative parts, a rank-k product each: at most a general product's
multiply-adds.
"""
import numpy as np
import torch

_CHUNK = 1 << 19  # numbers of X scaled at a time on the CPU (4 MB of float64: about L2's size)
_DEVICE_CHUNK = 1 << 24  # on a GPU one large product is best; chunks only bound the temporary
# n * p^2 from which numpy's syrk takes the product. Whole estimator fits, one thread, medians of 9 (stop 39):
# digits (7.6M) logistic 11.0 -> 9.7 ms, squared hinge 10.5 -> 9.5, svm 21.8 -> 19.6 with syrk; breast_cancer
# (0.47M) svm 9.7 -> 10.0, logistic 7.3 -> 7.6 (the call's fixed cost): below 2^21, torch's one product
_BLAS_FROM = 1 << 21
_GATHER_BELOW = 0.75  # share of rows with a curvature under which only those rows are read (_positive)


def weighted_gram(X: torch.Tensor, weights: torch.Tensor, dtype: torch.dtype | None = None) -> torch.Tensor:
    """X^T diag(weights) X, (p, p), for dense X (n, p) and weights (n,); in `dtype` (None: X's), each
    chunk of scaled rows rounded to it as it is written (a preconditioner's blocks in float32: no copy of X)."""
    n, p = X.shape
    weights, dtype = weights.to(X.dtype), dtype or X.dtype
    if n == 0:
        return X.new_zeros(p, p, dtype=dtype)
    if not bool((weights >= 0).all()):  # two curvatures of one sign each: a syrk apiece, at most a product's work
        negative = (-weights).clamp_min(0)
        return _positive(X, weights.clamp_min(0), dtype) - _positive(X, negative, dtype)
    return _positive(X, weights, dtype)


def _positive(X: torch.Tensor, weights: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    n, p = X.shape
    if X.device.type == "cpu" and n * p <= _CHUNK and not _blas_syrk(X, n * p * p):
        # small rows (breast_cancer's): one scaling and one product. Counting and gathering the rows of
        # zero curvature is two host reads and a few kernels, more than the product they would shorten:
        # 455 x 31, one thread, 108 -> 66 us (an interior-point fit factors ~11 of these); the
        # breast_cancer grid search of scripts/bench_estimator.py, 9 alternating runs in one process,
        # medians 248.6 -> 236.7 and 228.5 -> 218.1 ms in two sessions
        A = torch.mul(X, weights.sqrt()[:, None]).to(dtype)
        return _mirrored(A.T @ A)
    positive = weights > 0
    count = int(positive.sum())
    if count == 0:
        return X.new_zeros(p, p, dtype=dtype)
    # rows of zero curvature add nothing (a squared hinge's rows past the margin, a hinge's in its flat
    # part): where they are many, only the others are read, gathered chunk by chunk into the buffer
    # that scales them anyway (squared hinge fits to 1e-3, medians of 30 and 5 interleaved: digits 10.4 ->
    # 9.7 ms, 100k x 50 174 -> 158 ms)
    taken = torch.nonzero(positive).squeeze(1) if count <= _GATHER_BELOW * n else None
    roots = (weights if taken is None else weights[taken]).sqrt()
    if _blas_syrk(X, count * p * p):
        return _syrk(X, roots[:, None], dtype, taken)[0]
    rows = max(1, (_CHUNK if X.device.type == "cpu" else _DEVICE_CHUNK) // p)
    out = X.new_zeros(p, p, dtype=dtype)
    scaled = X.new_empty(min(rows, len(roots)), p, dtype=dtype)
    for a in range(0, len(roots), rows):
        A = _scaled_chunk(X, roots[a:a + rows, None], scaled, a, taken)
        out.addmm_(A.T, A)
    return _mirrored(out)  # a general product's two triangles differ in rounding; Cholesky reads one


def _scaled_chunk(X: torch.Tensor, roots: torch.Tensor, buffer: torch.Tensor, a: int, taken) -> torch.Tensor:
    """diag(roots) times rows a.. of X (taken: the indices of the rows to read; None: every row), written
    into the first len(roots) rows of buffer."""
    out = buffer[:len(roots)]
    if taken is None:
        return torch.mul(X[a:a + len(roots)], roots, out=out)
    if X.dtype == buffer.dtype:
        torch.index_select(X, 0, taken[a:a + len(roots)], out=out)
        return out.mul_(roots)
    return torch.mul(X.index_select(0, taken[a:a + len(roots)]), roots, out=out)


def _blas_syrk(X: torch.Tensor, work: int) -> bool:
    if X.device.type != "cpu" or X.dtype not in (torch.float64, torch.float32):
        return False
    return work >= _BLAS_FROM


def float32_keeps(X: torch.Tensor, rows: int = 4096, ratio: float = 100.0) -> bool:
    """Whether every column's mean is within `ratio` of its spread, read off every k-th row (at most
    `rows` of them): then float32's rounding of an entry is ~1e-5 of the column's variation or less,
    and blocks summed from float32 rows only shape a step. A raw 3e7 + N(0, 1) column (standardize=
    False) keeps none of its variation in float32's 7 digits: such rows keep their own precision."""
    sample = X[::max(1, len(X) // rows)].double()
    mean = sample.mean(dim=0)
    # the spread by centring in two passes: torch's std along dim 0 took 0.65 ms on digits' 1,797 x 65
    # rows, these three kernels 0.1 (a small Newton fit asks once, ~5 % of its time)
    spread = (sample - mean).square_().mean(dim=0).sqrt_()
    return bool((mean.abs() <= ratio * spread).all())


def weighted_grams(X: torch.Tensor, weights: torch.Tensor, dtype: torch.dtype | None = None) -> torch.Tensor:
    """X^T diag(weights[:, k]) X for each column k of weights (n, K): (K, p, p), in `dtype` (None:
    X's). Curvatures of one sign on numpy's syrk go in one call (one thread limit, one buffer: the
    10 float32 blocks of digits' 1,797 x 65 rows, a softmax Newton step's preconditioner, 3.1 -> 2.3
    ms with the whole LinearSystem._blocks); others column by column (weighted_gram)."""
    n, p = X.shape
    weights, dtype = weights.to(X.dtype), dtype or X.dtype
    if n == 0 or not _blas_syrk(X, n * p * p) or not bool((weights >= 0).all()):
        return torch.stack([weighted_gram(X, weights[:, k], dtype) for k in range(weights.shape[1])])
    return _syrk(X, weights.sqrt(), dtype)


def _syrk(X: torch.Tensor, roots: torch.Tensor, dtype: torch.dtype, taken=None) -> torch.Tensor:
    """For each column r of roots (n, K), the sum over chunks of A^T A, A = diag(r) X, by numpy's
    syrk (A.T @ A: both triangles, exactly symmetric): (K, p, p). taken: the rows of X that roots
    are for (None: every row)."""
    n, p = len(roots), X.shape[1]
    rows = max(1, _CHUNK // p)
    scaled = X.new_empty(min(rows, n), p, dtype=dtype)
    out = np.zeros((roots.shape[1], p, p), dtype=scaled.numpy().dtype)
    with _blas_threads(torch.get_num_threads()):
        for k in range(roots.shape[1]):
            for a in range(0, n, rows):
                A = _scaled_chunk(X, roots[a:a + rows, k, None], scaled, a, taken).numpy()
                out[k] += A.T @ A  # A.T is A's own buffer read column-major: numpy's matmul takes syrk
    return torch.from_numpy(out)


_blas = []  # numpy's BLAS thread pool, found once (threadpoolctl: ~1 ms to look up, ~5 us a limit)


def _blas_threads(threads: int):
    """At most `threads` threads for numpy's BLAS inside the block (nothing where threadpoolctl,
    scikit-learn's dependency, is missing)."""
    if not _blas:
        try:
            from threadpoolctl import ThreadpoolController

            _blas.append(ThreadpoolController().select(user_api="blas"))
        except ImportError:
            _blas.append(None)
    if _blas[0] is None:
        from contextlib import nullcontext

        return nullcontext()
    return _blas[0].limit(limits=threads)


def _mirrored(upper: torch.Tensor) -> torch.Tensor:
    """The symmetric matrix whose upper triangle is upper's."""
    return upper.triu() + upper.triu(1).T
