"""Rows in memory: split, fit the standardization on the training rows, read each split's rows once.

The source may be a numpy table (bundled, csv, synthetic), a .npy file read through its memory
map (data=npy when it fits in memory: only the rows this process holds are read), or a scipy
sparse matrix (data=svmlight, data=npz: kept sparse, a torch CSR tensor on the device). Under
data parallelism each rank reads and keeps only its own rows of each split
(derivtrain/data/shards.py); one process holds them all.
"""
import numpy as np
import torch

from derivtrain.data.compiled_standardize import compiled_moments, compiled_standardized
from derivtrain.data.huge_pages import split_rows
from derivtrain.data.mapped import MappedNpy
from derivtrain.data.out_of_core import split_ranges
from derivtrain.data.shards import SplitShard, held_positions
from derivtrain.data.sparse_centring import standardized_csr
from derivtrain.data.split import fold_indices, split_indices
from derivtrain.data.standardize import chunk_rows, dense_moments, sparse_moments, standardization
from derivtrain.data.table import Data, Split, check_split
from derivtrain.data.targets import AS_GIVEN, TargetPlan, fitted_targets, target_statistics
from derivtrain.errors import DataError
from derivtrain.logging import log

_CHUNK_ROWS = 65536  # rows of a .npy copied at a time
_NUMPY = {torch.float32: np.float32, torch.float64: np.float64}


def build_in_memory(table, y: np.ndarray, spec, data_cfg, device: torch.device, seed: int, comm,
                    dtype=torch.float32, targets: TargetPlan = AS_GIVEN) -> Data:
    """`dtype`: what the splits are rounded to, after standardizing in float64 (derivtrain/config/
    precision.py: float64 for the certified solver on the CPU, float32 otherwise). `targets`: what
    regression targets are centred and scaled by first (every rank holds every target, so every
    rank computes the same statistics of the training rows)."""
    source = _Source(table)
    splits = _split_rows(table, y, spec, data_cfg, seed)
    mine = {}  # split -> (positions this rank holds, their source rows)
    for name, rows in splits.items():
        positions = held_positions(rows, comm.rank, comm.world_size, table.held_rows)
        mine[name] = (positions, rows[positions])
    if comm.world_size > 1:
        if len(mine["train"][0]) == 0:
            raise DataError(f"rank {comm.rank} holds none of the {len(splits['train'])} training rows; "
                            "use fewer ranks or more data")
        log.info("rank %d of %d holds %d of the %d training rows", comm.rank, comm.world_size,
                 len(mine["train"][0]), len(splits["train"]))
    d = spec.n_features
    if data_cfg.standardize:
        mean, scale = standardization(source.moments(mine["train"][1]), source.sparse, comm)
    else:
        mean, scale = np.zeros(d), np.ones(d)
    # the statistics stay float64, and so does the subtraction: a column 1e7 + N(0, 1) cast to
    # float32 first keeps a handful of distinct values
    mean_t = torch.as_tensor(mean, dtype=torch.float64)
    scale_t = torch.as_tensor(scale, dtype=torch.float64)
    y_mean, y_scale = (0.0, 1.0) if spec.classes else target_statistics(y[splits["train"]], targets)

    def part(name):
        positions, rows = mine[name]
        X = source.standardized(rows, mean_t, scale_t, dtype).to(device)
        shard = None
        if comm.world_size > 1:
            shard = SplitShard(torch.as_tensor(positions, device=device), len(splits[name]), comm)
        labels = (torch.as_tensor(y[rows], dtype=torch.int64).to(device) if spec.classes
                  else fitted_targets(y[rows], y_mean, y_scale, dtype, device))
        return Split(X=X, y=labels, shard=shard)

    has_val = len(splits["val"]) > 0
    return Data(spec=spec, train=part("train"), val=part("val") if has_val else None, test=part("test"),
                feature_mean=mean_t.to(device), feature_scale=scale_t.to(device), indices=splits,
                target_mean=y_mean, target_scale=y_scale)


