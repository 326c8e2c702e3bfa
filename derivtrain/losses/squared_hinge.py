"""The squared hinge max(0, 1 - y*s)^2 (L2-SVM, LinearSVC's default loss), y in {-1, +1}.

Unlike the hinge it is differentiable everywhere: d/ds = -2y max(0, 1 - y*s), continuous at the
kink y*s == 1 where it is 0. Its second derivative 2y^2 [y*s < 1] jumps there; we take 0 at the
kink (ReLU's derivative at 0). The backward is written in differentiable torch ops, so double
backward (Hessian-vector products, gradgradcheck) works.
"""
from typing import Optional, Sequence

import torch

from derivtrain.function import Function  # torch.autograd.Function without per-call binding
from derivtrain.losses.base import Loss
from derivtrain.losses.hinge import HingeDatafit, reduce_signed, signs_from_labels
from derivtrain.losses.reduction import check_reduction


class SquaredHingeFunction(Function):
    """Elementwise max(0, 1 - y*s)^2 for scores s and signs y of the same shape.

    Gradients: -2y r (scores) and -2s r (signs), r = max(0, 1 - y*s); second derivative 0 at the kink.
    """

    generate_vmap_rule = True

    @staticmethod
    def forward(scores: torch.Tensor, signs: torch.Tensor) -> torch.Tensor:
        residual = _residual(scores, signs)
        return residual.mul_(residual)  # in place, like square_, which has no vmap batching rule

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(*inputs)

    @staticmethod
    def backward(ctx, grad):
        # out-of-place ops on the saved inputs: under create_graph=True autograd records them,
        # which is what makes the second derivative available
        scores, signs = ctx.saved_tensors
        residual = torch.relu(1 - signs * scores)
        scaled = -2 * grad * residual
        grad_scores = scaled * signs if ctx.needs_input_grad[0] else None
        grad_signs = scaled * scores if ctx.needs_input_grad[1] else None
        return grad_scores, grad_signs


class SquaredHingeDatafit(HingeDatafit):
    """Smooth: no pieces; conjugate sum_k (a_k^2/4 - a_k) with a = -s theta >= 0."""

    nonsmooth, conjugate_linear = False, False
    slope_limit = None  # unbounded: grows with the residual
    curvature_limit = 2.0
    function = SquaredHingeFunction  # its backward is differentiable: the Newton solver's D

    def smoothed(self, z, y, tau):
        return self.values(z, y)

    def smoothed_slope(self, z, y, tau):
        """The derivative -2 y r, r = max(0, 1 - y z) (smooth: no smoothing), for the certificate's dual point."""
        return _residual(z, y).mul_(y).mul_(-2.0)

    def score_derivatives(self, z, y):
        """(sum_k r_k^2, -2 y r, 2 [r > 0]) per row in closed form (derivtrain/trainer/smooth_part.py):
        autograd's value, backward and double backward took three passes and a graph."""
        r = _residual(z, y)
        return r.square().sum(dim=1), r * y * -2.0, (r > 0).to(z.dtype).mul_(2.0)

    def pieces(self):
        return None

    def conjugate(self, theta, y):
        a = -y * theta
        return (a.square() / 4 - a).sum(dim=1)


def _residual(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """max(0, 1 - y z), a new tensor."""
    one = torch.ones((), dtype=z.dtype, device=z.device)
    return torch.addcmul(one, y.to(z.dtype), z, value=-1).clamp_min_(0.0)


def squared_hinge(scores: torch.Tensor, y: torch.Tensor, *, reduction: str = "mean",
                  sample_weight: Optional[torch.Tensor] = None,
                  class_weight: Optional[Sequence[float]] = None) -> torch.Tensor:
    """Squared hinge of scores (n,) against signs y in {-1, +1}; one-vs-rest for (n, K).

    Weights and reductions as in derivtrain.losses.hinge.hinge.
    """
    return reduce_signed(SquaredHingeFunction, scores, y, reduction, sample_weight, class_weight)


class SquaredHingeLoss(Loss):
    """loss=squared_hinge: binary, or one-vs-rest for several classes (the only multiclass form here)."""

    task = "classification"
    twice_differentiable = True
    convex = True

    def __init__(self, multiclass: str = "ovr", class_weight: Optional[Sequence[float]] = None,
                 reduction: str = "mean"):
        super().__init__()
        if multiclass != "ovr":
            from derivtrain.errors import ConfigError

            raise ConfigError(f"loss=squared_hinge is one-vs-rest only, but multiclass={multiclass}; "
                              f"use model.multiclass=ovr, or loss=hinge for {multiclass}")
        check_reduction(reduction)
        self.multiclass, self.reduction = multiclass, reduction
        self.class_weight = None if class_weight is None else torch.tensor(list(class_weight))

    def encode_targets(self, y: torch.Tensor, n_outputs: int) -> torch.Tensor:
        return signs_from_labels(y, n_outputs)

    def convex_dual(self, n_outputs: int):
        return SquaredHingeDatafit(n_outputs, None if self.class_weight is None else self.class_weight.tolist())

    def forward(self, scores: torch.Tensor, signs: torch.Tensor, sample_weight=None) -> torch.Tensor:
        cw = self.class_weight
        if cw is not None and (cw.device != scores.device or cw.dtype != scores.dtype):
            cw = self.class_weight = cw.to(device=scores.device, dtype=scores.dtype)
        return squared_hinge(scores, signs, reduction=self.reduction, sample_weight=sample_weight, class_weight=cw)
