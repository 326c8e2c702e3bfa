"""The hinge loss max(0, 1 - y*s) of support vector machines, with its derivative written by hand.

Targets are signs y in {-1, +1}. With several classes, scores are (n, K) and every column is its
own binary problem (one-vs-rest): y is +1 in the true class's column and -1 elsewhere.
The loss is summed over columns and averaged over rows, so a binary problem gets the plain mean.

Derivative: d/ds max(0, 1 - y*s) = -y where y*s < 1, else 0. At the kink y*s == 1 we take the
subgradient 0 (the point counts as correctly classified with margin, as in scikit-learn's SGD).
"""
import torch
from torch import nn
from torch.autograd import Function


class HingeFunction(Function):
    @staticmethod
    def forward(scores: torch.Tensor, signs: torch.Tensor) -> torch.Tensor:
        margins = torch.mul(signs, scores).neg_().add_(1.0)  # 1 - y*s, in place after the first kernel
        return margins.clamp_min_(0.0).sum() / scores.shape[0]

    @staticmethod
    def setup_context(ctx, inputs, output):
        scores, signs = inputs
        ctx.save_for_backward(scores, signs)

    @staticmethod
    def backward(ctx, grad_output):
        scores, signs = ctx.saved_tensors
        grad_scores = None
        if ctx.needs_input_grad[0]:
            active = torch.mul(signs, scores) < 1.0
            grad_scores = torch.where(active, signs, 0.0).mul_(-grad_output / scores.shape[0])
        return grad_scores, None


def signs_from_labels(y: torch.Tensor, n_outputs: int) -> torch.Tensor:
    """Class indices -> {-1, +1}: a vector for one score per row, a one-vs-rest (n, K) matrix otherwise."""
    if n_outputs == 1:
        return y.to(torch.float32) * 2 - 1
    return nn.functional.one_hot(y, n_outputs).to(torch.float32) * 2 - 1


class HingeLoss(nn.Module):
    """Binary hinge loss (one-vs-rest for several classes); classification targets only."""

    task = "classification"

    def encode_targets(self, y: torch.Tensor, n_outputs: int) -> torch.Tensor:
        return signs_from_labels(y, n_outputs)

    def forward(self, scores: torch.Tensor, signs: torch.Tensor) -> torch.Tensor:
        return HingeFunction.apply(scores, signs.to(scores.dtype))