def _split_rows(table, y, spec, data_cfg, seed: int) -> dict:
    """Every split's source rows, in split order, as one process would make them. data=npy keeps
    file order (train, val, test = the last rows), in memory or not; other sources are split at
    random, stratified for classification."""
    classification = bool(spec.classes)
    if isinstance(table.X, MappedNpy):
        bounds = split_ranges(len(y), data_cfg.test_size, data_cfg.val_size)
        train, val, test = (np.arange(*b) for b in bounds)
        if classification:
            _check_classes_in_order(y, train, spec, table.X.path)
    else:
        train, val, test = split_indices(y, data_cfg.test_size, data_cfg.val_size, seed, stratify=classification)
    check_split({"train": len(train), "test": len(test)}, len(y), data_cfg.test_size, data_cfg.val_size,
                stratified=classification and not isinstance(table.X, MappedNpy))
    if data_cfg.get("cv_folds"):  # K-fold: the fold validates, the other train+val rows train
        rows = np.concatenate([train, val])
        if data_cfg.cv_folds > len(rows):
            raise DataError(f"data.cv_folds={data_cfg.cv_folds} is more folds than the {len(rows)} rows outside "
                            "the test split; use fewer folds")
        train, val = fold_indices(y, rows, data_cfg.cv_folds, data_cfg.fold, seed, classification)
    return {"train": train, "val": val, "test": test}


def _check_classes_in_order(y, train, spec, path) -> None:
    missing = sorted(set(np.unique(y).tolist()) - set(np.unique(y[train]).tolist()))
    if missing:
        raise DataError(f"{path}: the training rows (the first {len(train)}, the split keeps file order) "
                        f"have no row of class {spec.classes[missing[0]]}; shuffle the rows once before "
                        "saving the .npy files")


class _Source:
    """Reads rows (global row numbers) of a table's features, whatever holds them."""

    def __init__(self, table):
        self.X = table.X
        self.offset = table.held_rows[0] if table.held_rows is not None else 0
        self.sparse = hasattr(self.X, "tocsr")  # a scipy sparse matrix
        self.mapped = isinstance(self.X, MappedNpy)

    def numpy_rows(self, rows: np.ndarray, dtype=None) -> np.ndarray:
        """Rows as a numpy array of their own (in `dtype`, default as stored). A .npy's rows are read
        a chunk at a time and each chunk's pages released once copied: the file never sits in this
        process beside its copy."""
        if not self.mapped:
            return self.X[rows - self.offset] if dtype is None else self.X[rows - self.offset].astype(dtype)
        out = np.empty((len(rows), self.X.shape[1]), dtype=dtype or _NUMPY[self.X.dtype])
        for a in range(0, len(rows), _CHUNK_ROWS):
            part = rows[a:a + _CHUNK_ROWS]
            lo, hi = int(part.min()), int(part.max()) + 1
            out[a:a + len(part)] = self.X.rows(lo, hi).numpy()[part - lo]
            self.X.release(lo, hi)  # data=npy: a read-only mapping, the file keeps the rows
        return out

    def moments(self, rows: np.ndarray):
        if self.sparse:
            return sparse_moments(self.X[rows - self.offset])
        compiled = compiled_moments(self.X, rows, self.offset)  # a large numpy table: compiled_standardize.py
        if compiled is not None:
            return compiled
        return dense_moments(lambda a, b: self.numpy_rows(rows[a:b]), len(rows), self.X.shape[1])

    def standardized(self, rows: np.ndarray, mean: torch.Tensor, scale: torch.Tensor,
                     dtype=torch.float32) -> torch.Tensor:
        """Rows standardized in float64 (sparse: a CSR tensor, data/sparse_centring.py), then rounded to
        `dtype`, in a tensor of their own; a chunk of rows at a time, so the float64 copy is one chunk's."""
        if self.sparse:
            A = self.X[rows - self.offset]
            if not np.isfinite(A.data).all():
                raise DataError("the features contain NaN or infinite values; clean or drop those rows first")
            return standardized_csr(A, mean.numpy(), scale.numpy(), dtype)
        compiled = compiled_standardized(self.X, rows, self.offset, mean, scale, dtype)
        if compiled is not None:
            return compiled
        out, step = split_rows(len(rows), self.X.shape[1], dtype), chunk_rows(self.X.shape[1])
        for a in range(0, len(rows), step):
            part = rows[a:a + step]
            X = torch.as_tensor(self.numpy_rows(part, np.float64) if self.mapped else self.X[part - self.offset],
                                dtype=torch.float64)
            bad = ~torch.isfinite(X).all(dim=1) if self.mapped else None  # numpy tables are checked whole
            if bad is not None and bad.any():
                raise DataError(f"{self.X.path}: row {part[bad.numpy()].min()} has NaN or infinite features; "
                                "clean or drop those rows first")
            out[a:a + len(part)] = X.sub_(mean).div_(scale)
        return out
