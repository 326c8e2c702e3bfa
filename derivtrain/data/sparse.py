"""Sparse rows (torch sparse CSR) and the few operations on them that training needs.

The features of data=svmlight and data=npz stay sparse from the file to the device: X is a torch
sparse CSR tensor (crow_indices, col_indices, values), never densified. torch's own CSR support
is partial, so the operations below are written with index arithmetic on those three arrays:

  rows_between(X, a, b)   a contiguous block of rows: views of the three arrays, no copy
  take_rows(X, idx)       a gather of rows: scipy's on the CPU (views of the arrays, no copy in),
                          on a GPU the rows' nonzeros found by one cumulative sum (torch has no
                          index_select for CSR)
  backproject(G, X)       G^T X: one index_add over the nonzeros (torch's dense @ CSR forms the
                          transpose, sorting the nonzeros, ~10x slower; measured in
                          scripts/bench_scale.py's sparse case)

Every helper takes dense tensors too and does the dense thing, so callers need not ask.
"""
import warnings

import numpy as np
import torch

from derivtrain.data.rank_k import weighted_gram

_announced = False  # torch warns once a process that CSR support is in "beta state"


def is_sparse(X) -> bool:
    return isinstance(X, torch.Tensor) and X.layout == torch.sparse_csr


def stored_numbers(X) -> int:
    """Numbers a pass over rows X reads: a CSR tensor's stored values, else rows x features (a tensor,
    a numpy array or rows read from disk: anything with a 2-D shape)."""
    if is_sparse(X):
        return int(X.values().numel())
    rows, features = X.shape
    return int(rows) * int(features)


