"""Multiclass hinge losses: one score per class, the true class must beat the others by a margin of 1.

For scores s (n, K) and true classes y (n,):
  crammer_singer:  l_i = max(0, 1 + max_{j != y_i} s_ij - s_iy)        (the worst rival only)
  weston_watkins:  l_i = sum_{j != y_i} max(0, 1 + s_ij - s_iy)        (every rival)
Crammer-Singer is what sklearn.metrics.hinge_loss computes for several classes; Weston-Watkins is
torch.nn.MultiMarginLoss times K (MultiMarginLoss divides the sum by the number of classes).

Derivatives are piecewise constant (+1 on a rival inside the margin, minus as many on the true
class), so both backward passes are first order only. Subgradients at the kinks: a margin of
exactly 1 counts as met (0), and when several rivals tie for Crammer-Singer's max, the first
(lowest class index) takes the +1, as torch.argmax reports it.
"""
from typing import Optional, Sequence

import torch
from derivtrain.autograd import Function  # torch.autograd.Function without per-call binding

from derivtrain.losses.hinge import HingeLoss
from derivtrain.losses.once import once_differentiable
from derivtrain.losses.reduction import check_reduction, reduce, sample_weights

VARIANTS = ("crammer_singer", "weston_watkins")

_where_positive = torch.ops.aten.threshold_backward  # grad where the saved loss is > 0, else 0


def _true_scores(scores: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return scores.gather(1, y.unsqueeze(1))  # (n, 1)


def _rivals(scores: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """A copy of the scores with the true class masked out (-inf)."""
    return scores.scatter(1, y.unsqueeze(1), float("-inf"))


class CrammerSingerHingeFunction(Function):
    """Per-sample max(0, 1 + max_{j != y} s_j - s_y); scores (n, K), y (n,) class indices.

    Subgradient: +1 on the best rival, -1 on the true class where the margin is violated; 0 at the
    kink (margin exactly 1); on a tie for the best rival, the first one in class order.
    """

    generate_vmap_rule = True

    @staticmethod
    def forward(scores: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        # amax, not max(dim): the values alone, and max(dim) measured ~1000x slower on small inputs here
        best = _rivals(scores, y).amax(dim=1)
        return (best + 1).sub_(_true_scores(scores, y).squeeze(1)).clamp_min_(0.0)

    @staticmethod
    def setup_context(ctx, inputs, output):
        scores, y = inputs
        ctx.save_for_backward(scores, y, output)

    @staticmethod
    @once_differentiable("crammer_singer hinge: its derivative jumps at the margin and between rivals")
    def backward(ctx, grad):
        scores, y, losses = ctx.saved_tensors
        if not ctx.needs_input_grad[0]:
            return None, None
        # recomputed: K is small and it keeps apply() a one-output call; argmax takes the first on ties
        rival = _rivals(scores, y).argmax(dim=1)
        active_grad = _where_positive(grad, losses, 0).unsqueeze(1)
        # +grad on the rival, -grad on the true class (never the same column); out-of-place
        # scatter, which torch.func.vmap batches (the in-place one falls back to a slow loop)
        columns = torch.cat([rival.unsqueeze(1), y.unsqueeze(1)], dim=1)
        return torch.zeros_like(scores).scatter(1, columns, torch.cat([active_grad, -active_grad], dim=1)), None


def _rival_margins(scores: torch.Tensor, y: torch.Tensor):
    """max(0, 1 + s_j - s_y) for every rival j and 0 in the true class's column; the rival mask."""
    rivals = torch.arange(scores.shape[1], device=scores.device) != y.unsqueeze(1)
    return (scores - _true_scores(scores, y)).add_(1.0).clamp_min_(0.0).mul_(rivals), rivals


class WestonWatkinsHingeFunction(Function):
    """Per-sample sum_{j != y} max(0, 1 + s_j - s_y); scores (n, K), y (n,) class indices.

    Subgradient: +1 on each rival inside the margin, minus their count on the true class;
    a rival exactly at the margin (1 + s_j - s_y == 0) counts as outside (0).
    """

    generate_vmap_rule = True

    @staticmethod
    def forward(scores: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        margins, _ = _rival_margins(scores, y)
        return margins.sum(dim=1)

    @staticmethod
    def setup_context(ctx, inputs, output):
        scores, y = inputs
        ctx.save_for_backward(scores, y)

    @staticmethod
    @once_differentiable("weston_watkins hinge: its derivative jumps where a rival reaches the margin")
    def backward(ctx, grad):
        scores, y = ctx.saved_tensors
        if not ctx.needs_input_grad[0]:
            return None, None
        # recomputed rather than saved: saving an (n, K) tensor costs more than one pass over it
        margins, rivals = _rival_margins(scores, y)
        grad_rivals = _where_positive(grad.unsqueeze(1).expand_as(margins), margins, 0)
        # each active rival gets +grad, the true class minus their sum
        return torch.where(rivals, grad_rivals, grad_rivals.sum(dim=1, keepdim=True).neg_()), None


_FUNCTIONS = {"crammer_singer": CrammerSingerHingeFunction, "weston_watkins": WestonWatkinsHingeFunction}


def multiclass_hinge(scores: torch.Tensor, y: torch.Tensor, variant: str = "crammer_singer", *,
                     reduction: str = "mean", sample_weight: Optional[torch.Tensor] = None,
                     class_weight: Optional[Sequence[float]] = None) -> torch.Tensor:
    """Multiclass hinge of scores (n, K) against class indices y (n,); see the module docstring."""
    if variant not in _FUNCTIONS:
        raise ValueError(f"variant={variant!r} is not valid; choices: {', '.join(VARIANTS)}")
    check_reduction(reduction)
    if scores.dim() != 2 or scores.shape[1] < 2:
        raise ValueError(f"multiclass_hinge needs scores of shape (n, K) with K >= 2, got {tuple(scores.shape)}")
    weight = sample_weights(y, sample_weight, class_weight, scores.dtype) \
        if sample_weight is not None or class_weight is not None else None
    return reduce(_FUNCTIONS[variant].apply(scores, y), reduction, weight)


class MulticlassHingeLoss(HingeLoss):
    """loss=multiclass_hinge: the Crammer-Singer or Weston-Watkins hinge (`variant`) for any model.

    With one score per row (a binary problem) it is the binary hinge, which both variants equal
    for two classes. For model=svm, prefer loss=hinge with model.multiclass=<variant>.
    """

    def __init__(self, variant: str = "crammer_singer", class_weight: Optional[Sequence[float]] = None,
                 reduction: str = "mean"):
        if variant not in VARIANTS:
            from derivtrain.errors import choice_error

            raise choice_error("loss.variant", variant, VARIANTS)
        super().__init__(multiclass=variant, class_weight=class_weight, reduction=reduction)
        self.variant = variant
