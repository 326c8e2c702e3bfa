"""The order dual coordinate descent visits its active rows in, each epoch (derivtrain/trainer/dual_cd.py).

LIBLINEAR draws a new random permutation of the active rows each epoch. Where the rows outgrow the
caches, each visit is then a read from a random place in memory, and an epoch waits on memory
rather than on its arithmetic: 875k x 100 float64 rows (700 MB), an epoch over every row took
350-420 ms. From _BLOCKED_FROM active rows on, an epoch visits them in blocks of _BLOCK rows that
lie one after another in memory, the blocks in a new random order each epoch: the core streams
each block's rows ahead of the visits, and the same epoch takes 94-180 ms. Every active row is
still visited once an epoch, each epoch's order is drawn from the solver's generator (a resumed run
takes the uninterrupted one's), and a block of a split is a random sample of its rows (derivtrain's
splits are drawn at random; data=npy keeps a file's order, which the user is told to shuffle
once). Fewer active rows (in cache, or nearly) keep the random permutation: their visits cost no
memory latency, and a random order converges in fewer epochs (the 1M-row run, all epochs in
blocks: 263 epochs; only those of 2^16 rows or more: 153).

Measured on the 1M-row CLI run (`model=svm data=synthetic data.n_samples=1250000
data.n_features=100`, optim=auto, 875k training rows; `python scripts/bench_row_memory.py --changes
order --cases auto --repeats 3`, fresh processes): the fit 4.42 -> 2.59 s, the run 7.05 -> 5.01 s,
153 epochs where 135 had been, the certified gap 2.0e-6 -> 1.1e-6. The sparse case of
`scripts/bench_cli_scale.py --sparse` (140k x 100k tf-idf rows, optim=auto): the fit 10.8 -> 4.9 s,
the squared hinge's 3.65 -> 1.94 s (LinearSVC to tol 1e-4: 14-16 s).
"""
import numpy as np

_BLOCK = 64  # rows a block: 50 KB of 100 float64 columns, past what the prefetcher needs to stream
_BLOCKED_FROM = 1 << 16  # active rows from which an epoch goes in blocks (dual_cd.py's _FAR_ROWS too)


def shuffle_active(rng: np.random.Generator, active: np.ndarray, n_active: int, n_rows: int) -> None:
    """Reorders active[:n_active] (row indices among n_rows) in place into this epoch's visiting order."""
    rows = active[:n_active]
    if n_active < _BLOCKED_FROM:
        rng.shuffle(rows)
        return
    in_memory = _in_memory_order(rows, n_rows)
    blocks = rng.permutation(-(-n_active // _BLOCK))
    order = (blocks[:, None] * _BLOCK + np.arange(_BLOCK)).ravel()
    rows[:] = in_memory[order[order < n_active]]


def _in_memory_order(rows: np.ndarray, n_rows: int) -> np.ndarray:
    """The row indices sorted: by a mark for each of the n_rows (O(n_rows)) where they are more than a
    sixteenth of them, else by a sort (O(m log m))."""
    if 16 * len(rows) < n_rows:
        return np.sort(rows)
    marked = np.zeros(n_rows, dtype=bool)
    marked[rows] = True
    return np.flatnonzero(marked).astype(rows.dtype, copy=False)
