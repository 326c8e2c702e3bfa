"""Standardization's two passes over in-memory rows, compiled (numba; built ahead of time by
derivtrain/compiled, so a run loads them without numba's start).

Building a run's data read the split's rows twice through numpy: each chunk gathered (a copy of
its rows, in split order), made float64, its moments taken; then each chunk gathered again, made
float64, centred, scaled and rounded into the split's tensor. At 875k training rows of 100
float32 features (`data=synthetic`, 1.25M rows) that was ~0.4 s of moments and ~0.55 s of
standardizing, a third of a whole `optim=sgd` run. These read each row where it lies, by its
index, and work on one row at a time in float64 (derivtrain/data/in_memory.py shares ranges of
rows out over the run's threads; the loops release the GIL).

No fast-math flags: every sum is added in row order and every entry is (x - mean) / scale with a
true division, in float64, then rounded to the split's dtype: the same operations as the numpy and
torch code they replace. The moments are each block's two-pass mean and squared deviations
combined by Chan et al.'s update, as derivtrain/data/standardize.py does for its chunks (blocks of
2,048 rows here, which stay in cache for the second pass).
"""
import numpy as np
from numba import njit

from derivtrain.compiled.prefetch import prefetch_row

_BLOCK = 2048  # rows whose two passes share the cache
_AHEAD = 8  # rows ahead whose cache lines are asked for (each row visited in the split's random order)


@njit(cache=True, nogil=True, inline="always")
def _prefetch_row(X, rows, offset, r, stop):
    """Ask for the cache lines of the row visited _AHEAD visits after r: a row read in a random order
    otherwise waits on its misses, one row's at a time (875k of 100 float32, standardized on two
    threads: 0.18 s without, 0.075 s with)."""
    if r + _AHEAD < stop:
        prefetch_row(X, rows[r + _AHEAD] - offset)


@njit(cache=True, nogil=True)
def row_moments(X, rows, offset, start, stop):
    """(count, mean, m2) in float64 of the rows X[rows[r] - offset] for r in start..stop (m2: the
    sum of squared deviations from the mean, per feature)."""
    d = X.shape[1]
    mean, m2 = np.zeros(d), np.zeros(d)
    block_mean, block_m2 = np.empty(d), np.empty(d)
    count = 0
    for first in range(start, stop, _BLOCK):
        last = min(first + _BLOCK, stop)
        size = last - first
        block_mean[:] = 0.0
        for r in range(first, last):
            _prefetch_row(X, rows, offset, r, last)
            row = X[rows[r] - offset]
            for j in range(d):
                block_mean[j] += row[j]
        for j in range(d):
            block_mean[j] /= size
        block_m2[:] = 0.0
        for r in range(first, last):
            row = X[rows[r] - offset]
            for j in range(d):
                deviation = row[j] - block_mean[j]
                block_m2[j] += deviation * deviation
        if count == 0:
            mean[:] = block_mean
            m2[:] = block_m2
        else:
            total = count + size
            for j in range(d):
                delta = block_mean[j] - mean[j]
                mean[j] += delta * (size / total)
                m2[j] += block_m2[j] + delta * delta * (count * size / total)
        count += size
    return count, mean, m2


@njit(cache=True, nogil=True)
def standardized_rows(X, rows, offset, mean, scale, out, start, stop):
    """out[r] = (X[rows[r] - offset] - mean) / scale for r in start..stop, in float64, rounded to out's dtype."""
    d = X.shape[1]
    for r in range(start, stop):
        _prefetch_row(X, rows, offset, r, stop)
        row, into = X[rows[r] - offset], out[r]
        for j in range(d):
            into[j] = (np.float64(row[j]) - mean[j]) / scale[j]
    return stop - start
