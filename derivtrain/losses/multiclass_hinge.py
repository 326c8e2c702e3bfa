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
from torch.nn import functional as F

from derivtrain.function import Function  # torch.autograd.Function without per-call binding
from derivtrain.convex.datafit import ConvexDatafit
from derivtrain.convex.kinked_units import CrammerSingerPieces, WestonWatkinsPieces
from derivtrain.convex.smoothing import barrier_hinge, barrier_max
from derivtrain.choices import MULTICLASS_VARIANTS as VARIANTS
from derivtrain.losses.first_order import once_differentiable
from derivtrain.losses.reduction import check_reduction, reduce, sample_weights

_where_positive = torch.ops.aten.threshold_backward  # grad where the saved loss is > 0, else 0


def _fold_rows_vmap(function):
    """A vmap rule for per-row losses: the vmapped dimension joins the rows.

    Row i's loss depends on row i alone, so vmapping over B problems of n rows is one call on B*n
    rows. The Functions then run on plain tensors, in-place kernels included; generate_vmap_rule
    would instead send the in-place scatters to functorch's slow per-example fallback.
    """

    def vmap(info, in_dims, scores, y):
        scores_dim, y_dim = in_dims
        B = info.batch_size
        scores = scores.movedim(scores_dim, 0) if scores_dim is not None else scores.expand(B, *scores.shape)
        y = y.movedim(y_dim, 0) if y_dim is not None else y.expand(B, *y.shape)
        n, k = scores.shape[1], scores.shape[2]
        losses, saved = function.apply(scores.reshape(B * n, k), y.reshape(B * n))
        return (losses.view(B, n), saved.view(B, n, *saved.shape[1:])), (0, 0)

    return staticmethod(vmap)


class CrammerSingerHingeFunction(Function):
    """Per-sample max(0, 1 + max_{j != y} s_j - s_y); scores (n, K), y (n,) class indices.

    Returns (losses (n,), rival (n,)): the best rival's class, a non-differentiable by-product kept
    for the backward pass. Subgradient: +1 on the best rival, -1 on the true class where the margin
    is violated; 0 at the kink (margin exactly 1); on a tie for the best rival, the first one in
    class order (torch.argmax's choice).
    """

    @staticmethod
    def forward(scores: torch.Tensor, y: torch.Tensor):
        true_column = y.unsqueeze(1)
        rivals = scores.scatter(1, true_column, float("-inf"))  # the true class masked out
        # amax + argmax, not max(dim): measured ~1000x slower on small inputs with this build
        rival = rivals.argmax(dim=1)
        losses = rivals.amax(dim=1).add_(1.0).sub_(scores.gather(1, true_column).squeeze(1)).clamp_min_(0.0)
        return losses, rival

    @staticmethod
    def setup_context(ctx, inputs, output):
        scores, y = inputs
        losses, rival = output
        ctx.mark_non_differentiable(rival)
        ctx.set_materialize_grads(False)
        ctx.scores_shape = scores.shape
        ctx.save_for_backward(y, losses, rival)

    @staticmethod
    @once_differentiable("crammer_singer hinge: its derivative jumps at the margin and between rivals")
    def backward(ctx, grad, _grad_rival):
        y, losses, rival = ctx.saved_tensors
        if grad is None or not ctx.needs_input_grad[0]:
            return None, None
        active_grad = _where_positive(grad, losses, 0).unsqueeze(1)
        # +grad on the rival, -grad on the true class (never the same column). Out-of-place: under
        # vmap(grad(...)) this backward sees batched tensors, and functorch batches scatter, not scatter_
        columns = torch.cat([rival.unsqueeze(1), y.unsqueeze(1)], dim=1)
        return losses.new_zeros(ctx.scores_shape).scatter(1, columns, torch.cat([active_grad, -active_grad], 1)), None


