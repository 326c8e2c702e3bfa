"""Data: load a table, split it, standardize on train only, move it to the device as tensors.

Batches are index slices of a per-epoch permutation (derivtrain.train.loop), never a DataLoader:
for in-memory tensors a DataLoader over a TensorDataset costs ~30x per step.
"""
import numpy as np
import torch
from hydra.utils import get_method

from derivtrain.data.mapped import MappedNpy
from derivtrain.data.out_of_core import build_out_of_core, split_ranges
from derivtrain.data.split import fold_indices, split_indices, standardizer
from derivtrain.data.table import Data, DataSpec, Split, Table, check_features, check_split, check_targets
from derivtrain.errors import DataError

# keys every data config has that configure splitting, not loading
_SPLIT_KEYS = ("_target_", "test_size", "val_size", "standardize", "chunk_rows", "cv_folds", "fold")

__all__ = ["build_data", "load_table", "Data", "DataSpec", "Split", "Table"]


def load_table(data_cfg) -> Table:
    """Call the config's loader with its own keys (everything but the split keys)."""
    kwargs = {k: v for k, v in data_cfg.items() if k not in _SPLIT_KEYS}
    if "features" in kwargs and kwargs["features"] is not None:
        kwargs["features"] = list(kwargs["features"])
    return get_method(data_cfg._target_)(**kwargs)


def build_data(data_cfg, device: torch.device, seed: int) -> Data:
    table = load_table(data_cfg)
    _check_targets(table)
    classification = table.task == "classification"
    if classification:
        classes, y = np.unique(table.y, return_inverse=True)
        classes = [c.item() if hasattr(c, "item") else c for c in classes]  # numpy scalars -> python
    else:
        classes, y = [], table.y.astype(np.float64)
    spec = DataSpec(task=table.task, n_features=table.X.shape[1], classes=classes,
                    feature_names=[str(n) for n in table.feature_names])
    check_targets(y, table.task)
    if isinstance(table.X, MappedNpy):  # out of core: never loaded whole
        (_, n_train), _, (test_start, n) = split_ranges(len(y), data_cfg.test_size, data_cfg.val_size)
        check_split({"train": n_train, "test": n - test_start}, n, data_cfg.test_size, data_cfg.val_size, False)
        return build_out_of_core(table.X, y, spec, data_cfg, device)
    check_features(table.X, spec.feature_names)
    train, val, test = split_indices(y, data_cfg.test_size, data_cfg.val_size, seed, stratify=classification)
    check_split({"train": len(train), "test": len(test)}, len(y), data_cfg.test_size, data_cfg.val_size,
                stratified=classification)
    if data_cfg.get("cv_folds"):  # K-fold: the fold validates, the other train+val rows train
        train, val = _cv_fold(y, np.concatenate([train, val]), data_cfg, seed, classification)
    if data_cfg.standardize:
        mean, scale = standardizer(table.X[train].astype(np.float64))
    else:
        mean, scale = np.zeros(table.X.shape[1]), np.ones(table.X.shape[1])
    mean_t = torch.as_tensor(mean, dtype=torch.float32, device=device)
    scale_t = torch.as_tensor(scale, dtype=torch.float32, device=device)
    X_all = torch.as_tensor(table.X, dtype=torch.float32, device=device)
    X_all = (X_all - mean_t) / scale_t
    y_all = torch.as_tensor(y, dtype=torch.int64 if classification else torch.float32, device=device)

    def take(idx):
        idx_t = torch.as_tensor(idx, device=device)
        return Split(X=X_all[idx_t].contiguous(), y=y_all[idx_t])

    return Data(spec=spec, train=take(train), val=take(val) if len(val) else None, test=take(test),
                feature_mean=mean_t, feature_scale=scale_t, indices={"train": train, "val": val, "test": test})


def _cv_fold(y, rows, data_cfg, seed: int, stratify: bool):
    if data_cfg.cv_folds > len(rows):
        raise DataError(f"data.cv_folds={data_cfg.cv_folds} is more folds than the {len(rows)} rows outside "
                        "the test split; use fewer folds")
    return fold_indices(y, rows, data_cfg.cv_folds, data_cfg.fold, seed, stratify)


def _check_targets(table: Table) -> None:
    if table.X.ndim != 2 or len(table.X) != len(table.y):
        raise DataError(f"features must be a 2-D table with one target per row (got {table.X.shape} "
                        f"and {len(table.y)} targets)")
    if table.task == "classification" and len(np.unique(table.y)) < 2:
        raise DataError("classification needs at least two classes in the target column")

