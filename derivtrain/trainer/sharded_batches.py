"""Minibatches when each rank holds only its own rows of the training split (trainer=ddp).

Every rank draws the permutation one process would draw, of the split's positions 0..n-1, from
the same generator; a batch is the same positions as in one process (derivtrain/trainer/batches.py)
and each rank trains on the ones it holds, weighted by their share of the batch. The gradients
summed across ranks are then one process's on the same batch, so the run is one process's run
to rounding. Finding a rank's rows of every batch costs one gather of the permutation and two
host syncs per epoch, none per batch:

  shuffle="rows"     the held positions in permutation order (the local row of each), cut at
                     the batch boundaries (a searchsorted of the boundaries, once an epoch);
  shuffle="batches"  contiguous blocks of positions in a new order: a rank's rows of a block are
                     a contiguous slice of its own rows (they are sorted by position): views.

A rank that holds none of a batch's rows steps on one of its rows with weight 0, so every rank
joins every gradient all-reduce.
"""
import torch

from derivtrain.data.sparse import rows_between
from derivtrain.trainer.batches import gathered, permutation


class ShardedBatches:
    def __init__(self, X, targets: torch.Tensor, positions: torch.Tensor, total: int, batch_size,
                 generator: torch.Generator, shuffle: str = "rows"):
        self.X, self.targets, self.generator, self.shuffle = X, targets, generator, shuffle
        self.positions, self.total = positions, total
        self.batch_size = total if batch_size is None or batch_size >= total else int(batch_size)
        self.full_batch = self.batch_size == total
        device = positions.device
        # position -> this rank's row (-1: another rank's)
        index = torch.int32 if total < 2 ** 31 else torch.int64
        self.local_of = torch.full((total,), -1, dtype=index, device=device)
        self.local_of[positions] = torch.arange(len(positions), dtype=index, device=device)

    def __len__(self) -> int:
        return -(-self.total // self.batch_size)

    def _batch(self, X, targets, n_held: int, n_batch: int):
        """(X, targets, sample weights: none here, this rank's share of the batch), as Batches yields."""
        if n_held == 0:  # none of this batch's rows here: a zero-weight step keeps the ranks in step
            return rows_between(self.X, 0, 1), self.targets[:1], None, 0.0
        return X, targets, None, n_held / n_batch

    def epoch(self, skip: int = 0):
        """Yields (X, targets, None, share) for every step of one epoch after the first `skip` batches."""
        if self.full_batch:
            if not skip:
                yield self._batch(self.X, self.targets, len(self.targets), self.total)
            return
        if self.shuffle == "batches":
            yield from self._blocks(skip)
            return
        order = permutation(self.total, self.generator, self.X.device)
        local = self.local_of.index_select(0, order)
        held_at = torch.nonzero(local >= 0).squeeze(1)  # where in the permutation this rank's rows are
        rows = local.index_select(0, held_at).long()
        bounds = torch.arange(0, self.total + self.batch_size, self.batch_size, device=held_at.device)
        bounds = bounds.clamp_max(self.total)
        cuts = torch.searchsorted(held_at, bounds).tolist()
        steps = range(skip, len(self))
        held = [rows[cuts[b]:cuts[b + 1]] for b in steps]
        for b, idx, (X, targets) in zip(steps, held, gathered(self.X, held, alongside=(self.targets,))):
            n_batch = min(self.total, (b + 1) * self.batch_size) - b * self.batch_size
            yield self._batch(X, targets, len(idx), n_batch)

    def _blocks(self, skip: int):
        n_blocks = len(self)
        # one host sync per epoch for the block order, none per batch
        order = torch.randperm(n_blocks, generator=self.generator, device=self.generator.device).tolist()
        starts = torch.arange(n_blocks + 1, device=self.positions.device) * self.batch_size
        cuts = torch.searchsorted(self.positions, starts.clamp_max(self.total)).tolist()
        for block in order[skip:]:
            lo, hi = cuts[block], cuts[block + 1]
            n_batch = min(self.total, (block + 1) * self.batch_size) - block * self.batch_size
            yield self._batch(rows_between(self.X, lo, hi), self.targets[lo:hi], hi - lo, n_batch)
