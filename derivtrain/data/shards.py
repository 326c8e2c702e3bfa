"""Which rows each rank holds under data parallelism, and the sums that make it one data set.

Splits are made as one process makes them (the same seed, every row's target known on every
rank), so a split is a sequence of positions 0..n-1 and each rank holds some of them:

  rows any rank can read (an in-memory table, a .npy file): each rank holds a contiguous
      range of every split's positions, n r / W .. n (r + 1) / W, and reads only those rows;
  rows in files (a folder or glob of svmlight / npz files): rank r reads its own share of the
      files, and holds the positions whose rows are in them.

Anything summed over rows (standardization's moments, a gradient, a metric's counts) is summed
across ranks in a fixed order, so every rank gets the same number and it equals one process's
to rounding.
"""
import glob
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from derivtrain.errors import DataError


@dataclass
class SplitShard:
    """The positions (sorted, on the device) of a split that this rank holds, out of `total`."""

    positions: torch.Tensor
    total: int
    comm: Any  # derivtrain.trainer.distributed.DataParallel

    def assemble(self, local: torch.Tensor) -> torch.Tensor:
        """The whole split's rows of a per-row tensor (scores, targets), in split order, on every
        rank: each rank writes its rows into zeros and the ranks' tensors are summed (x + 0 = x
        exactly, so no rounding)."""
        whole = local.new_zeros((self.total, *local.shape[1:]))
        whole.index_copy_(0, self.positions, local)
        return self.comm.all_sum(whole)


def held_positions(split_rows: np.ndarray, rank: int, world_size: int, held=None) -> np.ndarray:
    """The positions of a split (its source rows, in split order) this rank holds: a contiguous
    range of positions, or, when the rank holds only rows [lo, hi) of the source, those."""
    if held is None:
        n = len(split_rows)
        return np.arange(n * rank // world_size, n * (rank + 1) // world_size)
    lo, hi = held
    return np.flatnonzero((split_rows >= lo) & (split_rows < hi))


def combined_moments(comm, count: int, mean: torch.Tensor, m2: torch.Tensor):
    """(count, mean, m2) of every rank's rows together, by Chan et al.'s pairwise update in rank
    order (float64; the same on every rank)."""
    parts = comm.all_gather(torch.cat([torch.tensor([float(count)], dtype=torch.float64), mean, m2]))
    d = len(mean)
    total, mean, m2 = 0.0, torch.zeros(d, dtype=torch.float64), torch.zeros(d, dtype=torch.float64)
    for part in parts:
        n_b, mean_b, m2_b = part[0].item(), part[1:d + 1], part[d + 1:]
        if n_b == 0:
            continue
        delta, new_total = mean_b - mean, total + n_b
        mean = mean + delta * (n_b / new_total)
        m2 = m2 + m2_b + delta ** 2 * (total * n_b / new_total)
        total = new_total
    return int(total), mean, m2


def expand_paths(path: str, key: str, suffixes: tuple) -> list:
    """data.path as files: one file, a folder's files with one of `suffixes`, or a glob pattern;
    sorted by name (the order one process concatenates them in)."""
    file = Path(path).expanduser()
    if file.is_file():
        return [file]
    if file.is_dir():
        files = sorted(p for p in file.iterdir() if p.is_file() and p.name.endswith(suffixes))
        if not files:
            raise DataError(f"{key}={path} is a folder without {' or '.join(suffixes)} files")
        return files
    files = sorted(Path(p) for p in glob.glob(str(file)) if Path(p).is_file())
    if not files:
        raise DataError(f"{key}={path}: no such file, folder or matching files")
    return files


def files_of_rank(files: list, rank: int, world_size: int, key: str) -> list:
    """Rank r's contiguous share of the files (by count)."""
    if len(files) < world_size:
        raise DataError(f"{key} has {len(files)} file(s) for {world_size} ranks; each rank reads whole files: "
                        f"split the data into at least {world_size} files (or run fewer ranks)")
    return files[len(files) * rank // world_size:len(files) * (rank + 1) // world_size]


class OneProcess:
    """No other ranks: every sum over ranks is the sum over this process's rows."""

    rank, world_size = 0, 1

    def all_sum(self, tensor):
        return tensor

    all_min = all_max = all_sum

    def all_gather(self, tensor) -> list:
        return [tensor]

    gather_vectors = all_gather
