"""Minibatches of in-memory tensors by index slicing a per-epoch permutation.

No DataLoader: for tensors already on the device it adds per-sample Python work (~30x per step).
Full batch (batch_size null, or >= n) hands out the tensors themselves, no copy and no shuffle.
shuffle="rows" draws a new permutation of rows every epoch and gathers each batch
(index_select: a random read per row); shuffle="batches" cuts the rows, already shuffled once
by the split, into contiguous batches and only permutes their order: every batch is a view, no
gather (the cheaper choice for large data, measured in scripts/bench_scale.py).
Where every rank holds every row (world_size > 1 here) every rank draws the same permutation and
takes its contiguous part of each batch, with that part's share of the batch as a weight; one
process gets share None and the step loop scales nothing. (A run under trainer=ddp gives each
rank only its own rows: derivtrain/trainer/sharded_batches.py.)
Rows may carry sample weights (Split.weight, from derivtrain.Estimator's sample_weight): each
batch hands out its rows' weights with them, for the loss's weighted mean; None when unweighted.
Sparse rows (a CSR tensor) are gathered and sliced by derivtrain/data/sparse.py (torch has no
index_select for CSR): shuffle="batches" costs nothing per batch there either, shuffle="rows"
one gather of the batch's nonzeros (scipy's on the CPU, ~0.3-1 ms for 4096 rows of 50), on the
gather thread too (below). Handed over one batch at a time, that thread's many short kernels took
turns with the step's for the GIL and an epoch of 140k x 100k rows took 0.150 s against 0.073 s
inline; run ahead (gathered_ahead), the whole 5-epoch fit of scripts/bench_cli_scale.py --sparse
took 0.373 -> 0.335 s against inline (medians of 3, alternating in one process, the same objective).
Dense CPU rows are gathered two batches ahead on a second thread where the run may use a second
core (`ahead`): a gather of 4096 random rows of 875k x 100 float32 is random reads of memory,
~0.35 ms, as long as the step that trains on them, and one large kernel. Where the compiled loops
are built it is theirs (derivtrain/data/gather_kernels.py: one thread, the next rows' cache lines
asked for ahead), not torch's index_select, whose second thread took the step's core: 214 batches
(an epoch of those rows) with a hinge step, 16 interleaved epochs, 176 -> 154 ms; the CLI's 3-epoch
fit, 5 interleaved runs, median 0.96 -> 0.82 s.
"""
import queue
import threading

import torch

from derivtrain.data.compiled_gather import compiled_rows
from derivtrain.data.sparse import is_sparse, rows_between, take_rows


def permutation(n: int, generator: torch.Generator, device) -> torch.Tensor:
    """torch.randperm(n) (int64) from `generator`. On the CPU it is drawn as int32 and widened: the same
    permutation, leaving the generator in the same state (tests/trainer/test_batches.py checks both),
    2.4x faster (875k rows: 11.2 -> 4.6 ms; three epochs of the million-row SGD run draw 3, ~3 % of its fit)."""
    if torch.device(device).type == "cpu" and n < 2 ** 31:
        return torch.randperm(n, generator=generator, dtype=torch.int32).long()
    return torch.randperm(n, generator=generator, device=device)


def rank_part(n: int, rank: int, world_size: int):
    """This rank's rows [start, stop) of a batch of n, and their weight n_rank / n."""
    start, stop = n * rank // world_size, n * (rank + 1) // world_size
    return start, stop, (stop - start) / n


