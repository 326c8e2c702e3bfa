"""Which regression targets a fit may centre and scale without changing the problem the user gave.

derivtrain/data/targets.py does the arithmetic; this decides, from the classes a config names
(before any data is read), what is applied. With r = y - s the residual:

    centre  the loss is a function of r alone (`residual_loss`: squared error, Huber, log-cosh) and
            the model's output has an unpenalized bias (`fits_scaled_targets`): fitting y - m moves
            the bias by m and nothing else, so the optimum, its objective value and every
            prediction are the user's, exactly
    scale   the loss is also homogeneous in r (`residual_degree` k: loss(c r) = c^k loss(r); squared
            error: 2). For a linear model, w = s w' turns the user's objective into
                loss(r) + alpha R(w) = s^k [loss(r') + alpha s^(p-k) R(w')]
            for a penalty R homogeneous of degree p (L2: 2, L1: 1): the fitted problem is the user's
            divided by s^k, with the strength alpha s^(p-k) (`fitted_penalty`; ridge keeps alpha, the
            lasso's becomes alpha / s, the elastic net's two parts each their own). Same minimizer,
            same relative gap, so the certificate bounds the user's objective. A penalty that does
            not declare itself `homogeneous` (a plugin's) is centred only. A model that is not linear
            (the MLP, plugin models) has no convex optimum to keep: it is scaled whenever the loss allows, because a network
            fits targets of unit scale far better than targets of std 77 (diabetes)

The objective a fit reports is in the data's units: the fitted one times s^k (`units`).
"""
from derivtrain.data.targets import AS_GIVEN, TargetPlan
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
    return TargetPlan(centre=True, scale=not strength > 0 or getattr(penalty_cls, "homogeneous", False))


def fitted_penalty(penalty, scale: float, loss) -> None:
    """The user's penalty in the fitted problem's units (module docstring), in place: each part of
    degree p has its strength times scale^(p - k). Nothing to do when the targets are not scaled."""
    degree = getattr(loss, "residual_degree", None)
    if scale == 1.0 or degree is None or not penalty.strength > 0:
        return
    penalty.rescale(lambda p: scale ** (p - degree))


def units(model, loss) -> float:
    """How many of the data's units one unit of the fitted objective is: s^k (1 when unscaled)."""
    scale = float(getattr(model, "target_scale", 1.0))
    degree = getattr(loss, "residual_degree", None)
    return scale ** degree if degree is not None and scale != 1.0 else 1.0
