"""The certificate's work on vectors of n rows, a block of rows at a time.

A dual point, its scaling toward the bias constraint and their sums are chains of elementwise
operations over every training row. Over whole vectors each operation reads and writes n float64
numbers from memory (875k rows: 7 MB a vector, beyond a core's cache); a block of 32768 rows keeps
the chain in cache. Measured on 875k rows, one thread: the hinge's four dual points 57 ms over
whole vectors, 20 ms in blocks. Every function here is row-separable (row i's result depends on
row i alone), so blocks change nothing but the order of the sums' additions.

The blocks run one after another on the caller's thread. A block's chain is a few dozen short
kernels, each ~10-100 us, with the GIL taken between them, so a second thread mostly waits for it:
measured on 2 cores, a sum of a 5-operation chain over 875k rows took 1.6 ms in a loop against
3.7-4.0 ms shared by two threads (10 columns: 14.3 ms both ways), and the hinge's certificate's
four bias balancings 28 ms against 46 ms.
"""
import torch

BLOCK_ROWS = 1 << 15  # 256 KB of float64 a vector


def rowwise(fn, *tensors) -> torch.Tensor:
    """fn(*blocks) for each block of rows of the tensors, stacked back into one (n, ...) tensor."""
    n = len(tensors[0])
    if n <= BLOCK_ROWS:
        return fn(*tensors)
    return torch.cat([fn(*(t[a:a + BLOCK_ROWS] for t in tensors)) for a in range(0, n, BLOCK_ROWS)])


def rowsum(fn, *tensors):
    """The sum over blocks of fn(*blocks), which returns a tensor (a block's sums) or a tuple of them;
    added in block order."""
    n = len(tensors[0])
    parts = [fn(*(t[a:a + BLOCK_ROWS] for t in tensors)) for a in range(0, max(n, 1), BLOCK_ROWS)]
    total = parts[0]
    for part in parts[1:]:
        total = tuple(t + p for t, p in zip(total, part)) if isinstance(part, tuple) else total + part
    return total
