"""Losses that are negative log-likelihoods: fitting them is maximum likelihood estimation.

Cross-entropy is the NLL of a Bernoulli (one score: sigmoid) or categorical (K scores: softmax)
model, so a model trained with it has predict_proba. Squared error is the Gaussian NLL up to
constants. Each is written once as a ConvexLoss (derivtrain/losses/convex_loss.py): its
elementwise value gives the datafit the certified solver and the certificate use, with the
conjugate in closed form. Training keeps PyTorch's fused kernels (with sample weights, the
weighted mean of derivtrain/losses/reduction.py): ~2x the composed ops' speed on a full batch of
875k rows (F.mse_loss 34 ms vs 76 ms forward + backward, one thread), and derivtrain's tests check
them against the elementwise definition. The softmax loss couples a row's scores, so its datafit
is written whole (MultinomialDatafit).
"""
import torch
from torch.nn import functional as F

from derivtrain.convex.datafit import ConvexDatafit
from derivtrain.losses.convex_loss import ConvexLoss
from derivtrain.losses.reduction import reduce


class CrossEntropyLoss(ConvexLoss):
    task = "classification"
    twice_differentiable = True  # torch's kernels have double backward: exact Hessian-vector products
    probability_link = "logistic"  # sigmoid for one score, softmax for several
    is_likelihood = True
    slope_limit = 1.0  # |dl/dz| = |p - y| <= 1 (derivtrain/trainer/precision_floor.py)
    curvature_limit = 0.25  # d2l/dz2 = p (1 - p) <= 1/4 for one score (derivtrain/path/screening.py)

    def encode_targets(self, y: torch.Tensor, n_outputs: int) -> torch.Tensor:
        return y.to(torch.float32) if n_outputs == 1 else y

    def elementwise(self, scores, targets):
        """One score, 0/1 targets: log(1 + e^z) - y z."""
        return F.binary_cross_entropy_with_logits(scores, targets, reduction="none")

    def elementwise_derivatives(self, scores, targets):
        """(log(1 + e^z) - y z, sigmoid(z) - y, sigmoid(z)(1 - sigmoid(z))) in closed form, the value as
        max(z, 0) + log(1 + e^-|z|) (no overflow, exact to rounding at any z): autograd's value,
        backward and double backward took three passes and a graph (smooth_part on 100k rows, one thread:
        1.6-1.9 -> 1.3 ms)."""
        p = torch.sigmoid(scores)
        values = torch.log1p(torch.exp(-scores.abs())).add_(scores.clamp_min(0.0)).addcmul_(targets, scores, value=-1)
        return values, p - targets, torch.addcmul(p, p, p, value=-1)

    def conjugate(self, theta, targets):
        """p log p + (1 - p) log(1 - p) with p = theta + y in [0, 1] (theta = sigmoid(z) - y)."""
        p = (theta + targets).clamp(0.0, 1.0)
        return torch.special.xlogy(p, p) + torch.special.xlogy(1 - p, 1 - p)

    def convex_dual(self, n_outputs: int):
        return super().convex_dual(1) if n_outputs == 1 else MultinomialDatafit(n_outputs)

    def forward(self, scores: torch.Tensor, y: torch.Tensor, sample_weight=None) -> torch.Tensor:
        reduction = "mean" if sample_weight is None else "none"
        if scores.dim() == 1:
            losses = F.binary_cross_entropy_with_logits(scores, y.to(scores.dtype), reduction=reduction)
        else:
            losses = F.cross_entropy(scores, y, reduction=reduction)
        return losses if sample_weight is None else reduce(losses, "mean", sample_weight.to(scores.dtype))

    def log_likelihood(self, scores: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The Bernoulli (one score) or categorical (several) mean log-likelihood: minus the loss."""
        return -self.forward(scores, y)


class MultinomialDatafit(ConvexDatafit):
    """logsumexp(z) - z_y, targets class indices: the conjugate sum_k p_k log p_k on theta = p - e_y,
    p in the simplex. Adding one constant to a row's scores leaves it unchanged."""

    coupled, shift_invariant = True, True
    slope_limit = 2.0  # |p - e_y|_1 <= 2

    def values(self, z, y):
        """logsumexp(z_i) - z_iy written out: torch's cross_entropy (log_softmax, then a gather) takes
        4.2 ms on 100k x 3 float64 rows, one thread; a few classes' columns at a time 1.4 ms, the
        rows' max and exp as whole (n, K) tensors past 4 classes (100k x 10: 13.3 -> 4.6 ms). Scores
        that autograd follows take torch's (the ops here write in place)."""
        if z.requires_grad and torch.is_grad_enabled():
            return F.cross_entropy(z, y, reduction="none")
        return _log_partition(z)[0].sub_(z.gather(1, y[:, None])[:, 0])

    def score_derivatives(self, z, y):
        """(values, p - e_y, diag(p) - p p^T) per row, p = softmax(z): what autograd would give in K
        + 1 passes (derivtrain/trainer/smooth_part.py). p from the exponentials the values need, the
        curvature written in place (100k x 3: 16.7 -> 7.0 ms with softmax, diag_embed and one_hot)."""
        log_partition, top, total = _log_partition(z, with_sum=True)
        p = torch.exp(z - top[:, None]).div_(total[:, None])
        curvature = p[:, :, None] * p[:, None, :]
        curvature.neg_().diagonal(dim1=1, dim2=2).add_(p)
        return log_partition.sub_(z.gather(1, y[:, None])[:, 0]), _minus_target(p.clone(), y), curvature

    def smoothed_slope(self, z, y, mu: float):
        """The derivative p - e_y in closed form (smooth: no smoothing), for the certificate's dual point."""
        top = z.amax(dim=1, keepdim=True)
        p = torch.exp(z - top)
        return _minus_target(p.div_(p.sum(dim=1, keepdim=True)), y)

    def conjugate(self, theta, y):
        p = (theta + F.one_hot(y, theta.shape[1]).to(theta.dtype)).clamp_min(0.0)
        return torch.special.xlogy(p, p).sum(dim=1)


def _minus_target(p: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """p - e_y, in place."""
    return p.scatter_add_(1, y[:, None], p.new_full((len(p), 1), -1.0))


def _log_partition(z: torch.Tensor, with_sum: bool = False) -> tuple:
    """(logsumexp of each row, each row's max[, sum_k exp(z_k - max)]), from the max: no exponential
    overflows."""
    if z.shape[1] <= 4:  # columns: elementwise on n numbers, where torch's row reductions over K are slow
        top = z[:, 0].clone()
        for k in range(1, z.shape[1]):
            torch.maximum(top, z[:, k], out=top)
        total = torch.exp(z[:, 0] - top)
        for k in range(1, z.shape[1]):
            total += torch.exp(z[:, k] - top)
    else:
        top = z.amax(dim=1)
        total = torch.exp(z - top[:, None]).sum(dim=1)
    log_partition = total.log().add_(top)
    return (log_partition, top, total) if with_sum else (log_partition, top)


class MSELoss(ConvexLoss):
    task = "regression"
    residual_loss = True  # (y - s)^2: centred and scaled targets fit the same problem (losses/targets.py)
    residual_degree = 2
    curvature_limit = 2.0  # d2/dz2 (z - y)^2

    def elementwise(self, scores, targets):
        return (scores - targets).square()

    def elementwise_derivatives(self, scores, targets):
        residual = scores - targets
        return residual.square(), 2.0 * residual, torch.full_like(residual, 2.0)

    def conjugate(self, theta, targets):
        """theta^2 / 4 + theta y (theta = 2 (z - y))."""
        return theta.square() / 4 + theta * targets

    def forward(self, scores: torch.Tensor, y: torch.Tensor, sample_weight=None) -> torch.Tensor:
        if sample_weight is None:
            return F.mse_loss(scores, y.to(scores.dtype))
        losses = F.mse_loss(scores, y.to(scores.dtype), reduction="none")
        return reduce(losses, "mean", sample_weight.to(scores.dtype))