def csr(crow: torch.Tensor, col: torch.Tensor, values: torch.Tensor, n_columns: int) -> torch.Tensor:
    """A CSR tensor from its arrays (built by the helpers here: no invariant checks)."""
    global _announced
    size = (len(crow) - 1, n_columns)
    if _announced:
        return torch.sparse_csr_tensor(crow, col, values, size=size, check_invariants=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        _announced = True
        return torch.sparse_csr_tensor(crow, col, values, size=size, check_invariants=False)


def from_scipy(A, device=None, dtype=torch.float32) -> torch.Tensor:
    """A scipy CSR matrix as a torch CSR tensor: 32-bit indices while the nonzeros fit them
    (half the memory, and torch's CSR kernels are faster on them)."""
    A = A.tocsr()
    index = np.int32 if A.nnz < 2 ** 31 and max(A.shape) < 2 ** 31 else np.int64
    crow = torch.from_numpy(np.asarray(A.indptr, dtype=index))
    col = torch.from_numpy(np.asarray(A.indices, dtype=index))
    values = torch.from_numpy(np.asarray(A.data)).to(dtype)
    if device is not None:
        return csr(crow, col, values, A.shape[1]).to(device)
    X = csr(crow, col, values, A.shape[1])
    _keep_view(X, A)  # to_scipy's answer, already made (the batches of an epoch)
    return X


def to_scipy(X):
    """A scipy CSR matrix on X's own arrays (no copy; a CPU tensor's), kept on the tensor for the next
    call: a solver or an epoch of minibatches asks for it dozens of times, and scipy's constructor
    checks the arrays each time (0.17 ms on 20k x 2k rows, a tenth of a sparse Newton fit's passes).
    The matrix shares X's memory, so it sees any in-place change of the values."""
    import scipy.sparse as sp

    kept = getattr(X, "_scipy_view", None)
    if kept is not None and kept[0] == X.values().data_ptr():
        return kept[1]
    matrix = sp.csr_matrix((X.values().cpu().numpy(), X.col_indices().cpu().numpy(),
                            X.crow_indices().cpu().numpy()), shape=tuple(X.shape))
    _keep_view(X, matrix)
    return matrix


def _keep_view(X: torch.Tensor, matrix) -> None:
    """Keep a scipy matrix on X for to_scipy where it is a view of X's values (a CPU tensor's), not a copy."""
    if X.device.type == "cpu" and matrix.data.ctypes.data == X.values().data_ptr():
        X._scipy_view = (X.values().data_ptr(), matrix)


def rows_between(X: torch.Tensor, start: int, stop: int) -> torch.Tensor:
    """Rows [start, stop) of X; for CSR, views of its arrays (one host read of two row pointers)."""
    if not is_sparse(X):
        return X[start:stop]
    crow, stop = X.crow_indices(), max(start, min(stop, X.shape[0]))
    lo, hi = int(crow[start]), int(crow[stop])
    return csr(crow[start:stop + 1] - lo, X.col_indices()[lo:hi], X.values()[lo:hi], X.shape[1])


def take_rows(X: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """Rows idx of X, in that order.

    CPU CSR: scipy's row gather (one compiled pass over the rows' nonzeros) on views of X's arrays,
    its result's arrays taken back without a copy: 0.31 ms for 4096 rows of 50 nonzeros against
    0.75 ms for the ~10 torch kernels below (measured on this project's sparse bench rows).
    GPU CSR: the nonzeros of output row i are source positions start_i .. end_i - 1. Those
    positions are one cumulative sum of steps that are 1 within a row and jump at each row's
    first nonzero (to start_i from the previous row's end; an empty row's jump adds to the next
    one's, so index_add rather than a scatter), then two index_selects. One host sync (the
    output's number of nonzeros)."""
    if not is_sparse(X):
        return X.index_select(0, idx)
    if X.device.type == "cpu":
        return from_scipy(to_scipy(X)[idx.numpy()], dtype=X.dtype)
    crow, idx = X.crow_indices(), idx.to(X.crow_indices().dtype)
    starts, ends = crow.index_select(0, idx), crow.index_select(0, idx + 1)
    new_crow = torch.zeros(len(idx) + 1, dtype=crow.dtype, device=crow.device)
    torch.cumsum(ends - starts, 0, out=new_crow[1:])
    total = int(new_crow[-1])
    previous_ends = torch.cat([ends.new_zeros(1), ends[:-1]])
    steps = torch.ones(total + 1, dtype=torch.int64, device=crow.device)
    steps.index_add_(0, new_crow[:-1].long(), (starts - previous_ends).long())
    positions = steps.cumsum_(0)[:total].sub_(1)
    return csr(new_crow, X.col_indices().index_select(0, positions), X.values().index_select(0, positions),
               X.shape[1])


def row_ids(X: torch.Tensor) -> torch.Tensor:
    """The row of each nonzero of a CSR tensor (in X's index dtype: int32 where it fits)."""
    crow = X.crow_indices()
    counts = crow[1:] - crow[:-1]
    return torch.repeat_interleave(torch.arange(len(counts), dtype=crow.dtype, device=crow.device), counts,
                                   output_size=X.values().numel())


def backproject(G: torch.Tensor, X: torch.Tensor, rows: torch.Tensor | None = None) -> torch.Tensor:
    """G^T X for G (n, K): (K, d). For CSR, out[k, col] += G[row, k] * value over the nonzeros, in
    G's dtype (a float64 G gets float64 sums of float32 values). `rows`: row_ids(X), if known (a
    solver that passes over the same rows again and again keeps them).
    One 1-D index_add per score column: with 32-bit indices torch's 2-D index_add is ~20x slower."""
    if not is_sparse(X):
        return G.T @ X.to(G.dtype)
    if X.device.type == "cpu" and G.dtype == X.dtype:
        # scipy's transposed product: one compiled pass, 0.21 ms against 0.52 ms for a 4096-row
        # minibatch of 50 nonzeros a row, 0.43 ms against 1.39 ms with known row ids for the certified
        # solver's 20k x 2k text-like rows (a float64 G with float32 rows keeps the pass below: scipy
        # would copy X's values to float64 first). Same sums in the same order: the same bits.
        transposed, g = to_scipy(X).T, G.detach().numpy()
        if G.shape[1] == 1:  # a vector: scipy's matrix-vector loop, not its loop over columns
            return torch.from_numpy(transposed @ np.ascontiguousarray(g[:, 0])).unsqueeze(0)
        return torch.from_numpy(np.ascontiguousarray((transposed @ g).T))
    col, values = X.col_indices(), X.values().to(G.dtype)
    crow = X.crow_indices()
    counts = crow[1:] - crow[:-1] if rows is None else None
    out = G.new_zeros(G.shape[1], X.shape[1])
    for k in range(G.shape[1]):
        g = G[:, k]
        # each nonzero's entry of g: repeated per row in one pass (a minibatch: ~3x faster than
        # row_ids + a gather, and than repeating the 2-D G), or gathered by known row ids
        per_nonzero = g.repeat_interleave(counts, output_size=values.numel()) if rows is None else g.index_select(0, rows)
        out[k].index_add_(0, col, per_nonzero * values)
    return out


def times_transposed(X: torch.Tensor, W: torch.Tensor) -> torch.Tensor:
    """X W^T (n, K) for X (n, d), dense or CSR, and W (K, d). A CSR X on the CPU with one row of W in
    X's dtype: scipy's matrix-vector product on views of X's arrays (20k x 2k rows of 30 nonzeros,
    float64: 0.37 ms against 0.51 ms for torch's; three rows: torch's 0.88 ms against scipy's 2.24)."""
    if is_sparse(X) and X.device.type == "cpu" and W.shape[0] == 1 and W.dtype == X.dtype:
        return torch.from_numpy(to_scipy(X) @ np.ascontiguousarray(W.detach().numpy()[0])).unsqueeze(1)
    return X @ W.T


def scale_columns(X: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """X with column j multiplied by factor[j] (a new tensor; CSR: its values only)."""
    if not is_sparse(X):
        return X * factor
    values = X.values() * factor.to(X.values().dtype).index_select(0, X.col_indices())
    return csr(X.crow_indices(), X.col_indices(), values, X.shape[1])


def squared(X: torch.Tensor) -> torch.Tensor:
    """X with every entry squared (CSR: its values only): diag(X^T D X) = (X*X)^T D."""
    if not is_sparse(X):
        return X.square()
    return csr(X.crow_indices(), X.col_indices(), X.values().square(), X.shape[1])


def with_ones_column(X: torch.Tensor) -> torch.Tensor:
    """[X | 1]: the bias's feature appended as a last column (CSR: one more nonzero a row)."""
    if not is_sparse(X):
        return torch.cat([X, X.new_ones(len(X), 1)], dim=1)
    return _with_ones_column_cpu(X) if X.device.type == "cpu" else _with_ones_column_torch(X)


def _with_ones_column_torch(X: torch.Tensor) -> torch.Tensor:
    """with_ones_column by torch's kernels, on X's device."""
    crow, n, d = X.crow_indices(), X.shape[0], X.shape[1]
    nnz = X.values().numel()
    index = crow.dtype if nnz + n < 2 ** 31 else torch.int64
    new_crow = crow.to(index) + torch.arange(n + 1, dtype=index, device=crow.device)
    ones_at = (new_crow[1:] - 1).long()  # each row's last slot
    old_at = torch.arange(nnz, device=crow.device) + row_ids(X)  # the k-th nonzero moves past its row's ones
    col = torch.empty(nnz + n, dtype=index, device=crow.device)
    values = torch.empty(nnz + n, dtype=X.values().dtype, device=crow.device)
    col.index_copy_(0, old_at, X.col_indices().to(index))
    values.index_copy_(0, old_at, X.values())
    col.index_fill_(0, ones_at, d)
    values.index_fill_(0, ones_at, 1.0)
    return csr(new_crow, col, values, d + 1)


def _with_ones_column_cpu(X: torch.Tensor) -> torch.Tensor:
    """with_ones_column by numpy: the old nonzeros written through a mask of the slots that are not a
    row's last (sequential writes), 1.2 ms against 3.0 ms for the scatters above on 20k x 2k rows."""
    crow, n, d = X.crow_indices().numpy(), X.shape[0], X.shape[1]
    nnz = X.values().numel()
    index = crow.dtype if nnz + n < 2 ** 31 else np.int64
    new_crow = crow.astype(index) + np.arange(n + 1, dtype=index)
    kept = np.ones(nnz + n, dtype=bool)
    kept[new_crow[1:] - 1] = False  # each row's last slot: its ones
    col, values = np.full(nnz + n, d, dtype=index), np.ones(nnz + n, dtype=X.values().numpy().dtype)
    col[kept], values[kept] = X.col_indices().numpy(), X.values().numpy()
    return csr(torch.from_numpy(new_crow), torch.from_numpy(col), torch.from_numpy(values), d + 1)


def astype(X: torch.Tensor, dtype) -> torch.Tensor:
    """X with its values in dtype (CSR: the structure is shared)."""
    if not is_sparse(X):
        return X.to(dtype)
    return csr(X.crow_indices(), X.col_indices(), X.values().to(dtype), X.shape[1])


def gram(X: torch.Tensor, weights: torch.Tensor, dtype: torch.dtype | None = None) -> torch.Tensor:
    """X^T diag(weights) X as a dense (d, d) matrix, for X with few enough columns that it fits;
    dense X: summed in `dtype` (None: X's), CSR: in its values' dtype."""
    if not is_sparse(X):  # one symmetric rank-k update (derivtrain/data/rank_k.py)
        return weighted_gram(X, weights, dtype)
    # on the CPU scipy's sparse product, without torch's transpose to CSR each call: 20k x 2k rows
    # of 31 nonzeros, one thread of a loaded 2-core machine, 0.63 -> 0.42 s (the product itself 0.31)
    if X.device.type == "cpu":
        A = to_scipy(X)
        weighted = A.multiply(weights.to(X.values().dtype).cpu().numpy()[:, None]).tocsr()
        return torch.from_numpy((A.T.tocsr() @ weighted).toarray()).to(X.values().dtype)
    weighted = scale_rows(X, weights)
    transposed = X.t().to_sparse_csr()
    return torch.sparse.mm(transposed, weighted).to_dense()


def scale_rows(X: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    if not is_sparse(X):
        return X * factor.reshape(-1, 1)
    values = X.values() * factor.to(X.values().dtype).index_select(0, row_ids(X))
    return csr(X.crow_indices(), X.col_indices(), values, X.shape[1])
