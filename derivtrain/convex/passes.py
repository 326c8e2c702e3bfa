"""The certificate's two float64 passes over the training rows: the scores X W^T + b, then G^T X.

X is float32 (or CSR); the sums are float64, which a gap of 1e-6 of the objective needs
(derivtrain/convex/certificate.py). A dense X is converted a block of rows at a time into a
float64 buffer of 2 MiB, reused for the whole pass: the conversion and the product then work in
the core's cache. Measured on 875k x 100 float32 rows, one thread (a float32 sum of X: 20 ms):
the scores pass 50 ms with blocks of 2048 rows against 146 ms with blocks of 65536 (a 52 MB
buffer written to memory and read back), G^T X for four columns 67 ms against 160 ms. Sparse
rows are converted block by block too (values only), never densified.

Dense float32 rows take compiled passes instead (passes_kernels.py), where the loops are compiled
ahead of time (derivtrain/compiled): each entry read once, as float32, and multiplied and summed in
float64, no copy. Measured on the same rows, one thread, medians of 7: the scores 46 -> 19 ms (a
float32 sum of X: 15 ms), G^T X for four columns 65 -> 45 ms; the sums agree to ~1e-15. CSR rows
with float32 values take them too, on X's own indptr, indices and values: 140k x 100k rows of 50
stored entries, two threads, medians of 7, the scores 19.3 -> 6.6 ms and G^T X for four columns
35.2 -> 27.9 ms against scipy's products on each block's values copied to float64 (the 5-epoch
sparse SGD fit of scripts/bench_cli_scale.py --sparse, alternating in one process, medians of 5:
0.453 -> 0.425 s, its end-of-run certificate 60 -> 47 ms). Where numba would have to start in the
process (no such module), the blocks above stay.

Each block's products run on one thread, and the run's threads share the blocks (derivtrain/
threads.py: map_blocks), rather than splitting every block's small products: torch ends each
parallel region only when all its threads have finished their part, so on cores busy with other
processes every block would wait for a scheduler slice (a certificate of 875k x 100 on 2 shared
cores took 6.1 s with torch's two threads per product, 2.0 s on one).
"""
import threading

import numpy as np
import torch

from derivtrain.compiled import available, kernel
from derivtrain.data.sparse import (astype, backproject as sparse_backproject, is_sparse, rows_between,
                                    times_transposed, to_scipy)
from derivtrain.threads import added_in_order, map_blocks, row_ranges, summed_blocks

_BUFFER_BYTES = 1 << 21  # a dense block's float64 copy, 2 MiB: 2621 rows of 100 features
_SPARSE_ROWS = 1 << 16  # CSR blocks: their copy is the nonzeros alone
_COMPILED_ROWS = 1 << 14  # rows a block of the compiled passes (no copy: blocks only share the work out)


