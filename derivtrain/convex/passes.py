"""The certificate's two float64 passes over the training rows: the scores X W^T + b, then G^T X.

X is float32 (or CSR); the sums are float64, which a gap of 1e-6 of the objective needs
(derivtrain/convex/certificate.py). A dense X is converted a block of rows at a time into a
float64 buffer of 2 MiB, reused for the whole pass: the conversion and the product then work in
the core's cache. Measured on 875k x 100 float32 rows, one thread (a float32 sum of X: 20 ms):
the scores pass 50 ms with blocks of 2048 rows against 146 ms with blocks of 65536 (a 52 MB
buffer written to memory and read back), G^T X for four columns 67 ms against 160 ms. Sparse
rows are converted block by block too (values only), never densified.

Each block's products run on one thread, and the run's threads share the blocks (derivtrain/
threads.py: map_blocks), rather than splitting every block's small products: torch ends each
parallel region only when all its threads have finished their part, so on cores busy with other
processes every block would wait for a scheduler slice (a certificate of 875k x 100 on 2 shared
cores took 6.1 s with torch's two threads per product, 2.0 s on one).
"""
import threading

import torch

from derivtrain.data.sparse import (astype, backproject as sparse_backproject, is_sparse, rows_between,
                                    times_transposed)
from derivtrain.threads import map_blocks

_BUFFER_BYTES = 1 << 21  # a dense block's float64 copy, 2 MiB: 2621 rows of 100 features
_SPARSE_ROWS = 1 << 16  # CSR blocks: their copy is the nonzeros alone


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
    step = block_rows(X)

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


_buffers = threading.local()
