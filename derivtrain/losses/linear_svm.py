"""The whole linear-SVM objective in one node, for full-batch training on large data.

    L(W, b) = 1/n sum_i sum_k max(0, 1 - y_ik (W x_i + b)_k) + alpha/2 ||W||^2

For large n the cost of a step is reading X: the forward needs S = W X^T + b, the backward
dL/dW = G X with G = dL/dS. This Function reads X once a step (the lower bound for a gradient
step): it goes through X a block of columns at a time, and while a block is in cache it takes
both products, the block's scores and its share of A X^T (A: the signs of the rows whose margin
is violated), which the backward pass only scales. Composed autograd reads X twice, allocates
and walks every intermediate at (n, K) size several times and takes the transposed product over
row-major X; measured on 1M x 100 float32 it costs ~5x a read of X, the two whole-X products of
this Function's first version ~2.75x, the blocks ~2.1x (875k x 100, one thread: 33 ms a step
against 43 ms and a float32 sum of X 16 ms; the products' arithmetic is what is left). The
blocks are shared among the run's threads (derivtrain/threads.py: map_blocks): on two, 22-24 ms
a step against 36-39 ms for the whole-X products on torch's two threads (a sum of X: 12-13 ms).

X is taken feature-major, (d + 1, n) contiguous, its last row all ones (the bias's feature): both
products then stream X along its rows, which measured ~2x faster for the transposed product than
over the row-major (n, d) original. FullBatchLinearSVM keeps that copy of the training set
(derivtrain.losses.objective: Objective.use_full_batch), made a block of rows at a time.

Subgradients are the hinge's (0 at the kink y*s == 1); first order only.
"""

import torch

from derivtrain.function import Function  # torch.autograd.Function without per-call binding
from derivtrain.losses.first_order import once_differentiable
from derivtrain.losses.linear_svm_compiled import CompiledLinearSVMObjective, compiled_suits
from derivtrain.threads import map_blocks

_where_positive = torch.ops.aten.threshold_backward  # grad where the saved margin is > 0, else 0
_BLOCK_BYTES = 4 << 20  # a block of the feature-major X: 10k rows of 100 float32 features
_TRANSPOSE_ROWS = 4096  # rows of X transposed at a time into the feature-major copy (1.6 MB of 100 float32)


class LinearSVMObjectiveFunction(Function):
    """Inputs: features (d + 1, n), feature-major with a last row of ones (the bias's feature),
    signs (K, n) in {-1, +1}, weight (K, d), bias (K,), alpha (float).
    Returns (objective, margins, weight_and_bias, product); the margins (K, n), the (K, d + 1)
    weights with the bias appended and product = A X^T (K, d + 1) are non-differentiable
    by-products kept for the backward pass.

    With the bias folded into the features, one product gives the scores and one product gives
    the gradients of weight and bias together; the per-step scale -grad/n multiplies the small
    (K, d + 1) result, not an n-sized matrix. Besides the two products, three passes over (K, n).
    """

    generate_vmap_rule = True

    @staticmethod
    def forward(features, signs, weight, bias, alpha: float):
        weight_and_bias = torch.cat([weight, bias.unsqueeze(1)], dim=1)
        step = block_columns(features)
        starts = range(0, features.shape[1], step)
        if (len(starts) == 1 or features.device.type != "cpu" or torch._C._are_functorch_transforms_active()
                or torch.compiler.is_compiling()):
            parts = [_block(features, signs, weight_and_bias, a, step) for a in starts]
        else:  # the blocks on the run's threads, each on one (derivtrain/threads.py: map_blocks)
            parts = map_blocks(lambda a: _block(features, signs, weight_and_bias, a, step), starts)
        margins = parts[0][0] if len(parts) == 1 else torch.cat([m for m, _, _ in parts], dim=1)
        product, total = parts[0][1], parts[0][2]
        for _, block_product, block_total in parts[1:]:  # in block order: the same sums on any threads
            product, total = product.add_(block_product), total.add_(block_total)
        # few, small ops: on small data a step costs its kernel launches, not its arithmetic
        flat = weight.reshape(-1)
        objective = total.div_(features.shape[1]).add_(torch.dot(flat, flat), alpha=0.5 * alpha)
        return objective, margins, weight_and_bias, product

    @staticmethod
    def setup_context(ctx, inputs, output):
        features, signs, weight, bias, alpha = inputs
        _, margins, weight_and_bias, product = output
        ctx.mark_non_differentiable(margins, weight_and_bias, product)
        ctx.set_materialize_grads(False)  # no zero-filled gradient for the by-product outputs
        ctx.alpha = alpha
        ctx.save_for_backward(features, signs, weight, margins, weight_and_bias, product)

    @staticmethod
    @once_differentiable("linear SVM objective: the hinge's derivative jumps at y*s == 1")
    def backward(ctx, grad, _grad_margins, _grad_weight_and_bias, _grad_product):
        features, signs, weight, margins, weight_and_bias, product = ctx.saved_tensors
        need = ctx.needs_input_grad
        if grad is None:
            return None, None, None, None, None
        scale = grad * (-1.0 / features.shape[1])  # dL/dS = -y/n where the margin is violated
        grad_features = None
        if need[0]:
            active_signs = _where_positive(signs, margins, 0)  # y where 1 - y*s > 0; 0 elsewhere and at the kink
            grad_features = weight_and_bias.t().mm(active_signs).mul_(scale)
        grad_signs = None
        if need[1]:
            scores = weight_and_bias.mm(features)  # a second read of X, only when asked
            grad_signs = _where_positive(scores, margins, 0).mul_(scale)
        grad_weight = grad_bias = None
        if need[2] or need[3]:
            grad_weight_and_bias = product * scale  # A X^T, taken in the forward pass
            # out of place: each parameter gets its own contiguous gradient, not a view of a shared one
            grad_weight = grad_weight_and_bias[:, :-1] + weight * (ctx.alpha * grad) if need[2] else None
            grad_bias = grad_weight_and_bias[:, -1].clone() if need[3] else None
        return grad_features, grad_signs, grad_weight, grad_bias, None


