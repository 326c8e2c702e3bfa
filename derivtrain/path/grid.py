"""The strengths of a path, strongest first (the order the warm starts run in).

regularizer.path=auto starts at a strength read off the data, the way glmnet and scikit-learn's
LassoCV do: with the weights at zero, the gradient of the mean loss with respect to them is
G = X^T c l'(z) (l' at z = 0). For the L1 part, W = 0 is optimal exactly when ||G||_inf <= alpha r
(r the L1 ratio), so alpha_max = ||G||_inf / r is the smallest strength that zeroes every weight;
the path starts 1% above it.
Because the features are centred (data.standardize), G does not depend on the bias at which l' is
taken for the losses here (a constant shift of l' is orthogonal to centred columns), so z = 0 is
as good as the bias-only optimum. An L2 penalty never zeroes a weight: there W ~ -G / alpha for
large alpha, and the path starts where the largest weight is ~0.1 (alpha = 10 ||G||_inf).
From there path_points strengths down path_decades decades, evenly on a log scale.
"""
import numpy as np
import torch

# 1% above alpha_max: the first point's weights are all zero with room to spare (at alpha_max itself
# the first feature to enter sits on the L1 box's face, which a solve to tol cannot tell from entering)
_ABOVE = 1.01
_L2_TOP = 10.0  # alpha = 10 ||G||_inf: every weight ~<= 0.1 in standardized units


def strength_unit(objective, user_strength: float) -> float:
    """The fitted problem's strength per unit of the user's. Scaled regression targets fit the same
    problem with the strength alpha s^(p-k) (derivtrain/losses/targets.py: fitted_penalty), linear
    in alpha: build_objective's conversion of regularizer.strength gives the factor. 1 elsewhere."""
    return objective.penalty.strength / user_strength if user_strength > 0 else 1.0


def path_strengths(reg_cfg, objective, data, unit: float = 1.0) -> list:
    """The grid as floats in the user's units (regularizer.strength's), strongest first."""
    if reg_cfg.path != "auto":
        return sorted({float(v) for v in reg_cfg.path}, reverse=True)
    top = largest_strength(objective, data) / unit  # the gradient is the fitted problem's
    return [float(a) for a in np.geomspace(top, top * 10.0 ** -float(reg_cfg.path_decades), int(reg_cfg.path_points))]


def largest_strength(objective, data) -> float:
    """alpha_max of the module docstring: L1 ratio r > 0: ||G||_inf / r; L2: _L2_TOP ||G||_inf."""
    gradient = zero_weight_gradient(objective, data)
    ratio = l1_ratio(objective.penalty, objective.model.linear.weight.shape)
    scale = gradient.abs().max().item()
    if not scale > 0:  # every feature orthogonal to the targets: any strength zeroes them; 1 is as good
        return 1.0
    return _ABOVE * scale / ratio if ratio > 0 else _L2_TOP * scale


def l1_ratio(penalty, shape) -> float:
    """r = l1 / (l1 + l2) of the penalty's dual (derivtrain/convex/penalty.py: ElementwiseDual): 1 for
    L1, 0 for L2 (the mean over weights for a penalty with per-weight coefficients)."""
    from derivtrain.convex.penalty_dual import penalty_dual

    strength = penalty.strength
    try:
        penalty.strength = 1.0  # only the kind of penalty matters; its dual needs a strength > 0
        dual = penalty_dual(penalty, tuple(shape))
    finally:
        penalty.strength = strength
    l1, l2 = (float(c.mean()) if hasattr(c, "mean") else float(c) for c in (dual.l1, dual.l2))
    return l1 / (l1 + l2) if l1 + l2 > 0 else 0.0


def zero_weight_gradient(objective, data) -> torch.Tensor:
    """dL/dW of the mean training loss at W = 0, b = 0 (autograd through the loss itself, so any
    loss with a convex dual works, the hinge family's subgradient included)."""
    model = objective.model
    train = data.train
    targets = objective.loss.encode_targets(train.y, data.spec.n_outputs)
    saved = {name: p.detach().clone() for name, p in model.named_parameters()}
    try:
        with torch.no_grad():
            for p in model.parameters():
                p.zero_()
        loss = objective.data_loss(train.X, targets, sample_weight=train.weight)
        (gradient,) = torch.autograd.grad(loss, model.linear.weight)
    finally:
        with torch.no_grad():
            for name, p in model.named_parameters():
                p.copy_(saved[name])
    return gradient.detach()
