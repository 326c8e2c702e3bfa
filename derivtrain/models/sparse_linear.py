"""The linear layer on sparse rows: scores S = X W^T + b for X a torch sparse CSR tensor.

Forward: one CSR matrix-vector product per score column (torch.mv; measured ~6x faster than
torch's CSR x dense matrix product, which copies the weights first). Backward, by hand: dL/dW = G^T X is
one index_add over X's nonzeros (derivtrain/data/sparse.py:backproject), O(nnz K); torch's own
backward of a CSR product forms X's transpose first, sorting every nonzero, ~10x slower per
step. dL/db = the column sums of G. No gradient for X (data, never a leaf that learns).

The backward is written in differentiable ops, so it has its own derivative: autograd Newton
(derivtrain/trainer/autograd_newton.py: optim=newton on an objective without a convex dual)
differentiates it again for Hessian-vector products.
"""
import torch

from derivtrain.function import Function  # torch.autograd.Function without per-call binding
from derivtrain.data.sparse import backproject


class SparseLinearFunction(Function):
    """Inputs: X (n, d) sparse CSR, weight (K, d), bias (K,), rows: the row of each nonzero of X
    (or None: the backward expands the gradient per row instead). Returns the scores (n, K)."""

    @staticmethod
    def forward(X, weight, bias, rows):
        if weight.shape[0] == 1:
            return torch.mv(X, weight[0]).add_(bias).unsqueeze(1)
        return torch.stack([torch.mv(X, w) for w in weight], dim=1).add_(bias)

    @staticmethod
    def setup_context(ctx, inputs, output):
        X, weight, bias, rows = inputs
        ctx.X, ctx.rows = X, rows  # X is data: held, not saved for a version check

    @staticmethod
    def backward(ctx, grad):
        need = ctx.needs_input_grad
        grad_weight = grad_bias = None
        if need[1]:
            grad_weight = backproject(grad, ctx.X, ctx.rows)
        if need[2]:
            grad_bias = grad.sum(dim=0)
        return None, grad_weight, grad_bias, None


def sparse_linear(X: torch.Tensor, linear: torch.nn.Linear, rows: torch.Tensor | None = None) -> torch.Tensor:
    """linear(X) for sparse CSR rows X, with the hand-written backward above."""
    weight = linear.weight
    values = X.values()
    if values.dtype != weight.dtype:  # a float64 model (Newton iterates in float64) on float32 rows
        from derivtrain.data.sparse import astype

        X = astype(X, weight.dtype)
    return SparseLinearFunction.apply(X, weight, linear.bias, rows)
