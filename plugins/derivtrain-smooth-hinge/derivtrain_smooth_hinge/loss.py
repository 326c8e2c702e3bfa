"""The smooth hinge: hinge loss with a quadratic piece of width h around the kink.

With margin z = y * s (y in {-1, +1}):
    loss(z) = 0                    if z >= 1
            = (1 - z)^2 / (2h)     if 1 - h < z < 1
            = 1 - z - h/2          if z <= 1 - h
    dloss/dz = 0, -(1 - z)/h, -1 on the same pieces: continuous, so there is no kink to choose a
    subgradient at; the second derivative is 1/h on the middle piece and 0 elsewhere.
Several classes: one-vs-rest columns, summed over columns and averaged over rows, like derivtrain's hinge.

Written once, as derivtrain's ConvexLoss asks (derivtrain/losses/convex_loss.py): `elementwise`
is the loss of each score, here a hand-written autograd Function. derivtrain derives from it the
mean loss a model trains with and the datafit of the certified solver (its derivatives by
autograd, its convex conjugate computed per score), so `model=svm` is solved to a certificate.
"""
import torch
from torch import nn

from derivtrain.losses import ConvexLoss


class SmoothHingeFunction(torch.autograd.Function):
    """The smooth hinge of each score against its sign, elementwise."""

    generate_vmap_rule = True

    @staticmethod
    def forward(scores, signs, smoothing: float):
        z = signs * scores
        quadratic = (1 - z).clamp(min=0, max=smoothing) ** 2 / (2 * smoothing)
        linear = (1 - smoothing - z).clamp(min=0)  # the straight part beyond the quadratic piece
        return quadratic + linear

    @staticmethod
    def setup_context(ctx, inputs, output):
        scores, signs, smoothing = inputs
        ctx.save_for_backward(scores, signs)
        ctx.smoothing = smoothing

    @staticmethod
    def backward(ctx, grad_output):
        scores, signs = ctx.saved_tensors
        if not ctx.needs_input_grad[0]:
            return None, None, None
        # d/dz = -clamp(1 - z, 0, h) / h: 0 past the margin, -1 far inside it, linear between.
        # Written with differentiable ops, so the second derivative (1/h in the middle) exists too.
        z = signs * scores
        dz = -(1 - z).clamp(min=0, max=ctx.smoothing) / ctx.smoothing
        return grad_output * signs * dz, None, None


class SmoothHingeLoss(ConvexLoss):
    """derivtrain's loss contract (derivtrain/losses/base.py): a classification loss, differentiable
    everywhere (L-BFGS works), its backward differentiable again (Newton works), convex (the
    certified solver works)."""

    task = "classification"

    def __init__(self, smoothing: float = 0.5):
        super().__init__()
        if not smoothing > 0:
            raise ValueError(f"loss.smoothing={smoothing} must be > 0")
        self.smoothing = float(smoothing)

    def encode_targets(self, y: torch.Tensor, n_outputs: int) -> torch.Tensor:
        """Class indices -> {-1, +1}: one column per class when there are several (one-vs-rest)."""
        if n_outputs == 1:
            return y.float() * 2 - 1
        return nn.functional.one_hot(y, n_outputs).float() * 2 - 1

    def elementwise(self, scores: torch.Tensor, signs: torch.Tensor) -> torch.Tensor:
        return SmoothHingeFunction.apply(scores, signs.to(scores.dtype), self.smoothing)
