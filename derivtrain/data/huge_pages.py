"""Where large row buffers lie: empty_rows (numpy's allocation, which Linux may back with 2 MB pages)
and split_rows (a split's rows: torch's allocation, 4 KB pages, unless SPLITS_IN_HUGE_PAGES).

A minibatch gathers rows from all over the training split, and dual coordinate descent visits rows in
a random order: each row read lands in another 4 KB page, so each costs a page-table walk on top of
its cache misses once the table is larger than the TLB covers (1.5k entries: 6 MB of 4 KB pages, 3 GB
of 2 MB ones). numpy asks Linux for transparent huge pages on its large allocations (madvise
MADV_HUGEPAGE, where THP is in "madvise" mode, as on this project's machines); torch's CPU allocator
does not. 4096 random rows of 875k x 100 float32 were gathered in 0.30 ms from numpy's allocation
against 0.46 ms from torch's (median of 7 runs of 100 batches, one thread).

But the first touch of those pages is what a run pays for them, and on this project's VMs it is slow
and erratic: 350 MB written for the first time in a process took 36-850 ms in 2 MB pages (two modes,
~40 ms and 300-850 ms, the host's doing) against 134-178 ms in 4 KB ones. A CLI run builds its
splits once, in a fresh process. With its splits in 2 MB pages, the 1M-row runs of
`python scripts/bench_row_memory.py --changes pages --repeats 4` (fresh processes, 4 KB -> 2 MB,
medians): `optim=sgd` read 1.76 -> 2.14 s for a fit 0.55 -> 0.49, total 2.65 -> 2.92; full batch
total 2.76 -> 3.09; `optim=auto` read 2.13 -> 3.18, fit 4.68 -> 3.60, total 7.23 -> 7.21. So a
split's rows, and a solver's float64 copy of them, take torch's allocation
(split_rows). An estimator's standardized table keeps numpy's (empty_rows): a grid search fits
again and again in one process, where the pages a fit freed are given back fast to the next
(Estimator(model="svm") on 100k x 50, alternating fits: 0.174 -> 0.143 s). The numbers are the same
either way: only where they lie changes.
"""
import numpy as np
import torch

_NUMPY = {torch.float32: np.float32, torch.float64: np.float64, torch.float16: np.float16}
SPLITS_IN_HUGE_PAGES = False  # scripts/bench_row_memory.py switches it to measure the pages' cost


def empty_rows(rows: int, columns: int, dtype: torch.dtype) -> torch.Tensor:
    """An uninitialized (rows, columns) CPU tensor of dtype, C-contiguous, allocated by numpy where
    numpy has the dtype (torch's allocator otherwise)."""
    if dtype not in _NUMPY:
        return torch.empty((rows, columns), dtype=dtype)
    return torch.from_numpy(np.empty((rows, columns), dtype=_NUMPY[dtype]))


def split_rows(rows: int, columns: int, dtype: torch.dtype) -> torch.Tensor:
    """The buffer a split's rows are written into, once a run: torch's allocation (module docstring)."""
    if SPLITS_IN_HUGE_PAGES:
        return empty_rows(rows, columns, dtype)
    return torch.empty((rows, columns), dtype=dtype)
