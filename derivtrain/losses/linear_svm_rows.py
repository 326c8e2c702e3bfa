"""The linear SVM's objective and its gradient on a minibatch of rows, by hand, without a graph.

    L(W, b) = 1/m sum_i sum_k max(0, 1 - y_ik s_ik) + alpha/2 ||W||^2,      S = X W^T + b

    dL/dW = -1/m A^T X + alpha W,    dL/db = -1/m sum_i A_i,    A = y where 1 - y s > 0, else 0

The chain rule through the linear layer, the hinge, the mean and the penalty, written out: the
same value and gradients as the composed objective (to rounding), from two products over the
batch, X W^T and A^T X. The gradient loop trains minibatches of model=svm this way (derivtrain/
trainer/loop.py: by_hand) because autograd's graph costs more than those products: measured on
4096 x 100 float32 rows, one thread, the products take ~0.1 ms, the value and gradient ~0.12 ms
here against ~0.3 ms through one fused autograd.Function and ~0.35 ms composed (Function.apply,
the engine, saving and accumulating: ~0.2 ms a step that a step's arithmetic does not need).
At the kink y s == 1 the subgradient is 0, the hinge's (derivtrain/losses/hinge.py).

Sparse rows (a CPU CSR batch) take the same two products through scipy's compiled CSR loops on
views of the batch's arrays (derivtrain/data/sparse.py: times_transposed, backproject): X w and
X^T A, each one pass over the batch's nonzeros. Through autograd a sparse batch cost ~1.2 ms a
step on 4096 rows of 50 nonzeros (200k x 100k, one thread): torch's sparse backward builds the
transposed product's layout each step; here ~0.35 ms. With one score column (a binary SVM) the two
products are scipy's loops called on the batch's arrays directly (derivtrain/data/sparse_loops.py),
X^T A added into alpha W, and the rest on numpy vectors of the batch's length: 4096 rows of 50
nonzeros from 100k features, one thread, alternating, 0.89 -> 0.75 ms a step; the 5-epoch fit of
`scripts/bench_cli_scale.py --sparse`, alternating in one process, medians of 5, 0.446 -> 0.417 s.

Dense CPU rows, where the compiled loops are built, take both products in one compiled pass over
the batch (derivtrain/losses/linear_svm_kernels.py: hinge_rows, the full batch's loop): each row's
score, then, where its margin is violated, the row added into A^T X while it is in registers.
One read of the batch and one call, where the products were two reads and ~10 short torch kernels:
4096 x 100 float32 rows gathered from 875k, one thread, median of 9 runs of 50 batches, 0.232 ->
0.166 ms a step; the 1M CLI fit (`optim=sgd trainer.batch_size=4096`, 3 epochs), six runs of each
in one process, alternating, medians: wall 0.739 -> 0.675 s and 0.679 -> 0.642 s in two sessions of
them, the process's CPU time 1.06 -> 0.95 s and 0.99 -> 0.89 s (the gather-ahead thread shares the
machine's two cores with the step, so less work in the step is less waiting on both).
"""
import numpy as np
import torch

from derivtrain.compiled import available, kernel
from derivtrain.data import sparse_loops
from derivtrain.data.sparse import backproject, is_sparse, times_transposed
from derivtrain.losses.linear_svm_compiled import HINGE_ROWS

_where_positive = torch.ops.aten.threshold_backward  # y where the margin is > 0, else 0 (the kink: 0)


@torch.no_grad()
def value_and_grad(X: torch.Tensor, signs: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor,
                   alpha: float):
    """(L, dL/dW, dL/db) on rows X (m, d), dense or CSR, with signs (m,) or (m, K) in {-1, +1};
    alpha the L2 strength (0: no penalty). L is a 0-d tensor: nothing here waits for the device."""
    m, sparse = X.shape[0], is_sparse(X)
    signs = signs.reshape(m, -1).to(weight.dtype)
    if not sparse and _compiled_takes(X, signs, weight, bias):
        return _compiled_value_and_grad(X, signs, weight, bias, alpha)
    if sparse and _loops_take(X, signs, weight, bias):
        return _sparse_value_and_grad(X, signs, weight, bias, alpha)
    scores = times_transposed(X, weight).add_(bias) if sparse else torch.addmm(bias, X, weight.t())
    one = torch.ones((), dtype=scores.dtype, device=scores.device)
    margins = torch.addcmul(one, signs, scores, value=-1).clamp_min_(0.0)  # max(0, 1 - y s), in place
    active = _where_positive(signs, margins, 0)
    grad_weight = (backproject(active, X) if sparse else active.t().mm(X)).mul_(-1.0 / m)
    grad_bias = active.sum(dim=0).mul_(-1.0 / m)
    return _penalized(margins.sum().div_(m), grad_weight, grad_bias, weight, alpha)