class FullBatchLinearSVM:
    """The fused objective for one model and the one full batch it trains on.

    Large dense rows on the CPU go through the compiled row loop (derivtrain/losses/
    linear_svm_compiled.py), which reads X as it is. Elsewhere the feature-major copy of X (with its
    row of ones) is made once, here; it costs one more X in memory. The gradient loop builds this
    only for full-batch float32 training in one process (derivtrain/trainer/loop.py): under bf16
    autocast it computes in X's own dtype, which is not what autocast asks for.
    """

    def __init__(self, linear: torch.nn.Linear, penalty, X: torch.Tensor, targets: torch.Tensor):
        self.linear, self.penalty = linear, penalty  # penalty: L2Penalty or NoPenalty (strength 0)
        signs = targets.reshape(len(targets), -1).to(X.dtype)
        self.compiled = compiled_suits(X) and X.dtype == linear.weight.dtype
        if self.compiled:
            self.rows, self.signs = X.detach().contiguous(), signs.contiguous()
            return
        # feature-major, with a row of ones: the bias rides along in both products
        self.features, self.signs = feature_major(X), signs.t().contiguous()

    def __call__(self) -> torch.Tensor:
        if self.compiled:
            objective, _ = CompiledLinearSVMObjective.apply(self.rows, self.signs, self.linear.weight, self.linear.bias,
                                                            self.penalty.strength)
            return objective
        objective, *_ = LinearSVMObjectiveFunction.apply(self.features, self.signs, self.linear.weight,
                                                         self.linear.bias, self.penalty.strength)
        return objective


def _block(features, signs, weight_and_bias, a: int, step: int):
    """Columns a..a+step of the feature-major X: (margins, A X^T, sum of the margins) of the block,
    both products over it while it is in cache. The margins are summed a block at a time too (a
    sum of all n of them is one parallel region that, on cores busy with other jobs, waits a
    scheduler slice)."""
    block, block_signs = features[:, a:a + step], signs[:, a:a + step]
    scores = weight_and_bias.mm(block)  # (K, block): the block's one read from memory
    one = torch.ones((), dtype=features.dtype, device=features.device)
    margins = torch.addcmul(one, block_signs, scores, value=-1).clamp_min_(0.0)  # max(0, 1 - y*s)
    active_signs = _where_positive(block_signs, margins, 0)  # y where violated, else 0 (the kink: 0)
    return margins, active_signs.mm(block.t()), margins.sum()


def block_columns(features: torch.Tensor) -> int:
    """Columns of the feature-major X a block holds: _BLOCK_BYTES of it, so that the second product
    reads the block from cache (at least 1024: a block's products must outweigh their calls)."""
    return max(1024, _BLOCK_BYTES // (features.shape[0] * features.element_size()))


def feature_major(X: torch.Tensor) -> torch.Tensor:
    """[X^T; 1], (d + 1, n) contiguous. On the CPU a block of rows at a time through numpy, whose
    transposing copy of a cache-sized block is 3.5-7x faster than torch.cat over X.t() (875k x 100
    float32, one thread: 140-280 ms against 985 ms; ~175 ms with the blocks on two threads)."""
    n, d = X.shape
    if X.device.type != "cpu" or X.dtype not in (torch.float32, torch.float64):
        return torch.cat([X.t(), X.new_ones(1, n)]).contiguous()
    out = X.new_empty(d + 1, n)
    out[d] = 1
    source, target = X.detach().numpy(), out.numpy()

    def transpose(a):  # numpy lets go of the GIL while it copies: the run's threads share the blocks
        target[:d, a:a + _TRANSPOSE_ROWS] = source[a:a + _TRANSPOSE_ROWS].T

    map_blocks(transpose, range(0, n, _TRANSPOSE_ROWS))
    return out