def block_rows(X: torch.Tensor) -> int:
    """Rows per block: a dense block's float64 copy fits in _BUFFER_BYTES (at least 256 rows, so
    a block's products are not dominated by their call overhead)."""
    if is_sparse(X):
        return _SPARSE_ROWS
    return max(256, _BUFFER_BYTES // (8 * max(X.shape[1], 1)))


def block(X: torch.Tensor, a: int, step: int) -> torch.Tensor:
    """Rows a..a+step of X; dense ones in float64, through this thread's buffer (one per thread,
    reused for the whole pass: a fresh float64 copy per block costs page faults)."""
    rows = rows_between(X, a, a + step)
    if is_sparse(X) or X.dtype == torch.float64:
        return rows
    buffer = getattr(_buffers, "float64", None)
    if buffer is None or buffer.numel() < rows.numel() or buffer.device != X.device:
        with torch.inference_mode(False):  # a plain tensor: written in inference mode (the certified
            # solver's report) and out of it alike, where an inference tensor could not be
            buffer = _buffers.float64 = torch.empty(rows.numel(), dtype=torch.float64, device=X.device)
    return buffer[:rows.numel()].view(rows.shape).copy_(rows)


def scores(X: torch.Tensor, W: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """X W^T + b (n, K) in float64 (W, b float64), written block by block into one output."""
    out, step = W.new_empty(X.shape[0], W.shape[0]), block_rows(X)
    compiled = _compiled(X)
    if compiled is not None:  # float32 numbers read once, summed in float64 (passes_kernels.py)
        weights, bias, n, rows = W.contiguous().numpy(), b.contiguous().numpy(), X.shape[0], compiled.rows
        map_blocks(lambda a: compiled.scores(weights, bias, out.numpy(), a, min(a + rows, n)), range(0, n, rows))
        return out

    def one(a):
        rows = block(X, a, step)
        if is_sparse(rows):
            out[a:a + rows.shape[0]] = times_transposed(astype(rows, torch.float64), W) + b
        else:
            torch.addmm(b, rows, W.T, out=out[a:a + len(rows)])

    map_blocks(one, range(0, X.shape[0], step))
    return out


def backproject(Gt: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
    """G^T X (K, d) in float64 for Gt = G^T (K, n) float64, X read block by block (each block's
    product kept apart and summed in order: the same sum on any number of threads)."""
    step, compiled = block_rows(X), _compiled(X)
    if compiled is not None:
        weights, n, rows = Gt.contiguous().numpy(), X.shape[0], compiled.rows
        blocks = range(0, max(n, 1), rows)  # (no rows: one empty block, its zeros)
        return torch.from_numpy(summed_blocks(lambda a: compiled.backproject(weights, 0, a, min(a + rows, n)), blocks))

    def one(a):
        rows = block(X, a, step)
        if is_sparse(rows):  # the block's values in float64: scipy's one-pass product (sparse.backproject)
            return sparse_backproject(Gt[:, a:a + rows.shape[0]].T, astype(rows, Gt.dtype))
        return Gt[:, a:a + len(rows)].mm(rows)

    parts = map_blocks(one, range(0, X.shape[0], step))
    out = Gt.new_zeros(Gt.shape[0], X.shape[1])
    for part in parts:
        out += part
    return out


def backproject_written(write, K: int, X: torch.Tensor):
    """(the sum of write's parts, G^T X (K, d) float64) for a G (K, n) float64 that
    write(G_block, start, stop) fills for rows start..stop (G_block: (K, stop - start), C-contiguous),
    returning a numpy part of a sum over the rows (the parts added in the rows' order).

    On the compiled passes' rows each block is backprojected as soon as it is written, from a buffer
    of this thread's that stays in cache: G is never stored whole. The hinge certificate's G for 875k
    rows and four widths is 28 MB, and a run's end-of-run certificate writes it once, into memory the
    process had never touched (a sweep that takes ~10 ms into memory written before took 39 ms there).
    The hinge's dual points in the 1M-row `optim=sgd` CLI run's end-of-run certificate: 65 and 102 ms
    with the whole G, 31 and 35 ms a block at a time; the certificate 0.100 -> 0.072 s (medians of
    three runs each of scripts/bench_cli_scale.py --cases sgd, alternating with the code before).
    The blocks are the backprojection's own, so G^T X is the same sum, bit for bit. Elsewhere the
    blocks are written, joined and backprojected as before."""
    compiled = _compiled(X)
    blocks = row_ranges(X.shape[0], compiled.rows if compiled is not None else _COMPILED_ROWS)
    if compiled is not None:

        def one(span):
            start, stop = span
            G = _block_of_G(K, stop - start)
            return write(G, start, stop), compiled.backproject(G, start, start, stop)

        done = map_blocks(one, blocks)
        return added_in_order([part for part, _ in done]), torch.from_numpy(added_in_order([V for _, V in done]))
    done = map_blocks(lambda span: _written(write, K, *span), blocks)
    G = np.concatenate([G for _, G in done], axis=1)
    return added_in_order([part for part, _ in done]), backproject(torch.from_numpy(G), X)


def _block_of_G(K: int, rows: int) -> np.ndarray:
    """This thread's (K, rows) float64 buffer, reused for every block of every pass."""
    buffer = getattr(_buffers, "written", None)
    if buffer is None or len(buffer) < K * rows:
        buffer = _buffers.written = np.empty(K * max(rows, _COMPILED_ROWS))
    return buffer[:K * rows].reshape(K, rows)


def _written(write, K: int, start: int, stop: int):
    G = np.empty((K, stop - start))
    return write(G, start, stop), G


class _CompiledPasses:
    """The two compiled passes on X's own arrays (passes_kernels.py): scores(W, b, out, start, stop)
    writes rows start..stop's scores; backproject(Gt, first, start, stop) sums G_i x_i^T over those
    rows, row i's G in Gt's column i - first."""

    def __init__(self, X: torch.Tensor):
        # rows a block: a CSR block's sums are d numbers a column however few its rows, so its blocks
        # are as large as the copies' blocks were (3 of them for 140k rows)
        self.rows = _SPARSE_ROWS if is_sparse(X) else _COMPILED_ROWS
        if is_sparse(X):
            A = to_scipy(X)  # views of X's indptr, indices, values
            index = "i4" if A.indices.dtype == np.int32 else "i8"
            arrays, d = (A.indptr, A.indices, A.data), X.shape[1]
            scores, back = kernel(f"csr_scores_rows_{index}"), kernel(f"csr_backproject_rows_{index}")
            self.scores = lambda W, b, out, start, stop: scores(*arrays, W, b, out, start, stop)
            self.backproject = lambda Gt, first, start, stop: back(Gt, first, *arrays, d, start, stop)
        else:
            rows, scores, back = X.numpy(), kernel("scores_rows_f4"), kernel("backproject_rows_f4")
            self.scores = lambda W, b, out, start, stop: scores(rows, W, b, out, start, stop)
            self.backproject = lambda Gt, first, start, stop: back(Gt, rows[first:], start - first, stop - first)


def _compiled(X: torch.Tensor):
    """The compiled passes over X (_CompiledPasses), or None. They take float32 numbers in this
    process's memory, dense rows (C-contiguous) or CSR ones (their values float32), where the loops
    are already compiled ahead of time on this machine (derivtrain/compiled: numba's own start, or a
    build, would cost more than the pass saves)."""
    if X.device.type != "cpu" or X.dim() != 2 or not available(build=False):
        return None
    if is_sparse(X):
        return _CompiledPasses(X) if X.values().dtype == torch.float32 else None
    return _CompiledPasses(X) if X.dtype == torch.float32 and X.is_contiguous() else None


_buffers = threading.local()
