"""Regression targets centred and scaled in float64, before any rounding, as the features are.

A target around 1e7 rounded to float32 keeps steps of 1: the rows a float32 fit sees are not the
user's, and no solver reaches the user's optimum (the issue-23 audit: a gap stuck at 2.4 %). And a
network fitted on targets of std 77 (diabetes) starts with residuals a hundred times its outputs.
So the training rows' mean m and scale s are computed in float64, every split's targets become
(y - m) / s in float64, and only then are they rounded to the run's dtype. The model keeps m and s
(derivtrain/models/base.py: target_mean, target_scale) and answers in the data's units.

Which of the two a fit may apply is the objective's business (derivtrain/losses/targets.py), given
here as a TargetPlan; the default plan applies neither (mean 0, scale 1: the targets as given).
"""
from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class TargetPlan:
    centre: bool = False  # fit y - m (m: the training rows' mean)
    scale: bool = False  # fit (y - m) / s (s: their standard deviation)


AS_GIVEN = TargetPlan()


def target_statistics(y: np.ndarray, plan: TargetPlan, weight=None) -> tuple:
    """(mean, scale) as float64 Python numbers from the training rows' targets `y` (weighted mean and
    std with per-row weights, as the features' statistics); (0, 1) for what the plan does not apply.
    A constant target keeps scale 1 (as a constant feature does)."""
    y = np.asarray(y, dtype=np.float64)
    if len(y) == 0 or not (plan.centre or plan.scale):
        return 0.0, 1.0
    centre = float(np.average(y, weights=weight))
    scale = 1.0
    if plan.scale:
        scale = float(np.sqrt(np.average((y - centre) ** 2, weights=weight)))
        # relative to the targets' size: a constant 1e7 column has a rounding-error std, not a scale
        if not np.isfinite(scale) or scale <= 64 * np.finfo(np.float64).eps * max(abs(centre), 1.0):
            scale = 1.0
    return (centre if plan.centre else 0.0), scale


def fitted_targets(y: np.ndarray, mean: float, scale: float, dtype: torch.dtype, device=None) -> torch.Tensor:
    """(y - mean) / scale computed in float64, then rounded to `dtype`: a tensor of its own."""
    exact = (np.asarray(y, dtype=np.float64) - mean) / scale
    return torch.tensor(exact, dtype=torch.float64, device=device).to(dtype)