class WestonWatkinsHingeFunction(Function):
    """Per-sample sum_{j != y} max(0, 1 + s_j - s_y); scores (n, K), y (n,) class indices.

    Returns (losses (n,), margins (n, K)): every rival's max(0, 1 + s_j - s_y), 0 in the true
    class's column, a non-differentiable by-product kept for the backward pass. Subgradient: +1 on
    each rival inside the margin, minus their count on the true class; a rival exactly at the
    margin (1 + s_j - s_y == 0) counts as outside (0).
    """

    @staticmethod
    def forward(scores: torch.Tensor, y: torch.Tensor):
        true_column = y.unsqueeze(1)
        margins = (scores - scores.gather(1, true_column)).add_(1.0).clamp_min_(0.0)
        margins.scatter_(1, true_column, 0.0)  # the true class is not its own rival
        return margins.sum(dim=1), margins

    @staticmethod
    def setup_context(ctx, inputs, output):
        scores, y = inputs
        _, margins = output
        ctx.mark_non_differentiable(margins)
        ctx.set_materialize_grads(False)
        # scores are not read by backward; saved (a reference, no copy) so that a double backward
        # finds its way to this node's refusal (derivtrain.losses.first_order)
        ctx.save_for_backward(y, margins, scores)

    @staticmethod
    @once_differentiable("weston_watkins hinge: its derivative jumps where a rival reaches the margin")
    def backward(ctx, grad, _grad_margins):
        y, margins, _ = ctx.saved_tensors
        if grad is None or not ctx.needs_input_grad[0]:
            return None, None
        grad_scores = _where_positive(grad.unsqueeze(1).expand_as(margins), margins, 0)
        # each active rival gets +grad, the true class minus their sum. Out-of-place: under
        # vmap(grad(...)) this backward sees batched tensors, and functorch batches scatter, not scatter_
        return grad_scores.scatter(1, y.unsqueeze(1), grad_scores.sum(dim=1, keepdim=True).neg_()), None


CrammerSingerHingeFunction.vmap = _fold_rows_vmap(CrammerSingerHingeFunction)
WestonWatkinsHingeFunction.vmap = _fold_rows_vmap(WestonWatkinsHingeFunction)

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
    losses, _ = _FUNCTIONS[variant].apply(scores, y)
    return reduce(losses, reduction, weight)


class CrammerSingerDatafit(ConvexDatafit):
    """Crammer-Singer seen from its convex dual (derivtrain/convex/datafit.py): values are
    CrammerSingerHingeFunction's forward, max_k (z_k + [k != y]) - z_y; the conjugate theta_y on
    theta = p - e_y, p in the simplex; `smoothed` one barrier over the K pieces of the max."""

    nonsmooth, coupled, conjugate_linear = True, True, True
    shift_invariant = True
    slope_limit = 2.0

    def values(self, z, y):
        return CrammerSingerHingeFunction.apply(z, y)[0]

    def smoothed(self, z, y, tau):
        margins = z + 1 - F.one_hot(y, z.shape[1]).to(z.dtype)
        return barrier_max(margins, tau) - z.gather(1, y[:, None]).squeeze(1)

    def pieces(self):
        return CrammerSingerPieces()

    def conjugate(self, theta, y):
        return theta.gather(1, y[:, None]).squeeze(1)


class WestonWatkinsDatafit(CrammerSingerDatafit):
    """Weston-Watkins: values are WestonWatkinsHingeFunction's forward, sum_{k != y} max(0, 1 + z_k - z_y);
    the same conjugate on its own domain (each rival's a_k in [0, 1]); one barrier-smoothed hinge per rival."""

    def values(self, z, y):
        return WestonWatkinsHingeFunction.apply(z, y)[0]

    @property
    def slope_limit(self) -> float:
        return 2.0 * max(1, self.n_columns - 1)  # K - 1 hinges, each moving a rival and the true class

    def smoothed(self, z, y, tau):
        rivals = 1 + z - z.gather(1, y[:, None])
        mask = 1 - F.one_hot(y, z.shape[1]).to(z.dtype)
        return (barrier_hinge(rivals, tau) * mask).sum(dim=1)

    def pieces(self):
        return WestonWatkinsPieces()
