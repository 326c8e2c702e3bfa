"""Standardization fitted on the training rows: per-feature moments of any source, summed across ranks.

Dense features are centred and scaled, (x - mean) / std. Sparse features are only scaled, x / std,
as scikit-learn's StandardScaler(with_mean=False): centring would fill every zero in, turning a
matrix with 0.05 % nonzeros into a dense one; only a column more than 4 std from 0, stored in nearly
every row, is centred too (derivtrain/data/sparse_centring.py). The std is the column's over all
rows, zeros included. Constant features keep scale 1 (like StandardScaler).

Moments are (count, mean, m2 = sum of squared deviations) in float64, a chunk of rows at a time
and combined by Chan et al.'s pairwise update: exact to rounding, without cancellation, and the
same whether the rows are in one process or spread over ranks (derivtrain/data/shards.py).
"""
import numpy as np
import torch

from derivtrain.data.shards import combined_moments
from derivtrain.data.sparse_centring import sparse_means

_CHUNK_ROWS = 65536
_CHUNK_NUMBERS = 1 << 21  # 16 MB of float64
_MOMENT_NONZEROS = 1 << 20  # sparse_moments' chunk: 8 MB of float64


def combined_parts(parts):
    """(count, mean, m2) of the rows of several parts, each given as its (count, mean, m2), combined
    in the parts' order by Chan et al.'s update."""
    count, mean, m2 = 0, None, None
    for n_b, mean_b, m2_b in parts:
        if mean is None:
            count, mean, m2 = n_b, mean_b, m2_b
            continue
        delta, total = mean_b - mean, count + n_b
        mean = mean + delta * (n_b / total)
        m2 = m2 + m2_b + delta ** 2 * (count * n_b / total)
        count = total
    return count, mean, m2


def dense_moments(read, n: int, d: int):
    """(count, mean, m2) of n dense rows, in float64, a chunk of rows at a time; read(a, b) gives
    rows [a, b) as a numpy array of their own (a float64 one is worked on in place)."""
    rows = chunk_rows(d)

    def chunk(a):
        part = read(a, min(a + rows, n)).astype(np.float64, copy=False)
        mean = part.mean(axis=0)
        part -= mean
        return len(part), mean, np.square(part, out=part).sum(axis=0)

    if n == 0:
        return 0, np.zeros(d), np.zeros(d)
    return combined_parts([chunk(a) for a in range(0, n, rows)])


def chunk_rows(d: int) -> int:
    """Rows of d features a chunk of the float64 work holds: _CHUNK_NUMBERS, at most _CHUNK_ROWS rows.
    Temporaries of up to 32 MB come back from the allocator's heap, reused; larger ones are fresh
    pages from the system each time (1.25M x 100 rows in chunks of 65,536 rows, 52 MB: the moments
    0.53 s, page faults most of it)."""
    return max(1, min(_CHUNK_ROWS, _CHUNK_NUMBERS // max(d, 1)))


def sparse_moments(A):
    """(count, mean, m2) of a scipy CSR matrix's columns, zeros included: m2 = sum over the
    nonzeros of (x - mean)^2 + (rows without a nonzero in the column) * mean^2. The nonzeros go a
    chunk at a time, so the float64 temporaries are a chunk's and reused, not the matrix's: on 140k x
    100k rows of 50 nonzeros, 0.82 s -> 0.10 s in a fresh process (fresh memory the size of the
    nonzeros is mostly page faults on this project's machines)."""
    n, d = A.shape
    columns, values = A.indices, A.data
    chunks = range(0, len(values), _MOMENT_NONZEROS)
    total = np.zeros(d)
    for a in chunks:
        total += np.bincount(columns[a:a + _MOMENT_NONZEROS], weights=values[a:a + _MOMENT_NONZEROS].astype(np.float64),
                             minlength=d)
    mean = total / max(n, 1)
    m2 = (n - np.bincount(columns, minlength=d)) * mean ** 2  # the zeros' share
    for a in chunks:
        part = columns[a:a + _MOMENT_NONZEROS]
        deviations = values[a:a + _MOMENT_NONZEROS].astype(np.float64)
        deviations -= mean[part]
        m2 += np.bincount(part, weights=np.square(deviations, out=deviations), minlength=d)
    return n, mean, m2


def fitted_scale(count: int, m2) -> np.ndarray:
    """The population std from m2, constant features (and no rows at all) at 1."""
    scale = np.sqrt(np.asarray(m2) / max(count, 1))
    scale[scale < 10 * np.finfo(np.float64).eps] = 1.0
    return scale


def standardization(moments, sparse: bool, comm):
    """(mean, scale) as float64 numpy arrays from this rank's (count, mean, m2), summed across ranks.
    Sparse data: mean 0 (scaled, not centred) but where the mean is more than 4 std from 0."""
    count, mean, m2 = moments
    if comm.world_size > 1:
        count, mean, m2 = combined_moments(comm, count, torch.as_tensor(mean), torch.as_tensor(m2))
        mean, m2 = mean.numpy(), m2.numpy()
    scale = fitted_scale(count, m2)
    mean = np.asarray(mean, dtype=np.float64)
    return (sparse_means(mean, scale) if sparse else mean), scale
