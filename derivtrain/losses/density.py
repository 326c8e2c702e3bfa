"""The loss of a density model: the negative mean log-density, -1/n sum_i log p(x_i).

Minimizing it is maximum likelihood without labels. The model's forward already returns
log p(x) per row (derivtrain/models/density.py), so the loss is its mean, negated; the
targets are ignored (density data have none, and labelled data keep theirs to themselves).
Its derivative flows into the model by autograd: -1/n for every row's log-density.
"""
import torch

from derivtrain.losses.base import Loss


class DensityNLL(Loss):
    task = "density"
    is_likelihood = True  # of the model's (standardized) space; metrics add the standardization's Jacobian

    def forward(self, log_density: torch.Tensor, targets: torch.Tensor, sample_weight=None) -> torch.Tensor:
        if sample_weight is None:
            return -log_density.mean()
        weight = sample_weight.to(log_density.dtype)
        return -(weight * log_density).sum() / weight.sum()

    def log_likelihood(self, log_density: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return log_density.mean()
