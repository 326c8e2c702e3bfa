"""Train/val/test splits (stratified for classification) and train-only standardization."""
import numpy as np


def split_indices(y: np.ndarray, test_size: float, val_size: float, seed: int, stratify: bool):
    """Index arrays (train, val, test). Stratified: each class is split in the same proportions."""
    rng = np.random.default_rng(seed)
    groups = [np.flatnonzero(y == c) for c in np.unique(y)] if stratify else [np.arange(len(y))]
    parts = {"train": [], "val": [], "test": []}
    for idx in groups:
        idx = rng.permutation(idx)
        n_test = int(round(test_size * len(idx)))
        n_val = int(round(val_size * len(idx)))
        parts["test"].append(idx[:n_test])
        parts["val"].append(idx[n_test:n_test + n_val])
        parts["train"].append(idx[n_test + n_val:])
    # shuffle across classes too, so a split is not ordered by class
    return tuple(rng.permutation(np.concatenate(parts[k])) for k in ("train", "val", "test"))


def fold_indices(y: np.ndarray, rows: np.ndarray, n_folds: int, fold: int, seed: int, stratify: bool):
    """Index arrays (train, val) of K-fold cross-validation over `rows` (the train+val rows; test
    stays apart): fold `fold` validates, the others train. Every row validates in exactly one fold.

    The partition depends on the seed and the rows only, so the K jobs of one seed share it.
    Stratified: each class is dealt round-robin over the folds, which then differ in size by at
    most one row and hold each class in the same proportion.
    """
    rng = np.random.default_rng([seed, n_folds])
    rows = np.sort(rows)
    groups = [rows[y[rows] == c] for c in np.unique(y[rows])] if stratify else [rows]
    dealt = np.concatenate([rng.permutation(idx) for idx in groups])
    in_fold = np.arange(len(dealt)) % n_folds == fold
    return rng.permutation(dealt[~in_fold]), rng.permutation(dealt[in_fold])


def standardizer(X_train: np.ndarray):
    """Mean and scale fitted on the training rows; constant features keep scale 1 (like StandardScaler)."""
    mean = X_train.mean(axis=0)
    scale = X_train.std(axis=0)
    scale[scale < 10 * np.finfo(np.float64).eps] = 1.0
    return mean, scale
