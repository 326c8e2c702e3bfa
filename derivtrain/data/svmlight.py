"""Sparse data in the svmlight / libsvm text format: one row a line, `label index:value ...`.

    python -m derivtrain data=svmlight data.path=rcv1.svm model=svm trainer.batch_size=4096

The features stay sparse (scipy CSR here, a torch CSR tensor on the device: never densified);
the labels are the first field of each line. data.path may be one file, a folder of files or a
glob pattern: one process reads them in name order. Under trainer=ddp each rank reads only its
own share of the bytes (scikit-learn's reader starts and stops at line boundaries inside a
byte range), so no rank parses the whole data set.

Indices are one-based in the libsvm convention; data.zero_based=auto takes them as zero-based
only if an index 0 appears anywhere (in any rank's share). data.n_features: the number of
columns (null: the largest index seen), to match a model trained on another file.
"""
from typing import Optional

import numpy as np

from derivtrain.data.shards import OneProcess, expand_paths
from derivtrain.data.sizes import BYTES_PER_COLUMN, check_fits
from derivtrain.data.table import Table, generated_names, infer_task
from derivtrain.errors import DataError

_WIDEST = 2 ** 31 - 1
# scikit-learn's reader holds a nonzero as a float64 and an int64 index, then the float32 CSR copy:
# ~6 bytes of memory a byte of text, at worst (a nonzero takes at least 4 bytes: "1:1 ")
TEXT_COPIES = 6


def load_svmlight(path: str, task: str = "auto", n_features: Optional[int] = None, zero_based: str = "auto",
                  comm=None) -> Table:
    import scipy.sparse as sp
    import torch

    comm = comm or OneProcess()
    files = [f for f in expand_paths(path, "data.path", ("",)) if not f.name.startswith(".")]
    check_fits(TEXT_COPIES * sum(f.stat().st_size for f in files) // comm.world_size,
               f"data.path={path} (svmlight text, read by each of {comm.world_size} process(es))")
    parts = [_read(file, offset, length, path) for file, offset, length in
             byte_share(files, comm.rank, comm.world_size)]
    width = max([A.shape[1] for A, _ in parts] + [0])
    if len(parts) == 1:  # one piece (one file, or one rank's bytes of one): no stacked copy
        local = _widen(parts[0][0], width)
    else:
        local = sp.vstack([_widen(A, width) for A, _ in parts] or [sp.csr_matrix((0, width), dtype=np.float32)],
                          format="csr")
    y_local = np.concatenate([y for _, y in parts]) if parts else np.zeros(0)
    shift = _index_shift(local, zero_based, comm)
    # no row at all (an empty file, comments only): width 0, and "holds no rows" below
    width = max(int(comm.all_max(torch.tensor(local.shape[1])).item()) - shift, 0)
    if n_features is not None:
        if width > n_features:
            raise DataError(f"data.n_features={n_features}, but {path} has feature index {width - 1 + (1 - shift)} "
                            f"({'zero' if shift == 0 else 'one'}-based); raise data.n_features or drop it")
        width = n_features
    check_fits(width * BYTES_PER_COLUMN, f"data.path={path} with {width} feature columns"
               + (" (data.n_features)" if n_features is not None else " (its largest feature index)"))
    # in place, and narrowed to 32 bits where they fit (a byte range is read with 64-bit indices):
    # the rows' largest copy is then the one torch makes of them (memory per rank, bench_scale.py --ranks --sparse)
    indices, indptr = local.indices, local.indptr
    indices -= shift
    if width < _WIDEST and local.nnz < _WIDEST:  # scipy keeps 32-bit indices only if both arrays have them
        indices, indptr = indices.astype(np.int32, copy=False), indptr.astype(np.int32, copy=False)
    X = sp.csr_matrix((local.data, indices, indptr), shape=(local.shape[0], width))
    y, held = _all_labels(y_local, comm)
    if len(y) == 0:
        raise DataError(f"data.path={path} holds no rows")
    if task == "auto":
        task = infer_task(y)
    if task == "classification" and np.all(y == np.round(y)):
        y = y.astype(np.int64)  # labels written as +1/-1 or 1.0: classes
    return Table(X=X, y=y, feature_names=generated_names(width), task=task, held_rows=held)


def byte_share(files: list, rank: int, world_size: int) -> list:
    """Rank r's bytes [B r / W, B (r + 1) / W) of the files laid end to end, as (file, offset,
    length) pieces (length -1: to the file's end)."""
    sizes = [f.stat().st_size for f in files]
    total = sum(sizes)
    lo, hi = total * rank // world_size, total * (rank + 1) // world_size
    pieces, start = [], 0
    for file, size in zip(files, sizes):
        a, b = max(lo, start), min(hi, start + size)
        if a < b:
            pieces.append((file, a - start, -1 if b == start + size else b - a))
        start += size
    return pieces


def _read(file, offset: int, length: int, path: str):
    from sklearn.datasets import load_svmlight_file  # lazy: scikit-learn loads only for this data

    # a byte range needs a width up front: the widest index 32 bits hold, cut to the largest seen below
    width = None if offset == 0 and length == -1 else _WIDEST
    try:
        X, y = load_svmlight_file(str(file), n_features=width, dtype=np.float32, zero_based=True, offset=offset,
                                  length=length)
    except OverflowError:  # an index beyond what the reader's integers hold
        raise DataError(f"data.path={path}: {file.name} has a feature index beyond {_WIDEST} (2**31 - 1), "
                        "the largest the svmlight reader takes; renumber the features") from None
    except (ValueError, RuntimeError) as err:
        raise DataError(f"data.path={path}: {file.name} is not in the svmlight/libsvm format "
                        f"(`label index:value ...` a line): {err}") from None
    X = X.tocsr()
    return _widen(X, int(X.indices.max()) + 1 if X.nnz else 0), y


def _widen(A, width: int):
    import scipy.sparse as sp

    return sp.csr_matrix((A.data, A.indices, A.indptr), shape=(A.shape[0], width))


def _index_shift(X, zero_based: str, comm) -> int:
    """1 for one-based indices (the first column is index 1), 0 for zero-based."""
    import torch

    setting = str(zero_based).lower()
    if setting in ("true", "false"):
        one_based = setting == "false"
    else:  # auto: zero-based only if an index 0 appears in any rank's rows
        smallest = int(X.indices.min()) if X.nnz else 1
        one_based = int(comm.all_min(torch.tensor(smallest)).item()) > 0
    if one_based and X.nnz and X.indices.min() == 0:
        raise DataError("data.zero_based=false but the data has feature index 0; use data.zero_based=auto or true")
    return 1 if one_based else 0


def _all_labels(y_local: np.ndarray, comm):
    """Every row's label (rank order is row order) and the rows [lo, hi) this rank holds."""
    import torch

    if comm.world_size == 1:
        return y_local.astype(np.float64), None
    parts = comm.gather_vectors(torch.as_tensor(y_local, dtype=torch.float64))
    lo = sum(len(p) for p in parts[:comm.rank])
    return torch.cat(parts).numpy(), (lo, lo + len(y_local))
