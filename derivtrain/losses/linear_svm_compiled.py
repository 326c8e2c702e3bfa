"""The linear SVM's full-batch objective and its gradient in one compiled pass over row-major X (CPU).

    L(W, b) = 1/n sum_i sum_k max(0, 1 - y_ik (W x_i + b)_k) + alpha/2 ||W||^2
    dL/dW = -1/n A^T X + alpha W,   dL/db = -1/n sum_i A_i,   A = y where the margin is violated

derivtrain/losses/linear_svm.py takes both products over a feature-major copy of X a cache-sized
block at a time (two BLAS calls a block, the second reading the block from cache); this takes them
a few rows at a time: their scores (dot products with W), then, where a margin is violated, the
row added into A^T X while it is in registers. One read of X, no copy of it (the feature-major
copy held a second X in memory and took 0.2-0.3 s to make), blocks of rows on the run's threads
(derivtrain/threads.py: map_blocks; numba releases the GIL) summed in block order, so the same
numbers on any number of threads. Measured on 875k x 100 float32 rows, most of them in the margin
(freshly initialized weights: the most work a step can have), value and backward, median of 9, on an
AMD EPYC when it took one row at a time: one thread 20.5 ms against 35.5 ms for the blocks of BLAS
products, two threads 16.1 ms against 27.6 ms (a float32 sum of X: 12-18 ms). It now takes four rows
at a time, without a branch on the margin (derivtrain/losses/linear_svm_kernels.py says why and what
that measured).

Within a block A^T X accumulates in X's dtype, as the BLAS products did; blocks are summed in
float64. At the kink (margin exactly 0) the subgradient is 0, the hinge's. First order only: a
double backward is refused (derivtrain/losses/first_order.py).
"""
import numpy as np
import torch

from derivtrain.compiled import kernel
from derivtrain.function import Function
from derivtrain.losses.first_order import once_differentiable
from derivtrain.threads import map_blocks

_BLOCK_BYTES = 4 << 20  # rows of X a block holds: 10k rows of 100 float32 features
# numbers in X from which the pass repays numba's start in a process (importing it and loading the
# compiled loop: 0.75-1.1 s here) within the 100 epochs optim=sgd runs by default: it saves ~0.13-0.17
# ns a number an epoch (15 ms an epoch at 875k x 100)
COMPILED_FROM = 1 << 26
# the row loop compiled ahead of time for each dtype of rows (derivtrain/compiled/exports.py)
HINGE_ROWS = {np.dtype(np.float32): "hinge_rows_f4", np.dtype(np.float64): "hinge_rows_f8"}


class CompiledLinearSVMObjective(Function):
    """Inputs: X (n, d) row-major on the CPU, signs (n, K) in {-1, +1} in X's dtype, weight (K, d),
    bias (K,), alpha (float). Returns (objective, product): product = A^T [X | 1] (K, d + 1), float64,
    a non-differentiable by-product the backward pass scales. X and signs get no gradient."""

    @staticmethod
    def forward(X, signs, weight, bias, alpha: float):
        rows, W, b = X.detach().numpy(), weight.detach().numpy(), bias.detach().numpy()
        y, n = signs.numpy(), X.shape[0]
        hinge_rows = kernel(HINGE_ROWS[rows.dtype])  # compiled ahead of time: no numba start (derivtrain/compiled)
        step = max(1024, _BLOCK_BYTES // max(1, X.shape[1] * X.element_size()))
        parts = map_blocks(lambda a: hinge_rows(rows, y, W, b, a, min(a + step, n)), range(0, n, step))
        total, product = 0.0, np.zeros((W.shape[0], W.shape[1] + 1))
        for block_total, block_product in parts:  # in block order: the same sums on any threads
            total += block_total
            product += block_product
        flat = weight.detach().reshape(-1)
        objective = torch.tensor(total / n, dtype=X.dtype).add_(torch.dot(flat, flat), alpha=0.5 * alpha)
        return objective, torch.from_numpy(product)

    @staticmethod
    def setup_context(ctx, inputs, output):
        X, _, weight, _, alpha = inputs
        ctx.mark_non_differentiable(output[1])
        ctx.set_materialize_grads(False)
        ctx.alpha, ctx.n = alpha, X.shape[0]
        ctx.save_for_backward(weight, output[1])

    @staticmethod
    @once_differentiable("linear SVM objective: the hinge's derivative jumps at y*s == 1")
    def backward(ctx, grad, _grad_product):
        weight, product = ctx.saved_tensors
        if grad is None:
            return None, None, None, None, None
        scaled = (product * (-1.0 / ctx.n)).to(weight.dtype) * grad  # dL/dS = -y/n where the margin is violated
        grad_weight = scaled[:, :-1] + weight * (ctx.alpha * grad) if ctx.needs_input_grad[2] else None
        grad_bias = scaled[:, -1].clone() if ctx.needs_input_grad[3] else None
        return None, None, grad_weight, grad_bias, None


def compiled_suits(X: torch.Tensor) -> bool:
    """Whether the compiled pass takes these rows: dense, on the CPU, float32 or float64, large enough
    to repay numba's first call, and numba importable."""
    if X.device.type != "cpu" or X.layout != torch.strided or X.dtype not in (torch.float32, torch.float64):
        return False
    if X.numel() < COMPILED_FROM:
        return False
    from importlib.util import find_spec

    return find_spec("numba") is not None
