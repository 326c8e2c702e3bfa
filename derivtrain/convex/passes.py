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
float32 sum of X: 15 ms), G^T X for four columns 65 -> 45 ms; the sums agree to ~1e-15. Where numba
would have to start in the process (no such module), the blocks above stay.

Each block's products run on one thread, and the run's threads share the blocks (derivtrain/
threads.py: map_blocks), rather than splitting every block's small products: torch ends each
parallel region only when all its threads have finished their part, so on cores busy with other
processes every block would wait for a scheduler slice (a certificate of 875k x 100 on 2 shared
cores took 6.1 s with torch's two threads per product, 2.0 s on one).
"""
import threading

import torch

from derivtrain.compiled import available, kernel
from derivtrain.data.sparse import (astype, backproject as sparse_backproject, is_sparse, rows_between,
                                    times_transposed)
from derivtrain.threads import map_blocks, summed_blocks

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
    if _compiled(X):  # float32 rows read once, summed in float64 (passes_kernels.py)
        rows, weights, bias = X.numpy(), W.contiguous().numpy(), b.contiguous().numpy()
        pass_rows = kernel("scores_rows_f4")
        map_blocks(lambda a: pass_rows(rows, weights, bias, out.numpy(), a, min(a + _COMPILED_ROWS, len(rows))),
                   range(0, len(rows), _COMPILED_ROWS))
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
    step = block_rows(X)
    if _compiled(X):
        rows, weights = X.numpy(), Gt.contiguous().numpy()
        pass_rows = kernel("backproject_rows_f4")
        blocks = range(0, max(len(rows), 1), _COMPILED_ROWS)  # (no rows: one empty block, its zeros)
        return torch.from_numpy(summed_blocks(lambda a: pass_rows(weights, rows, a, min(a + _COMPILED_ROWS, len(rows))),
                                              blocks))

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


def _compiled(X: torch.Tensor) -> bool:
    """Whether the compiled passes take X: dense float32 rows in this process's memory, and the loops
    already compiled ahead of time on this machine (derivtrain/compiled: numba's own start, or a build,
    would cost more than the pass saves)."""
    return (not is_sparse(X) and X.dtype == torch.float32 and X.device.type == "cpu" and X.dim() == 2
            and X.is_contiguous() and available(build=False))


_buffers = threading.local()