def _penalized(value, grad_weight, grad_bias, weight, alpha: float):
    """The data term's (value, gradients) plus the penalty alpha/2 ||W||^2's, in place."""
    if alpha:
        grad_weight.add_(weight, alpha=alpha)
        flat = weight.reshape(-1)
        value.add_(torch.dot(flat, flat), alpha=0.5 * alpha)
    return value, grad_weight, grad_bias


def _compiled_takes(X, signs, weight, bias) -> bool:
    """Dense rows on the CPU, C-contiguous, in the weights' dtype (float32 or float64), and the compiled
    loops already built on this machine (a step never waits for a build)."""
    return (X.device.type == "cpu" and X.dtype in (torch.float32, torch.float64)
            and X.dtype == weight.dtype == bias.dtype
            and X.layout == torch.strided and X.is_contiguous() and signs.is_contiguous()
            and weight.is_contiguous() and not X.requires_grad and available(build=False))


def _compiled_value_and_grad(X, signs, weight, bias, alpha: float):
    """value_and_grad in one compiled pass over the rows: A^T [X | 1] accumulated in X's dtype, in the
    rows' order (a run repeats its numbers bit for bit)."""
    m = X.shape[0]
    rows = X.numpy()
    hinge_rows = kernel(HINGE_ROWS[rows.dtype], build=False)
    total, product = hinge_rows(rows, signs.numpy(), weight.detach().numpy(), bias.detach().numpy(), 0, m)
    product = torch.from_numpy(product).mul_(-1.0 / max(m, 1))
    # gradients laid out as their parameters (a fused optimizer step reads them as contiguous)
    grad_weight, grad_bias = product[:, :-1].contiguous(), product[:, -1].clone()
    return _penalized(torch.tensor(total / max(m, 1), dtype=weight.dtype), grad_weight, grad_bias, weight, alpha)


def _loops_take(X, signs, weight, bias) -> bool:
    """CSR rows on the CPU in the weights' dtype, one score column, and scipy's loops importable."""
    return (sparse_loops.csr_matvec is not None and X.device.type == "cpu" and weight.shape[0] == 1
            and X.dtype == weight.dtype == bias.dtype == signs.dtype and weight.is_contiguous()
            and not X.requires_grad)


def _sparse_value_and_grad(X, signs, weight, bias, alpha: float):
    """value_and_grad on CSR rows through scipy's two loops (derivtrain/data/sparse_loops.py), the
    rest on numpy vectors of the batch's length: A's scaling by -1/m is on its m entries, and X^T A
    adds into alpha W, which is the penalty's gradient, so the 100k-long gradient is written once."""
    m, w = X.shape[0], weight.detach().numpy()[0]
    y = np.ascontiguousarray(signs.numpy()[:, 0])
    scores = np.zeros(m, dtype=w.dtype)
    sparse_loops.add_product(X, w, scores)
    scores += bias.detach().numpy()[0]
    margins = np.maximum(1.0 - y * scores, 0.0, dtype=w.dtype)  # max(0, 1 - y s)
    active = np.where(margins > 0, y, 0.0).astype(w.dtype, copy=False)  # (the kink: 0)
    active *= -1.0 / max(m, 1)
    grad_weight = np.multiply(w, alpha, dtype=w.dtype) if alpha else np.zeros_like(w)
    sparse_loops.add_transposed_product(X, active, grad_weight)
    value = torch.tensor(float(margins.sum(dtype=np.float64)) / max(m, 1), dtype=weight.dtype)
    if alpha:
        value.add_(float(np.dot(w, w)), alpha=0.5 * alpha)
    return value, torch.from_numpy(grad_weight).unsqueeze(0), torch.tensor([active.sum()], dtype=weight.dtype)
