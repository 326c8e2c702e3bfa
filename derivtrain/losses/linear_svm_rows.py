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
transposed product's layout each step; here ~0.35 ms.
"""
import torch

from derivtrain.data.sparse import backproject, is_sparse, times_transposed

_where_positive = torch.ops.aten.threshold_backward  # y where the margin is > 0, else 0 (the kink: 0)


@torch.no_grad()
def value_and_grad(X: torch.Tensor, signs: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor,
                   alpha: float):
    """(L, dL/dW, dL/db) on rows X (m, d), dense or CSR, with signs (m,) or (m, K) in {-1, +1};
    alpha the L2 strength (0: no penalty). L is a 0-d tensor: nothing here waits for the device."""
    m, sparse = X.shape[0], is_sparse(X)
    signs = signs.reshape(m, -1).to(weight.dtype)
    scores = times_transposed(X, weight).add_(bias) if sparse else torch.addmm(bias, X, weight.t())
    one = torch.ones((), dtype=scores.dtype, device=scores.device)
    margins = torch.addcmul(one, signs, scores, value=-1).clamp_min_(0.0)  # max(0, 1 - y s), in place
    active = _where_positive(signs, margins, 0)
    grad_weight = (backproject(active, X) if sparse else active.t().mm(X)).mul_(-1.0 / m)
    grad_bias = active.sum(dim=0).mul_(-1.0 / m)
    value = margins.sum().div_(m)
    if alpha:
        grad_weight.add_(weight, alpha=alpha)
        flat = weight.reshape(-1)
        value.add_(torch.dot(flat, flat), alpha=0.5 * alpha)
    return value, grad_weight, grad_bias
