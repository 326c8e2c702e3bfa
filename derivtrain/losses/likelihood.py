"""Losses that are negative log-likelihoods: fitting them is maximum likelihood estimation.

Cross-entropy is the NLL of a Bernoulli (one score: sigmoid) or categorical (K scores: softmax)
model, so a model trained with it has predict_proba. Squared error is the Gaussian NLL up to
constants. Both use PyTorch's fused kernels (with sample weights, the weighted mean of
derivtrain/losses/reduction.py); their derivatives are the familiar p - y and 2(s - y)/n.
"""
import torch
from torch.nn import functional as F

from derivtrain.losses.base import Loss
from derivtrain.losses.reduction import reduce


class CrossEntropyLoss(Loss):
    task = "classification"
    twice_differentiable = True  # torch's kernels have double backward: exact Hessian-vector products
    probability_link = "logistic"  # sigmoid for one score, softmax for several
    is_likelihood = True
    convex = True

    def encode_targets(self, y: torch.Tensor, n_outputs: int) -> torch.Tensor:
        return y.to(torch.float32) if n_outputs == 1 else y

    def convex_dual(self, n_outputs: int):
        from derivtrain.convex.score_losses import BinaryLogistic, Multinomial

        return BinaryLogistic(n_outputs) if n_outputs == 1 else Multinomial(n_outputs)

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


class MSELoss(Loss):
    task = "regression"
    residual_loss = True  # (y - s)^2: centred and scaled targets fit the same problem (losses/targets.py)
    residual_degree = 2
    convex = True

    def convex_dual(self, n_outputs: int):
        from derivtrain.convex.score_losses import SquaredError

        return SquaredError(n_outputs)

    def forward(self, scores: torch.Tensor, y: torch.Tensor, sample_weight=None) -> torch.Tensor:
        if sample_weight is None:
            return F.mse_loss(scores, y.to(scores.dtype))
        losses = F.mse_loss(scores, y.to(scores.dtype), reduction="none")
        return reduce(losses, "mean", sample_weight.to(scores.dtype))
