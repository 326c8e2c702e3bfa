"""Splits and standardization of a memory-mapped table, in one chunked pass over the file.

Splits are contiguous ranges in file order, like train_test_split(shuffle=False): train first,
then val, then test (the last rows). A file that is sorted (say, by class) must be shuffled once
before it is saved; a training split that misses a class is refused with that advice.
"""
import numpy as np
import torch

from derivtrain.data.mapped import MappedNpy, MappedRows
from derivtrain.data.table import Data, Split
from derivtrain.data.targets import AS_GIVEN, TargetPlan, fitted_targets, target_statistics
from derivtrain.errors import DataError


def split_ranges(n: int, test_size: float, val_size: float):
    """(start, stop) of train, val and test, in that order, in file order."""
    n_test, n_val = int(round(test_size * n)), int(round(val_size * n))
    n_train = n - n_test - n_val
    return (0, n_train), (n_train, n_train + n_val), (n_train + n_val, n)


def chunked_moments(X: MappedNpy, start: int, stop: int, chunk_rows: int):
    """Mean and population standard deviation of rows [start, stop) in float64, one chunk at a time
    (Chan et al.'s pairwise update of count, mean and sum of squared deviations: no cancellation)."""
    count, mean, m2 = 0, torch.zeros(X.shape[1], dtype=torch.float64), torch.zeros(X.shape[1], dtype=torch.float64)
    for a in range(start, stop, chunk_rows):
        b = min(a + chunk_rows, stop)
        x = X.rows(a, b).to(torch.float64)
        X.release(a, b)
        n_b, mean_b = b - a, x.mean(dim=0)
        m2_b = ((x - mean_b) ** 2).sum(dim=0)
        delta, total = mean_b - mean, count + n_b
        mean = mean + delta * (n_b / total)
        m2 = m2 + m2_b + delta ** 2 * (count * n_b / total)
        count = total
    return mean, (m2 / count).sqrt()


def check_finite(X: MappedNpy, chunk_rows: int) -> None:
    for a in range(0, len(X), chunk_rows):
        b = min(a + chunk_rows, len(X))
        bad = ~torch.isfinite(X.rows(a, b)).all(dim=1)
        X.release(a, b)
        if bad.any():
            row = a + int(bad.nonzero()[0])
            raise DataError(f"{X.path}: row {row} has NaN or infinite features; clean or drop those rows first")


def build_out_of_core(X: MappedNpy, y: np.ndarray, spec, data_cfg, device: torch.device,
                      targets: TargetPlan = AS_GIVEN) -> Data:
    chunk_rows = int(data_cfg.chunk_rows)
    check_finite(X, chunk_rows)
    train, val, test = split_ranges(len(X), data_cfg.test_size, data_cfg.val_size)
    if spec.classes:
        missing = sorted(set(np.unique(y).tolist()) - set(np.unique(y[train[0]:train[1]]).tolist()))
        if missing:
            raise DataError(f"{X.path}: the training rows (the first {train[1]}, the split keeps file order) "
                            f"have no row of class {spec.classes[missing[0]]}; shuffle the rows once before "
                            "saving the .npy files")
    if data_cfg.standardize:
        mean, scale = chunked_moments(X, *train, chunk_rows)
        scale[scale < 10 * np.finfo(np.float64).eps] = 1.0  # constant features keep scale 1, like StandardScaler
    else:
        mean, scale = torch.zeros(X.shape[1], dtype=torch.float64), torch.ones(X.shape[1], dtype=torch.float64)
    mean_t = mean.to(device=device, dtype=torch.float64)  # kept float64: see MappedRows
    scale_t = scale.to(device=device, dtype=torch.float64)
    # regression targets (all of them fit in memory): centred and scaled in float64, then float32
    y_mean, y_scale = (0.0, 1.0) if spec.classes else target_statistics(y[train[0]:train[1]], targets)
    y_t = (torch.as_tensor(y, dtype=torch.int64, device=device) if spec.classes
           else fitted_targets(y, y_mean, y_scale, torch.float32, device))

    def part(bounds):
        start, stop = bounds
        return Split(X=MappedRows(X, start, stop, mean_t, scale_t, chunk_rows), y=y_t[start:stop])

    return Data(spec=spec, train=part(train), val=part(val) if val[1] > val[0] else None, test=part(test),
                feature_mean=mean_t, feature_scale=scale_t, target_mean=y_mean, target_scale=y_scale,
                indices={name: np.arange(*bounds) for name, bounds in zip(("train", "val", "test"), (train, val, test))})
