"""The hinge loss max(0, 1 - y*s) of support vector machines, with its derivative written by hand.

Targets are signs y in {-1, +1}. With several classes, scores are (n, K) and, one-vs-rest, every
column is its own binary problem: y is +1 in the true class's column and -1 elsewhere; a sample's
loss is the sum over its columns. HingeLoss can instead train the multiclass hinges of
Crammer-Singer or Weston-Watkins (derivtrain/losses/multiclass_hinge.py): `multiclass`.

Derivative: d/ds max(0, 1 - y*s) = -y where y*s < 1, else 0. At the kink y*s == 1 we take the
subgradient 0 (the point counts as classified with margin, as in scikit-learn's SGDClassifier).
The derivative is piecewise constant, so the backward is first order only (derivtrain.losses.first_order).
"""
from typing import Optional, Sequence

import torch
from torch import nn

from derivtrain.function import Function  # torch.autograd.Function without per-call binding
from derivtrain.convex.datafit import ConvexDatafit
from derivtrain.convex.kinked_units import SignedPieces
from derivtrain.convex.smoothing import barrier_hinge, barrier_hinge_slope
from derivtrain.choices import MULTICLASS
from derivtrain.losses.base import Loss
from derivtrain.losses.multiclass_hinge import VARIANTS, CrammerSingerDatafit, WestonWatkinsDatafit, multiclass_hinge
from derivtrain.losses.first_order import once_differentiable
from derivtrain.losses.reduction import check_reduction, reduce, sample_weights


# grad where the saved output is > 0, else 0: one fused kernel (it is ReLU's backward)
_where_positive = torch.ops.aten.threshold_backward


class HingeFunction(Function):
    """Elementwise max(0, 1 - y*s) for scores s and signs y of the same shape.

    Subgradient at the kink y*s == 1: 0. Gradients: -y (scores) and -s (signs) where y*s < 1.
    First order only: differentiating the backward raises NoSecondDerivativeError.
    """

    generate_vmap_rule = True

    @staticmethod
    def forward(scores: torch.Tensor, signs: torch.Tensor) -> torch.Tensor:
        # 1 - y*s in one kernel, then clamped in place: a single n-sized allocation, which on
        # large inputs costs more than the arithmetic itself
        one = torch.ones((), dtype=scores.dtype, device=scores.device)
        return torch.addcmul(one, signs, scores, value=-1).clamp_min_(0.0)

    @staticmethod
    def setup_context(ctx, inputs, output):
        scores, signs = inputs
        # the output is the active-set record: the loss is > 0 exactly where y*s < 1
        ctx.save_for_backward(scores, signs, output)

    @staticmethod
    @once_differentiable("hinge: the derivative of max(0, 1 - y*s) jumps at y*s == 1")
    def backward(ctx, grad):
        scores, signs, losses = ctx.saved_tensors
        grad_scores = grad_signs = None
        if ctx.needs_input_grad[0] or ctx.needs_input_grad[1]:
            active_grad = _where_positive(grad, losses, 0)  # grad on the active set, 0 at the kink
            if ctx.needs_input_grad[0]:
                grad_scores = torch.mul(active_grad, signs).neg_() if ctx.needs_input_grad[1] \
                    else active_grad.mul_(signs).neg_()  # reuse the buffer when it is the only one
            if ctx.needs_input_grad[1]:
                grad_signs = active_grad.mul_(scores).neg_()
        return grad_scores, grad_signs


class HingeDatafit(ConvexDatafit):
    """The hinge seen from its convex dual (derivtrain/convex/datafit.py): its values are
    HingeFunction's forward; its conjugate sum_k s_k theta_k on theta = -s a, a in [0, 1]; its kinks
    the pieces the interior-point method works with; `smoothed` a log barrier whose derivative is a
    dual point strictly inside that domain. Binary or one-vs-rest: targets are signs, (n,) or (n, K)."""

    nonsmooth, conjugate_linear = True, True
    hinge_sweeps = True  # this class's own (a subclass declares it again to keep the compiled dual points)
    slope_limit = 1.0  # |dl/dz| summed over a row's scores (derivtrain/trainer/precision_floor.py)
    function = HingeFunction  # the loss's own autograd Function: values are its forward

    def classes(self, y):
        return (y[:, 0] > 0).long() if y.shape[1] == 1 else y.argmax(dim=1)

    def values(self, z, y):
        return self.function.apply(z, y.to(z.dtype).expand_as(z)).sum(dim=1)

    def smoothed(self, z, y, tau):
        return barrier_hinge(1 - y * z, tau).sum(dim=1)

    def smoothed_slope(self, z, y, tau):
        """d smoothed / dz in closed form: what autograd through `smoothed` gives, bit for bit, in
        a third of the passes over the rows (the certificate takes one per barrier width)."""
        return -y * barrier_hinge_slope(1 - y * z, tau)

    def pieces(self):
        return SignedPieces()

    def prepare(self, targets):
        return targets.reshape(len(targets), -1).double()

    def conjugate(self, theta, y):
        return (y * theta).sum(dim=1)


def classes_of_signs(signs: torch.Tensor) -> torch.Tensor:
    """The class index of each row: 0/1 for a vector of signs, the +1 column for a one-vs-rest matrix."""
    return (signs > 0).long() if signs.dim() == 1 else signs.argmax(dim=1)