class Batches:
    def __init__(self, X: torch.Tensor, targets: torch.Tensor, batch_size, generator: torch.Generator,
                 rank: int = 0, world_size: int = 1, shuffle: str = "rows", sample_weight=None, ahead: bool = False):
        self.X, self.targets, self.generator, self.shuffle = X, targets, generator, shuffle
        self.sample_weight, self.ahead = sample_weight, ahead
        self.rank, self.world_size = rank, world_size
        n = X.shape[0]
        self.batch_size = n if batch_size is None or batch_size >= n else int(batch_size)
        self.full_batch = self.batch_size == n

    def __len__(self) -> int:
        return -(-self.X.shape[0] // self.batch_size)

    def _part(self, n: int):
        return rank_part(n, self.rank, self.world_size)

    def _rows(self, start: int, stop: int):
        w = self.sample_weight
        return rows_between(self.X, start, stop), self.targets[start:stop], None if w is None else w[start:stop]

    def epoch(self, skip: int = 0):
        """Yields (X, targets, sample weights or None, share) for every step of one epoch, after the
        first `skip` batches (a resumed epoch: the same permutation is drawn, the batches already
        done are passed over)."""
        if self.full_batch:
            if skip:
                return
            if self.world_size == 1:
                yield self.X, self.targets, self.sample_weight, None
            else:
                start, stop, share = self._part(self.X.shape[0])
                yield *self._rows(start, stop), share
            return
        if self.shuffle == "batches":
            yield from self._shuffled_blocks(skip)
            return
        order = permutation(self.X.shape[0], self.generator, self.X.device)
        w = self.sample_weight
        parts = []
        for idx in order.split(self.batch_size)[skip:]:
            share = None
            if self.world_size > 1:
                start, stop, share = self._part(idx.shape[0])
                idx = idx[start:stop]
            parts.append((idx, share))
        rows = gathered(self.X, [idx for idx, _ in parts], self.ahead, (self.targets, w))
        for (_, share), (X, targets, weight) in zip(parts, rows):
            yield X, targets, weight, share

    def _shuffled_blocks(self, skip: int):
        n_blocks = len(self)
        # one host sync per epoch for the block order, none per batch
        order = torch.randperm(n_blocks, generator=self.generator, device=self.generator.device).tolist()
        for block in order[skip:]:
            start = block * self.batch_size
            stop = min(start + self.batch_size, self.X.shape[0])
            share = None
            if self.world_size > 1:
                lo, hi, share = self._part(stop - start)
                start, stop = start + lo, start + hi
            yield *self._rows(start, stop), share


def gathered(X, indices, ahead: bool = False, alongside: tuple = ()):
    """(take_rows(X, idx), then each tensor of `alongside` at idx) for each idx in turn (a None in
    alongside stays None): dense CPU rows by _dense_rows. CPU rows, dense or CSR, where `ahead`, two
    batches ahead on a second thread, targets and weights with them (gathered_ahead); GPU rows as
    they are asked for (a GPU gather is cheap)."""
    cpu = X.device.type == "cpu"
    take = _dense_rows if cpu and not is_sparse(X) else take_rows

    def batch(idx):
        return (take(X, idx),) + tuple(None if t is None else t.index_select(0, idx) for t in alongside)

    if cpu and ahead:
        yield from gathered_ahead(batch, indices)
    else:
        for idx in indices:
            yield batch(idx)


def gathered_ahead(batch, indices):
    """batch(idx) for each idx, in order, made on a second thread that runs ahead of the caller while it
    trains: one batch made and waiting, one more being made (the caller's own is the third in memory).
    A gather of dense rows is random reads of memory (~0.25-0.45 ms for 4096 rows of 100, about as long
    as the step), and so is one of their targets: overlapped, not queued. The compiled gather and
    torch's kernels release the GIL, so the two threads run at once.

    The thread goes on to the next batch as soon as one is made, not when the caller asks for it: a
    batch handed over one at a time (a pool's submit per batch) left the gather thread idle from the
    end of each gather until the caller woke, took it and asked for the next (two thread wake-ups a
    batch), and the gather is the slower of the two threads. The 1M SGD run's fit (`optim=sgd
    trainer.batch_size=4096`, 3 epochs; scripts/bench_cli_scale.py --cases sgd), alternating in one
    process, medians of 4 and of 5 in two sessions: 0.610 -> 0.545 s and 0.675 -> 0.586 s, the same
    objective bit for bit. Two batches waiting instead of one measured no faster (medians of 6:
    0.549 against 0.521 s). An epoch left early (a stop request, an error) stops the thread before
    this returns; an error on the thread is raised here, at its batch."""
    if not indices:
        return
    made, stop = queue.Queue(maxsize=1), threading.Event()

    def gather_all():
        try:
            for idx in indices:
                if stop.is_set():
                    return
                made.put((batch(idx), None))  # waits (idle, no polling) while the caller is behind
        except BaseException as error:  # raised in the caller's thread, at this batch
            made.put((None, error))

    thread = threading.Thread(target=gather_all, name="derivtrain-gather", daemon=True)
    thread.start()
    try:
        for _ in indices:
            rows, error = made.get()
            if error is not None:
                raise error
            yield rows
    finally:
        stop.set()
        # the thread puts at most one batch more before it sees the stop; with the one slot free, that
        # put cannot wait (a batch already waiting is taken here), so the thread ends without polling
        try:
            made.get_nowait()
        except queue.Empty:
            pass
        thread.join()


def _dense_rows(X, idx):
    """X[idx]: by the compiled gather where it applies (one thread, prefetched: 0.24 ms for 4096 rows
    of 100 float32, where torch's index_select took 0.59 on one thread and 0.32 on two, its second
    one taken from the step's), else torch's."""
    rows = compiled_rows(X, idx)
    return take_rows(X, idx) if rows is None else rows
