"""Small problems run on one thread (estimator fits and predictions, the certified solver, minibatch
steps, the certificate's passes over X a block at a time).

torch splits a matrix product over its intra-op thread pool, and a parallel region ends only when
every thread has finished its part. For an estimator's typical rows that part is microseconds of
work, and on a machine whose cores are busy with other processes a pool thread may wait a whole
scheduler slice before it runs: measured on 2 busy cores, a 569 x 31 float64 product took 57 us
on one thread and 24 ms on two. So fits and predictions on fewer than SMALL numbers use one
thread (torch.set_num_threads, put back afterwards; it costs under a microsecond).
"""
import functools
import itertools
import threading
from contextlib import contextmanager

import torch

SMALL = 1 << 20  # numbers in X (rows x features): 8 MB of float64, a few ms of arithmetic a pass


_put_aside = []  # the thread counts threads_for replaced by one, outermost first


@contextmanager
def threads_for(n_numbers: int, small: int = SMALL):
    """One torch thread inside the block when the data hold fewer than `small` numbers. Inside a
    map_blocks worker it does nothing: the caller has set one thread already, and the record of
    what it replaced (_put_aside) belongs to the caller's thread."""
    if getattr(_in_pool, "yes", False):
        yield
        return
    before = torch.get_num_threads()
    if n_numbers >= small or before == 1:
        yield
        return
    torch.set_num_threads(1)
    _put_aside.append(before)
    try:
        yield
    finally:
        _put_aside.pop()
        torch.set_num_threads(before)


def one_thread():
    """One torch thread inside the block, whatever the data's size: for loops of small products
    (a minibatch step, a block of a pass over X), each of which is a parallel region of its own."""
    return threads_for(0)


def available() -> int:
    """The threads the run may use: torch's own setting, as it was before threads_for set one."""
    return _put_aside[0] if _put_aside else torch.get_num_threads()


def map_blocks(fn, items) -> list:
    """[fn(item) for item in items] on available() threads, in order. For a pass over a large X a
    block at a time (each block's products on one thread, in cache): a thread takes the next block
    when it is done with one, so a thread that other processes keep waiting slows its own blocks,
    not the others' (torch's threads split each product evenly and wait for the slowest at its
    end). Measured on 2 cores, a full-batch SVM step on 875k x 100 float32 rows in blocks: 31-39
    ms on one thread, 22 ms on two (a float32 sum of X: 12.6 ms on two). Results in the items'
    order: sums of them are the same whatever thread computed what.

    The calling thread is one of the workers, and each worker claims the next item from one shared
    count (_share_out): a pass pays one hand-over to each helper thread, not one a block. A task and
    a future a block had cost ~15 us each on a no-op (86 no-op blocks: 1.33 ms, now 0.07), and the
    full-batch SVM pass over 875k x 100 in its 4 MB blocks took 15.5 ms against 13.4 ms in 16 MB ones
    (median of 9); alternating the two schemes in one process, 4 MB blocks: 23.3 -> 19.1 ms on a busy
    machine, ~17 -> 14.6 ms on a quieter one."""
    items = list(items)
    workers = 1 if getattr(_in_pool, "yes", False) else min(available(), len(items))  # (nested: the pool is busy)
    with one_thread():  # each block's products: one thread (the pool's threads read torch's setting)
        if workers <= 1:
            return [fn(item) for item in items]
        return _share_out(fn, items, workers)


def _share_out(fn, items: list, workers: int) -> list:
    """fn over the items on this thread and workers - 1 of the pool's, each claiming the next
    unclaimed item (next() on an itertools.count is one step under the GIL: no item is taken
    twice); an error stops the claims and is raised once every worker has stopped."""
    results, claims, failed = [None] * len(items), itertools.count(), []

    def work():
        while not failed:
            i = next(claims)
            if i >= len(items):
                return
            try:
                results[i] = fn(items[i])
            except BaseException:
                failed.append(True)
                raise

    helper_work = _in_modes_of_caller(lambda _: work())
    helpers = [_pool(workers - 1).submit(helper_work, None) for _ in range(workers - 1)]
    was_in_pool, _in_pool.yes = getattr(_in_pool, "yes", False), True  # a nested map: this thread alone
    try:
        work()
    finally:
        _in_pool.yes = was_in_pool
        for helper in helpers:
            helper.exception()  # every worker has stopped before anything is raised or returned
    for helper in helpers:
        helper.result()  # a helper's error
    return results


def row_ranges(n: int, size: int) -> list:
    """(start, stop) ranges of `size` rows covering rows 0..n in order; one empty range where n is 0
    (a rank of trainer=ddp may hold no rows, and its kernels still give their zeros)."""
    return [(start, min(start + size, n)) for start in range(0, max(n, 1), size)]


def summed_blocks(fn, items):
    """The sum of fn(item) over the items (at least one), added in the items' order: computed on the
    run's threads (map_blocks), the same number whatever thread computed which part."""
    return added_in_order(map_blocks(fn, items))


def added_in_order(parts: list):
    """parts[0] + parts[1] + ..., left to right (at least one part): the same number on any threads."""
    total = parts[0]
    for part in parts[1:]:
        total = total + part
    return total


def _in_modes_of_caller(fn):
    """fn run in the caller's grad and inference modes, which are per thread (a Function's forward
    runs without grad; the certified solver in inference mode, whose tensors only it may write)."""
    grad, inference = torch.is_grad_enabled(), torch.is_inference_mode_enabled()

    def run(item):
        _in_pool.yes = True
        with torch.inference_mode(inference), torch.set_grad_enabled(grad):
            return fn(item)
    return run


_in_pool = threading.local()


@functools.lru_cache(maxsize=4)
def _pool(workers: int):
    from concurrent.futures import ThreadPoolExecutor

    return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="derivtrain-blocks")


def threads_for_rows(X, rows: int):
    """threads_for a loop of steps on batches of `rows` rows of X (sparse rows count their nonzeros):
    a minibatch step's products are small parallel regions, and on cores that other processes keep
    busy each waits for a pool thread's scheduler slice. Measured on 2 such cores: a gather of 4096
    of 875k x 100 float32 rows took 0.3 ms on one thread and 11.5 ms on two; the final metrics of
    those rows (a forward pass, accuracy, F1) 45 ms on one and 76-188 ms on two."""
    if isinstance(X, torch.Tensor) and X.layout == torch.sparse_csr:
        per_row = X.values().numel() / max(X.shape[0], 1)
    else:
        per_row = X.shape[1]
    return threads_for(int(rows * per_row))
