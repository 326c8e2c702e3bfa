"""From per-sample losses to the number that is minimized: weights and reduction.

The autograd Functions give one loss per sample (or per sample and one-vs-rest column); this file
weights and reduces them with plain torch ops, so autograd differentiates the reduction and the
weights for free and the Functions keep one job each.

Conventions (those of scikit-learn's `sample_weight` and torch's `CrossEntropyLoss(weight=...)`):
  reduction="mean":  sum_i w_i l_i / sum_i w_i   (the plain mean when there are no weights)
  reduction="sum":   sum_i w_i l_i
  reduction="none":  w_i l_i, one per sample
where w_i = sample_weight[i] * class_weight[class of sample i]. With (n, K) one-vs-rest losses,
l_i is the sum over the K columns.
"""
from typing import Optional

import torch

REDUCTIONS = ("mean", "sum", "none")


def check_reduction(reduction: str) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction={reduction!r} is not valid; choices: {', '.join(REDUCTIONS)}")


def sample_weights(classes: torch.Tensor, sample_weight: Optional[torch.Tensor],
                   class_weight: Optional[torch.Tensor], dtype: torch.dtype) -> Optional[torch.Tensor]:
    """w_i = sample_weight[i] * class_weight[classes[i]], or None when neither is given."""
    weight = None
    if class_weight is not None:
        class_weight = torch.as_tensor(class_weight, dtype=dtype, device=classes.device)
        weight = class_weight[classes]
    if sample_weight is not None:
        sample_weight = torch.as_tensor(sample_weight, dtype=dtype, device=classes.device)
        weight = sample_weight if weight is None else weight * sample_weight
    return weight


def reduce(losses: torch.Tensor, reduction: str, weight: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Weight and reduce per-sample losses (n,) or per-sample-and-column losses (n, K)."""
    if losses.dim() == 0:  # one sample's loss (a score per example under torch.func.vmap)
        return losses if weight is None or reduction == "mean" else losses * weight
    if weight is None and reduction != "none":
        # sum() backward hands the Function an expanded (stride-0) gradient: no n-sized allocation,
        # which on large inputs costs more than the arithmetic (see scripts/bench_losses.py)
        total = losses.sum()
        return total if reduction == "sum" else total / losses.shape[0]
    per_sample = losses.sum(dim=1) if losses.dim() == 2 else losses
    if weight is None:
        return per_sample
    weighted = per_sample * weight
    if reduction == "none":
        return weighted
    if reduction == "sum":
        return weighted.sum()
    return weighted.sum() / weight.sum()
