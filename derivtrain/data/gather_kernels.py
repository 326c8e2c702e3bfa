"""The compiled gather of a minibatch's dense rows (derivtrain/data/compiled_gather.py says where it runs).

A batch of shuffled rows is random reads of memory: each row's cache lines miss, and a plain copy
waits on one row's misses before it asks for the next. Here the lines of the row `_AHEAD` visits on
are asked for (derivtrain/compiled/prefetch.py) while this one is copied, so several rows' misses are
in flight at once. 4096 random rows of 875k x 100 float32, one thread, median of 200: 0.24 ms, against
0.37 ms without the prefetch and 0.59 ms for torch's index_select (0.32 ms on two threads).
"""
from numba import njit

from derivtrain.compiled.prefetch import prefetch_row

_AHEAD = 8  # rows: 4 ahead took 0.245 ms, 8 0.236, 16 0.239


@njit(nogil=True, cache=True)
def gather_rows(X, idx, out):
    """out[i] = X[idx[i]] for every i; X and out C-contiguous, every idx within X's rows (the
    caller's permutation: nothing is checked here). Returns the number of rows copied."""
    rows, d = len(idx), X.shape[1]
    for i in range(rows):
        if i + _AHEAD < rows:
            prefetch_row(X, idx[i + _AHEAD])
        source, target = X[idx[i]], out[i]
        for j in range(d):
            target[j] = source[j]
    return rows
