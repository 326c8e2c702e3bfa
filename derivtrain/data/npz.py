"""Sparse features saved by scipy.sparse.save_npz, targets in a 1-D .npy (one value per row).

    python -m derivtrain data=npz data.path=X.npz data.target=y.npy model=logistic

The features stay sparse (a torch CSR tensor on the device). data.path may be a folder or glob
of .npz files (rows in name order); data.target is then one .npy for all their rows. Under
trainer=ddp with several files each rank reads only its own files (whole files, by count; the
row counts come from the files' small `shape` entries); with one file every rank reads it and
keeps its rows.
"""
from typing import Optional

import numpy as np

from derivtrain.data.shards import OneProcess, expand_paths, files_of_rank
from derivtrain.data.sizes import check_npy_bytes, check_sparse_npz
from derivtrain.data.table import Table, generated_names, infer_task
from derivtrain.errors import DataError


def load_npz(path: str, target: Optional[str], task: str = "auto", comm=None) -> Table:
    import scipy.sparse as sp

    comm = comm or OneProcess()
    files = expand_paths(path, "data.path", (".npz",))
    shapes = [_shape(f, path) for f in files]
    counts = [rows for rows, _ in shapes]
    widths = {columns for _, columns in shapes}
    if len(widths) > 1:
        raise DataError(f"data.path={path}: the .npz files have different numbers of columns {sorted(widths)}; "
                        "save them with the same number of features")
    held, mine = None, files
    if comm.world_size > 1 and len(files) >= comm.world_size:
        mine = files_of_rank(files, comm.rank, comm.world_size, "data.path")
        first = files.index(mine[0])
        lo = sum(counts[:first])
        held = (lo, lo + sum(counts[first:first + len(mine)]))
    X = sp.vstack([_matrix(f, path) for f in mine], format="csr")
    y = _targets(target, sum(counts), path)
    if task == "auto":
        task = infer_task(y if y.dtype.kind in "biuf" else None)
    if task == "regression":
        y = y.astype(np.float64)
    elif y.dtype.kind == "f" and np.all(y == np.round(y)):
        y = y.astype(np.int64)
    return Table(X=X, y=y, feature_names=generated_names(X.shape[1]), task=task, held_rows=held)


def _shape(file, path):
    """(rows, columns) as the file declares them, checked against its bytes and the memory available
    before scipy allocates anything (derivtrain/data/sizes.py)."""
    return check_sparse_npz(file, f"data.path={path}" + (f" ({file.name})" if str(file) != str(path) else ""))


def _matrix(file, path):
    import scipy.sparse as sp

    try:
        A = sp.load_npz(file).tocsr()
    except (OSError, ValueError, KeyError) as err:
        raise DataError(f"data.path={path}: {file.name} is not a matrix saved by scipy.sparse.save_npz ({err})") \
            from None
    if A.dtype.kind not in "biuf":
        raise DataError(f"data.path={path}: {file.name} holds {A.dtype}; save numeric features")
    # the values as saved: standardization scales them in float64 and rounds once (derivtrain/data/
    # in_memory.py), so a float64 file's certified problem is its own numbers (a float32 copy here
    # rounded them first, and took 0.34 s of copies for 7M nonzeros)
    return A


def _targets(target, n_rows: int, path: str) -> np.ndarray:
    if target is None:
        raise DataError("data=npz needs data.target=<targets.npy> (one value per row)")
    files = expand_paths(target, "data.target", (".npy",))
    for f in files:
        check_npy_bytes(f, "data.target")
    try:
        y = np.concatenate([np.load(f, allow_pickle=False) for f in files])
    except ValueError as err:
        raise DataError(f"data.target={target} is not a readable .npy file ({err})") from None
    if y.ndim != 1 or len(y) != n_rows:
        raise DataError(f"data.target={target} has shape {y.shape}; it needs one value per row of "
                        f"data.path ({n_rows} rows)")
    if y.dtype.kind in "biuf" and not np.isfinite(y).all():
        raise DataError(f"data.target={target} contains NaN or infinite values; clean or drop those rows first")
    return y
