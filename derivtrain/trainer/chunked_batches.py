"""Minibatches of out-of-core rows (derivtrain/data/mapped.py): shuffled chunk by chunk.

Each epoch visits the chunks in a new random order; each chunk is read from disk once (while the
next one is prefetched), standardized on the device, and cut into batches in a new random order
of its rows (shuffle="rows": a gather inside the chunk, which is in memory) or of its batches
(shuffle="batches": views). A chunk holds a whole number of batches, so only the last chunk's
last batch can be short. Under data parallelism each rank reads the chunk and takes its part of
every batch, exactly as Batches does for in-memory rows.
"""
import torch

from derivtrain.trainer.batches import permutation, rank_part


class ChunkedBatches:
    full_batch = False  # refused for out-of-core data (derivtrain.config)

    def __init__(self, X, targets: torch.Tensor, batch_size: int, generator: torch.Generator,
                 rank: int = 0, world_size: int = 1, shuffle: str = "rows", sample_weight=None):
        if sample_weight is not None:
            raise ValueError("rows read from disk carry no sample weights (data=npy); weight rows in memory")
        self.X, self.targets, self.generator, self.shuffle = X, targets, generator, shuffle
        self.rank, self.world_size = rank, world_size
        self.batch_size = min(int(batch_size), len(X))
        chunk_rows = max(self.batch_size, X.chunk_rows // self.batch_size * self.batch_size)
        self.chunks = [(a, min(a + chunk_rows, len(X))) for a in range(0, len(X), chunk_rows)]

    def _n_batches(self, chunk) -> int:
        return -(-(chunk[1] - chunk[0]) // self.batch_size)

    def __len__(self) -> int:
        return sum(self._n_batches(c) for c in self.chunks)

    def epoch(self, skip: int = 0):
        """Yields (X, targets, None, share) for every step of one epoch after the first `skip` batches
        (None: out-of-core rows carry no sample weights; share: as in Batches).
        The random draws are the same whether or not a chunk is skipped, so a resumed epoch
        continues the permutation an uninterrupted one would have drawn."""
        device = self.generator.device
        order = torch.randperm(len(self.chunks), generator=self.generator, device=device).tolist()
        for k, i in enumerate(order):
            start, stop = self.chunks[i]
            n_batches = self._n_batches(self.chunks[i])
            if self.shuffle == "rows":
                within = permutation(stop - start, self.generator, device).split(self.batch_size)
            else:
                within = torch.randperm(n_batches, generator=self.generator, device=device).tolist()
            if skip >= n_batches:
                skip -= n_batches
                continue
            if k + 1 < len(order):
                self.X.prefetch(*self.chunks[order[k + 1]])  # the disk reads ahead while this chunk trains
            X, targets = self.X.read(start, stop), self.targets[start:stop]
            yield from self._batches(X, targets, within[skip:])
            skip = 0

    def _batches(self, X: torch.Tensor, targets: torch.Tensor, within):
        for item in within:
            if self.shuffle == "rows":
                idx, weight = item, None
                if self.world_size > 1:
                    lo, hi, weight = rank_part(idx.shape[0], self.rank, self.world_size)
                    idx = idx[lo:hi]
                yield X.index_select(0, idx), targets.index_select(0, idx), None, weight
            else:
                lo, hi = item * self.batch_size, min((item + 1) * self.batch_size, X.shape[0])
                weight = None
                if self.world_size > 1:
                    a, b, weight = rank_part(hi - lo, self.rank, self.world_size)
                    lo, hi = lo + a, lo + b
                yield X[lo:hi], targets[lo:hi], None, weight
