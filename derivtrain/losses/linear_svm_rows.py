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
views of the batch's arrays: X w and X^T A, each one pass over the batch's nonzeros. Through
autograd a sparse batch cost ~1.2 ms a step on 4096 rows of 50 nonzeros (200k x 100k, one
thread): torch's sparse backward builds the transposed product's layout each step; here ~0.35 ms.
"""
import numpy as np
import torch

from derivtrain.data.sparse import is_sparse, to_scipy

_where_positive = torch.ops.aten.threshold_backward  # y where the margin is > 0, else 0 (the kink: 0)


@torch.no_grad()
def value_and_grad(X: torch.Tensor, signs: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor,
                   alpha: float):
    """(L, dL/dW, dL/db) on dense rows X (m, d) with signs (m,) or (m, K) in {-1, +1}; alpha the L2
    strength (0: no penalty), or on a CPU CSR batch (sparse_hinge_parts). L is a 0-d tensor:
    nothing here waits for the device."""
    m = X.shape[0]
    signs = signs.reshape(m, -1).to(X.dtype)
    if is_sparse(X):
        margin_sum, grad_weight, grad_bias = sparse_hinge_parts(X, signs, weight, bias)
    else:
        scores = torch.addmm(bias, X, weight.t())
        one = torch.ones((), dtype=X.dtype, device=X.device)
        margins = torch.addcmul(one, signs, scores, value=-1).clamp_min_(0.0)  # max(0, 1 - y s), in place
        active = _where_positive(signs, margins, 0)
        grad_weight, grad_bias, margin_sum = active.t().mm(X), active.sum(dim=0), margins.sum()
    grad_weight, grad_bias, value = grad_weight.mul_(-1.0 / m), grad_bias.mul_(-1.0 / m), margin_sum.div_(m)
    if alpha:
        grad_weight.add_(weight, alpha=alpha)
        flat = weight.reshape(-1)
        value.add_(torch.dot(flat, flat), alpha=0.5 * alpha)
    return value, grad_weight, grad_bias


def sparse_hinge_parts(X: torch.Tensor, signs: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor):
    """(sum of the margins, A^T X (K, d), sum of A (K,)) on a CPU CSR batch X (m, d), signs (m, K),
    through scipy on views of the arrays (a single class: matrix-vector products)."""
    rows, W, b, y = to_scipy(X), weight.detach().numpy(), bias.detach().numpy(), signs.numpy()
    scores = (rows @ W[0])[:, None] if W.shape[0] == 1 else rows @ W.T  # (m, K)
    margins = 1 - y * (scores + b)
    active = np.where(margins > 0, y, 0).astype(y.dtype)  # the kink, margin 0: subgradient 0
    product = (rows.T @ active[:, 0])[None] if W.shape[0] == 1 else np.ascontiguousarray((rows.T @ active).T)
    margin_sum = torch.from_numpy(np.asarray(np.maximum(margins, 0).sum(dtype=y.dtype)))
    return margin_sum, torch.from_numpy(product.astype(y.dtype, copy=False)), torch.from_numpy(active.sum(axis=0))
