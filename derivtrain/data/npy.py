"""Your own arrays on disk: features in a 2-D .npy (memory-mapped, read in chunks), targets in a 1-D .npy.

    python -m derivtrain data=npy data.path=X.npy data.target=y.npy trainer.batch_size=4096

The features are never loaded whole (derivtrain/data/mapped.py); the targets, one value per row,
are. data.target=null: no target, a density problem.
"""
from pathlib import Path
from typing import Optional

import numpy as np

from derivtrain.data.mapped import MappedNpy, check_npy_file
from derivtrain.data.sizes import check_npy_bytes
from derivtrain.data.table import Table, generated_names, infer_task, whole_numbers
from derivtrain.errors import DataError


def load_npy(path: str, target: Optional[str], task: str = "auto") -> Table:
    X = MappedNpy(_existing(path, "data.path"))
    names = generated_names(X.shape[1])
    if target is None:
        return Table(X=X, y=np.zeros(len(X)), feature_names=names, task="density")
    target_file = _existing(target, "data.target")
    check_npy_file(target_file, "data.target")
    check_npy_bytes(target_file, "data.target")
    try:
        y = np.load(target_file, allow_pickle=False)
    except (ValueError, OSError) as err:
        raise DataError(f"data.target={target} is not a readable .npy file ({err})") from None
    if y.ndim != 1 or len(y) != len(X):
        raise DataError(f"data.target={target} has shape {y.shape}; it needs one value per row of "
                        f"data.path ({len(X)} rows)")
    numeric = y.dtype.kind in "biuf"
    if numeric and not np.isfinite(y).all():
        raise DataError(f"data.target={target} contains NaN or infinite values; clean or drop those rows first")
    if task == "auto":
        task = infer_task(y if numeric else None)
    if task == "regression":
        if not numeric:
            raise DataError(f"data.target={target} holds {y.dtype}; regression needs numbers "
                            "(or set data.task=classification)")
        y = y.astype(np.float64)
    elif y.dtype.kind == "f" and whole_numbers(y):
        y = y.astype(np.int64)  # labels saved as floats (1.0) are the classes 1, 2, ...
    return Table(X=X, y=y, feature_names=names, task=task)


def _existing(path: str, key: str) -> str:
    file = Path(path).expanduser()
    if not file.is_file():
        raise DataError(f"{key}={path}: no such file" + (" (it is a folder)" if file.is_dir() else ""))
    return str(file)
