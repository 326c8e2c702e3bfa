"""K-fold cross-validation along a path, in one process: each fold's path, then its scores.

The folds split the run's training rows (train+val: derivtrain/config/path_checks.py gives the run
no separate validation split) the way data.fold=k runs do, stratified by class; the test rows stay
apart and are scored once, by the refit. The folds share the training rows' standardization, as a
StandardScaler fitted before scikit-learn's LogisticRegressionCV would.
"""
from dataclasses import replace

import numpy as np
import torch

from derivtrain.data.split import fold_indices
from derivtrain.path.solve import solve_paths


def cross_validate(ctx, strengths: list, n_folds: int, seed: int, key_of, splits=None, unit: float = 1.0) -> tuple:
    """(scores (K, P), the metric's key, each fold's points): fold k's validation metric at each
    strength. key_of(metrics) names the metric to read (the sweep's monitor). `splits`: the folds as
    (training rows, validation rows) pairs instead (scikit-learn's cv=<splits>). `strengths` may be
    a function of a fold's Data (scikit-learn's C is per row: alpha = 1 / (C n_fold))."""
    datas = fold_data(ctx.data, n_folds, seed) if splits is None else split_data(ctx.data, splits)
    grids = [strengths(data) if callable(strengths) else strengths for data in datas]
    paths = solve_paths([replace(ctx, data=data) for data in datas], grids, unit)
    key = key_of(paths[0][0].metrics)
    return np.asarray([[p.metrics[key] for p in points] for points in paths], dtype=np.float64), key, paths


def fold_data(data, n_folds: int, seed: int) -> list:
    """The K Data objects: fold k validates, the other folds train; the test split is the run's."""
    train = data.train
    y = train.y.cpu().numpy()
    classification = bool(data.spec.classes)
    folds = []
    for k in range(n_folds):
        fit_rows, val_rows = fold_indices(y, np.arange(len(y)), n_folds, k, seed, classification)
        folds.append(replace(data, train=_rows(train, fit_rows), val=_rows(train, val_rows)))
    return folds


def split_data(data, splits) -> list:
    """The Data of given (training rows, validation rows) pairs, positions in the run's training rows."""
    return [replace(data, train=_rows(data.train, np.asarray(a)), val=_rows(data.train, np.asarray(b)))
            for a, b in splits]


def _rows(split, rows: np.ndarray):
    index = torch.as_tensor(rows, device=split.y.device)
    X = split.X
    if X.layout == torch.sparse_csr:  # sparse rows stay sparse (CSR has no index_select; COO has)
        X = X.to_sparse_coo().index_select(0, index).to_sparse_csr()
    else:
        X = X.index_select(0, index)
    weight = split.weight.index_select(0, index) if split.weight is not None else None
    return replace(split, X=X, y=split.y.index_select(0, index), weight=weight, shard=None)