def hinge(scores: torch.Tensor, y: torch.Tensor, *, reduction: str = "mean",
          sample_weight: Optional[torch.Tensor] = None,
          class_weight: Optional[Sequence[float]] = None) -> torch.Tensor:
    """Binary hinge loss of scores (n,) against signs y in {-1, +1}; one-vs-rest for (n, K).

    class_weight: [weight of -1, weight of +1] for (n,); one weight per class (column) for (n, K).
    See derivtrain.losses.reduction for how weights and reductions combine.
    """
    return reduce_signed(HingeFunction, scores, y, reduction, sample_weight, class_weight)


def reduce_signed(function, scores, y, reduction, sample_weight, class_weight) -> torch.Tensor:
    """Per-element losses of a sign-target Function (hinge, squared hinge), weighted and reduced."""
    check_reduction(reduction)
    signs = y.to(scores.dtype)
    weight = None
    if sample_weight is not None or class_weight is not None:
        weight = sample_weights(classes_of_signs(signs), sample_weight, class_weight, scores.dtype)
    return reduce(function.apply(scores, signs), reduction, weight)


def signs_from_labels(y: torch.Tensor, n_outputs: int) -> torch.Tensor:
    """Class indices -> {-1, +1}: a vector for one score per row, a one-vs-rest (n, K) matrix otherwise."""
    if n_outputs == 1:
        return y.to(torch.float32) * 2 - 1
    return nn.functional.one_hot(y, n_outputs).to(torch.float32) * 2 - 1


class HingeLoss(Loss):
    """The SVM's hinge loss (loss=hinge): binary, or for several classes per `multiclass`.

    multiclass: ovr (one binary hinge per class column, summed), crammer_singer or weston_watkins.
    With model=svm, conf/loss/hinge.yaml takes it from model.multiclass. Binary problems (one score
    per row) use the binary hinge whatever `multiclass` says: all three agree on two classes.
    class_weight: one weight per class, in class order (reweights samples; see losses/reduction.py).
    """

    task = "classification"
    differentiable = False  # a kink at y*s == 1: gradient-only smooth methods (L-BFGS) stall on it
    twice_differentiable = False
    convex = True

    def __init__(self, multiclass: str = "ovr", class_weight: Optional[Sequence[float]] = None,
                 reduction: str = "mean"):
        super().__init__()
        if multiclass not in MULTICLASS:
            from derivtrain.errors import choice_error

            raise choice_error("loss.multiclass", multiclass, MULTICLASS)
        check_reduction(reduction)
        self.multiclass, self.reduction = multiclass, reduction
        self.class_weight = None if class_weight is None else torch.tensor(list(class_weight))
        self._multiclass_hinge = multiclass_hinge if multiclass != "ovr" else None

    def one_vs_rest(self, n_outputs: int) -> bool:
        """Whether targets are signs (binary, one-vs-rest) rather than class indices."""
        return n_outputs == 1 or self.multiclass == "ovr"

    def encode_targets(self, y: torch.Tensor, n_outputs: int) -> torch.Tensor:
        return signs_from_labels(y, n_outputs) if self.one_vs_rest(n_outputs) else y

    def forward(self, scores: torch.Tensor, targets: torch.Tensor, sample_weight=None) -> torch.Tensor:
        class_weight = self._class_weight_on(scores)
        if scores.dim() == 1 or self._multiclass_hinge is None:
            return hinge(scores, targets, reduction=self.reduction, sample_weight=sample_weight,
                         class_weight=class_weight)
        return self._multiclass_hinge(scores, targets, variant=self.multiclass, reduction=self.reduction,
                                      sample_weight=sample_weight, class_weight=class_weight)

    def _class_weight_on(self, scores: torch.Tensor) -> Optional[torch.Tensor]:
        # moved once per device and dtype, not copied every step
        cw = self.class_weight
        if cw is not None and (cw.device != scores.device or cw.dtype != scores.dtype):
            cw = self.class_weight = cw.to(device=scores.device, dtype=scores.dtype)
        return cw

    def convex_dual(self, n_outputs: int):
        """The loss seen from its convex dual (derivtrain/convex): what certifies an SVM's optimum."""
        weights = None if self.class_weight is None else self.class_weight.tolist()
        if self.one_vs_rest(n_outputs):
            return HingeDatafit(n_outputs, weights)
        variant = {"crammer_singer": CrammerSingerDatafit, "weston_watkins": WestonWatkinsDatafit}
        return variant[self.multiclass](n_outputs, weights)

    def extra_repr(self) -> str:
        return f"multiclass={self.multiclass!r}, reduction={self.reduction!r}"


class MulticlassHingeLoss(HingeLoss):
    """loss=multiclass_hinge: the Crammer-Singer or Weston-Watkins hinge (`multiclass`) for any model.

    With one score per row (a binary problem) it is the binary hinge, which both variants equal
    for two classes. For model=svm, loss=hinge with model.multiclass=<variant> is the same loss.
    """

    def __init__(self, multiclass: str = "crammer_singer", class_weight: Optional[Sequence[float]] = None,
                 reduction: str = "mean"):
        if multiclass not in VARIANTS:
            from derivtrain.errors import choice_error

            raise choice_error("loss.multiclass", multiclass, VARIANTS)
        super().__init__(multiclass=multiclass, class_weight=class_weight, reduction=reduction)
