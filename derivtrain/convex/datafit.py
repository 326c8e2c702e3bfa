"""The convex datafit contract: a loss seen as a function of a linear model's scores, which is
what the certified solvers and the certificate work with (derivtrain/convex).

For scores z (n, K) and the loss's prepared targets y, a datafit gives, per row:

    values(z, y)        l_i(z_i), (n,)                           every solver; the primal value
    conjugate(theta, y) l_i*(theta_i), (n,): an upper bound     the dual value (the certificate)
                        on the true conjugate, never below it
    prepare(targets)    the encoded targets in the shape the formulas use (default: (n, K) floats)
    row_weights(y)      per-row class weights, or None            the weighted mean
    nonsmooth           a max of affine pieces somewhere (kinks)   which solver: interior point
    pieces()            those pieces (derivtrain/convex/kinked_units.py), None if smooth
    smoothed(z, y, mu)  a smooth version whose derivative is a dual point (kinked losses only)
    smoothed_slope      optional: that derivative in closed form, (n, K) (else autograd through
                        `smoothed`; the certificate takes one per barrier width)
    score_derivatives   optional: (values, first, second derivatives) per row in closed form, unweighted
                        (derivtrain/trainer/smooth_part.py; else autograd through `values`)
    coupled             the second derivative couples a row's K scores (not a diagonal)
    conjugate_linear    l* is linear on its domain with l*(0) = 0 (the hinge family): the
                        certificate then searches the dual point's scale in closed form
    slope_limit         a bound on |dl_i/dz_i| summed over a row's scores, or None if unbounded
                        (the precision floor: derivtrain/trainer/precision_floor.py)
    curvature_limit     a bound on each score's second derivative, or None if unbounded (gap-safe
                        screening: derivtrain/path/screening.py)
    constant_curvature  the second derivative is the same everywhere (squared error): a Newton
                        model is then exact, its Hessian formed once and in float64
    shift_invariant     adding one constant to a row's scores leaves l_i unchanged (softmax,
                        Crammer-Singer): a fit's biases are then centred, one optimum of a line
    hinge_sweeps        declared by a class itself (not inherited): its smoothed slope and conjugate
                        are the binary hinge's, so the certificate's dual points may come from the
                        compiled sweeps (derivtrain/convex/hinge_duals.py)

The first derivatives (and the Newton solver's second derivatives) come from autograd through
`values`, so a datafit writes none of them. derivtrain/losses/convex_loss.py derives a whole datafit
from a loss's one elementwise definition (squared error, logistic, Poisson and plugins'); a loss
that is not elementwise declares its datafit beside its torch loss, its values computed by that
loss's own autograd Function (the hinge family: derivtrain/losses/hinge.py, squared_hinge.py,
multiclass_hinge.py; the softmax: likelihood.py).
"""
import torch

from derivtrain.convex.conjugate import conjugate_upper
from derivtrain.convex.pieces import AffinePieces, smoothed_max


class ConvexDatafit:
    nonsmooth = False
    coupled = False
    conjugate_linear = False
    slope_limit = None
    curvature_limit = None
    constant_curvature = False
    shift_invariant = False

    def __init__(self, n_outputs: int, class_weight=None):
        self.n_columns, self.class_weight = n_outputs, class_weight

    def prepare(self, targets: torch.Tensor) -> torch.Tensor:
        """The loss's encoded targets in the shape these formulas use: (n, K) values, or (n,) classes."""
        return targets.reshape(len(targets), -1).double() if targets.is_floating_point() else targets

    def classes(self, y: torch.Tensor) -> torch.Tensor:
        """Each row's class index (for class weights)."""
        return y

    def row_weights(self, y: torch.Tensor):
        if self.class_weight is None:
            return None
        return torch.as_tensor(self.class_weight, dtype=torch.float64, device=y.device)[self.classes(y)]

    smoothed_slope = None  # optional (see above): None = autograd through `smoothed`

    def smoothed(self, z, y, tau: float):
        return self.values(z, y)

    def pieces(self):
        """The loss as a sum of maxima of affine pieces (derivtrain/convex/kinked_units.py); None if smooth."""
        return None

    def slope_bound(self, z, y) -> torch.Tensor:
        """A bound on |d l_i / d z| summed over a row's scores, where the loss is kinked (rounding_error)."""
        return torch.full((len(z),), float(z.shape[1]), dtype=z.dtype, device=z.device)


class ElementwiseDatafit(ConvexDatafit):
    """The datafit of a ConvexLoss (derivtrain/losses/convex_loss.py): l_i(z) = sum_k f(z_k, y_k) with f the
    loss's `elementwise`; its conjugate the loss's own `conjugate` (elementwise) where it declares
    one, else computed (derivtrain/convex/conjugate.py: an upper bound, to rounding)."""

    def __init__(self, loss, n_outputs: int):
        super().__init__(n_outputs)
        self.loss = loss
        self._pieces = AffinePieces(loss) if loss.kinked else None
        self.nonsmooth = loss.kinked
        self.slope_limit = getattr(loss, "slope_limit", None)
        self.curvature_limit = getattr(loss, "curvature_limit", None)
        self.constant_curvature = getattr(loss, "residual_degree", None) == 2  # (y - s)^2 up to a scale
        if getattr(loss, "elementwise_derivatives", None) is not None:
            self.score_derivatives = self._score_derivatives  # (derivtrain/trainer/smooth_part.py)

    def prepare(self, targets):
        return targets.reshape(len(targets), -1).double()

    def values(self, z, y):
        return self.loss.elementwise(z, y.to(z.dtype).expand_as(z)).sum(dim=1)

    def _score_derivatives(self, z, y):
        """(values, first, second derivatives) per row from the loss's elementwise_derivatives."""
        values, first, second = self.loss.elementwise_derivatives(z, y.to(z.dtype).expand_as(z))
        return values.sum(dim=1), first, second

    def conjugate(self, theta, y):
        y = y.to(theta.dtype).expand_as(theta)
        declared = getattr(self.loss, "conjugate", None)
        if declared is not None:
            return declared(theta, y).sum(dim=1)
        return conjugate_upper(self.loss.elementwise, theta, y).sum(dim=1)

    def pieces(self):
        return self._pieces

    def smoothed(self, z, y, tau):
        if self._pieces is None:
            return self.values(z, y)
        return smoothed_max(self._pieces.values(z, y), tau).sum(dim=1)

    def slope_bound(self, z, y):
        if self._pieces is None:
            return super().slope_bound(z, y)
        return self._pieces.slopes(y.expand_as(z)).abs().amax(dim=2).sum(dim=1)
