"""Small problems run on one thread (estimator fits and predictions, the certified solver).

torch splits a matrix product over its intra-op thread pool, and a parallel region ends only when
every thread has finished its part. For an estimator's typical rows that part is microseconds of
work, and on a machine whose cores are busy with other processes a pool thread may wait a whole
scheduler slice before it runs: measured on 2 busy cores, a 569 x 31 float64 product took 57 us
on one thread and 24 ms on two. So fits and predictions on fewer than SMALL numbers use one
thread (torch.set_num_threads, put back afterwards; it costs under a microsecond).
"""
from contextlib import contextmanager

import torch

SMALL = 1 << 20  # numbers in X (rows x features): 8 MB of float64, a few ms of arithmetic a pass


@contextmanager
def threads_for(n_numbers: int, small: int = SMALL):
    """One torch thread inside the block when the data hold fewer than `small` numbers."""
    before = torch.get_num_threads()
    if n_numbers >= small or before == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
