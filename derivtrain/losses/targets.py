"""Which regression targets a fit may centre and scale without changing the problem the user gave.

derivtrain/data/targets.py does the arithmetic; this decides, from the classes a config names
(before any data is read), what is applied. With r = y - s the residual:

    centre  the loss is a function of r alone (`residual_loss`: squared error, Huber, log-cosh) and
            the model's output has an unpenalized bias (`fits_scaled_targets`): fitting y - m moves
            the bias by m and nothing else, so the optimum, its objective value and every
            prediction are the user's, exactly
    scale   the loss is also homogeneous in r (`residual_degree` k: loss(c r) = c^k loss(r); squared
            error: 2). For a linear model, dividing y and the weights by s multiplies the loss by
            s^-k and an L2 penalty by s^-2: with k = 2 the scaled problem is the user's times s^-2
            (same minimizer, same relative gap), so ridge and unpenalized least squares are scaled.
            L1 and elastic net are not homogeneous of degree 2 (their optimum would move), nor are
            plugin penalties: those are centred only. A model that is not linear (the MLP, plugin
            models) has no convex optimum to keep: it is scaled whenever the loss allows, because a
            network fits targets of unit scale far better than targets of std 77 (diabetes)

The objective a fit reports is in the data's units: the fitted one times s^k (`units`).
"""
from derivtrain.data.targets import AS_GIVEN, TargetPlan
from derivtrain.losses.l2 import L2Penalty
from derivtrain.losses.penalty import NoPenalty
from derivtrain.models.base import LinearModel


def target_plan(model_cls, loss_cls, penalty_cls, strength: float) -> TargetPlan:
    """What a fit of these classes applies to its targets (module docstring)."""
    if getattr(loss_cls, "task", None) != "regression" or not getattr(loss_cls, "residual_loss", False):
        return AS_GIVEN
    if not getattr(model_cls, "fits_scaled_targets", True):
        return AS_GIVEN
    degree = getattr(loss_cls, "residual_degree", None)
    if degree is None:
        return TargetPlan(centre=True)
    if not issubclass(model_cls, LinearModel):
        return TargetPlan(centre=True, scale=True)
    unpenalized = issubclass(penalty_cls, NoPenalty) or not strength > 0
    same_degree = degree == 2 and issubclass(penalty_cls, L2Penalty)
    return TargetPlan(centre=True, scale=unpenalized or same_degree)


def units(model, loss) -> float:
    """How many of the data's units one unit of the fitted objective is: s^k (1 when unscaled)."""
    scale = float(getattr(model, "target_scale", 1.0))
    degree = getattr(loss, "residual_degree", None)
    return scale ** degree if degree is not None and scale != 1.0 else 1.0
