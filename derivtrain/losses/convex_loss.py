"""A loss written once: one elementwise definition gives the torch loss a model trains with AND
the datafit the certified solver and the certificate use (derivtrain/convex/datafit.py).

Subclass ConvexLoss (itself a derivtrain Loss) and write ONE method:

    elementwise(scores, targets)   the loss of each score against its encoded target, same shape,
                                   in torch ops: a smooth convex loss (Huber, the smooth hinge)
or
    affine_pieces(targets)         (slopes, intercepts), each (*targets.shape, J): the loss is
                                   max_j slopes_j * score + intercepts_j, a kinked convex loss
                                   (pinball / quantile, hinge); `elementwise` follows from it

Everything else is derived: `forward` (the mean over rows of the sum over a row's scores, or the
weighted mean), its derivatives (autograd), the solver's second derivatives (autograd again) or
its pieces, and the convex conjugate (derivtrain/convex/conjugate.py: computed per score from the
value and its derivatives, an upper bound to rounding, so a certificate stays a true bound). A
loss whose conjugate is known in closed form may add `conjugate(theta, targets)` (elementwise;
it is checked against the computed one when a config is composed); a loss with a faster
hand-written autograd Function may override `forward` (checked to agree at a probe point).
A loss may also give `elementwise_derivatives(scores, targets)` -> (values, first, second
derivatives), elementwise, in closed form: the Newton solvers then take them instead of autograd's
three passes (checked against autograd when a config is composed; logistic, squared error, Poisson).
A loss whose derivative is bounded may say so, `slope_limit = c` with |d loss / d score| <= c
(the logistic loss: 1): the precision floor then uses c instead of the residuals' scale; and
`curvature_limit = k` with its second derivative <= k (logistic 1/4): regularization paths then
screen out weights proven zero (derivtrain/path/screening.py).
`encode_targets` must give targets that broadcast against the scores ((n,) or (n, K) floats).
"""
import torch

from derivtrain.losses.base import Loss
from derivtrain.losses.reduction import reduce


class ConvexLoss(Loss):
    convex = True  # linear models trained with it are solved to a certificate (optim=auto)

    def __init_subclass__(cls, **kwargs):
        """A loss given by affine pieces has kinks: no derivative there, none of second order."""
        super().__init_subclass__(**kwargs)
        if "affine_pieces" in cls.__dict__:
            cls.differentiable = cls.__dict__.get("differentiable", False)
            cls.twice_differentiable = cls.__dict__.get("twice_differentiable", False)

    @property
    def kinked(self) -> bool:
        return type(self).affine_pieces is not ConvexLoss.affine_pieces

    def affine_pieces(self, targets):
        raise NotImplementedError(f"{type(self).__name__} writes neither `elementwise` nor `affine_pieces`")

    def elementwise(self, scores: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """The loss of each score (default: the max of its affine pieces)."""
        slopes, intercepts = self.affine_pieces(targets.to(scores.dtype).expand_as(scores))
        return (slopes * scores[..., None] + intercepts).amax(dim=-1)

    def forward(self, scores: torch.Tensor, targets: torch.Tensor, sample_weight=None) -> torch.Tensor:
        values = self.elementwise(scores, targets.to(scores.dtype))
        per_row = values.sum(dim=1) if values.dim() == 2 else values
        if sample_weight is None:
            return per_row.mean()
        return reduce(per_row, "mean", sample_weight.to(scores.dtype))

    def convex_dual(self, n_outputs: int):
        from derivtrain.convex.datafit import ElementwiseDatafit

        return ElementwiseDatafit(self, n_outputs)
