"""The whole linear-SVM objective in one node, for full-batch training on large data.

    L(W, b) = 1/n sum_i sum_k max(0, 1 - y_ik (W x_i + b)_k) + alpha/2 ||W||^2

For large n the cost of a step is reading X: the forward needs S = W X^T + b, the backward
dL/dW = G X with G = dL/dS. This Function reads X exactly once in each (the lower bound for a
gradient step) and does everything else on n-sized vectors. Composed autograd reads X as often,
but allocates and walks every intermediate at (n, K) size several times and takes the
transposed product over row-major X; measured on 1M x 100 float32 it costs ~5x a read of X, this
~2-2.5x (scripts/bench_losses.py).

X is taken feature-major, (d + 1, n) contiguous, its last row all ones (the bias's feature): both
products then stream X along its rows, which measured ~2x faster for the transposed product than
over the row-major (n, d) original. FullBatchLinearSVM keeps that copy of the training set
(derivtrain.losses.objective: Objective.use_full_batch).

Subgradients are the hinge's (0 at the kink y*s == 1); first order only.
"""

import torch

from derivtrain.function import Function  # torch.autograd.Function without per-call binding
from derivtrain.losses.first_order import once_differentiable

_where_positive = torch.ops.aten.threshold_backward  # grad where the saved margin is > 0, else 0


class LinearSVMObjectiveFunction(Function):
    """Inputs: features (d + 1, n), feature-major with a last row of ones (the bias's feature),
    signs (K, n) in {-1, +1}, weight (K, d), bias (K,), alpha (float).
    Returns (objective, margins, weight_and_bias); the margins (K, n) and the (K, d + 1) weights
    with the bias appended are non-differentiable by-products kept for the backward pass.

    With the bias folded into the features, one product gives the scores and one product gives
    the gradients of weight and bias together; the per-step scale -grad/n multiplies the small
    (K, d + 1) result, not an n-sized matrix. Besides the two products, four passes over (K, n).
    """

    generate_vmap_rule = True

    @staticmethod
    def forward(features, signs, weight, bias, alpha: float):
        weight_and_bias = torch.cat([weight, bias.unsqueeze(1)], dim=1)
        scores = weight_and_bias.mm(features)  # (K, n): the one read of X
        margins = torch.mul(signs, scores).neg_().add_(1.0).clamp_min_(0.0)  # max(0, 1 - y*s), in place
        # few, small ops: on small data a step costs its kernel launches, not its arithmetic
        flat = weight.reshape(-1)
        objective = margins.sum().div_(features.shape[1]).add_(torch.dot(flat, flat), alpha=0.5 * alpha)
        return objective, margins, weight_and_bias

    @staticmethod
    def setup_context(ctx, inputs, output):
        features, signs, weight, bias, alpha = inputs
        _, margins, weight_and_bias = output
        ctx.mark_non_differentiable(margins, weight_and_bias)
        ctx.set_materialize_grads(False)  # no zero-filled gradient for the by-product outputs
        ctx.alpha = alpha
        ctx.save_for_backward(features, signs, weight, margins, weight_and_bias)

    @staticmethod
    @once_differentiable("linear SVM objective: the hinge's derivative jumps at y*s == 1")
    def backward(ctx, grad, _grad_margins, _grad_weight_and_bias):
        features, signs, weight, margins, weight_and_bias = ctx.saved_tensors
        need = ctx.needs_input_grad
        if grad is None:
            return None, None, None, None, None
        scale = grad * (-1.0 / features.shape[1])  # dL/dS = -y/n where the margin is violated
        active_signs = _where_positive(signs, margins, 0)  # y where 1 - y*s > 0; 0 elsewhere and at the kink
        grad_features = weight_and_bias.t().mm(active_signs).mul_(scale) if need[0] else None
        grad_signs = None
        if need[1]:
            scores = weight_and_bias.mm(features)  # a second read of X, only when asked
            grad_signs = _where_positive(scores, margins, 0).mul_(scale)
        grad_weight = grad_bias = None
        if need[2] or need[3]:
            grad_weight_and_bias = active_signs.mm(features.t()).mul_(scale)  # the other read of X
            # out of place: each parameter gets its own contiguous gradient, not a view of a shared one
            grad_weight = grad_weight_and_bias[:, :-1] + weight * (ctx.alpha * grad) if need[2] else None
            grad_bias = grad_weight_and_bias[:, -1].clone() if need[3] else None
        return grad_features, grad_signs, grad_weight, grad_bias, None


class FullBatchLinearSVM:
    """The fused objective for one model and the one full batch it trains on.

    The feature-major copy of X (with its row of ones) is made once, here; it costs one more X in
    memory. The gradient loop builds this only for full-batch float32 training in one process
    (derivtrain/trainer/loop.py): under bf16 autocast it computes in X's own dtype, which is not
    what autocast asks for.
    """

    def __init__(self, linear: torch.nn.Linear, penalty, X: torch.Tensor, targets: torch.Tensor):
        self.linear, self.penalty = linear, penalty  # penalty: L2Penalty or NoPenalty (strength 0)
        # feature-major, with a row of ones: the bias rides along in both products
        self.features = torch.cat([X.t(), X.new_ones(1, X.shape[0])]).contiguous()
        signs = targets.unsqueeze(0) if targets.dim() == 1 else targets.t()
        self.signs = signs.to(X.dtype).contiguous()

    def __call__(self) -> torch.Tensor:
        objective, _, _ = LinearSVMObjectiveFunction.apply(self.features, self.signs, self.linear.weight,
                                                           self.linear.bias, self.penalty.strength)
        return objective
