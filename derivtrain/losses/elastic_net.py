"""Elastic net r ||w||_1 + (1 - r) 1/2 ||w||^2: the lasso's sparsity with ridge's stability.

r = l1_ratio in [0, 1] (r = 1 is the L1 penalty, r = 0 the L2 penalty), as in scikit-learn's
SGDClassifier. Subgradient r sign(w) + (1 - r) w, taking sign(0) = 0 at the kink, so the backward
is first order only unless r == 0.
"""
import torch

from derivtrain.losses.l1 import l1_norm
from derivtrain.losses.l2 import half_squared_norm
from derivtrain.losses.penalty import Penalty


class ElasticNetPenalty(Penalty):
    def __init__(self, strength: float = 0.0, l1_ratio: float = 0.5):
        super().__init__(strength)
        if not 0.0 <= l1_ratio <= 1.0:
            raise ValueError(f"l1_ratio={l1_ratio} must be in [0, 1]")
        self.l1_ratio = float(l1_ratio)
        self.twice_differentiable = self.l1_ratio == 0.0  # no kink left without the L1 part
        self.differentiable = self.l1_ratio == 0.0

    convex = True
    homogeneous = True

    def rescale(self, factor) -> None:
        """Each part scales by its own degree: the strength and the ratio of the new mix."""
        r = self.l1_ratio
        l1, l2 = self.strength * r * factor(1), self.strength * (1 - r) * factor(2)
        if l1 + l2 > 0:
            self.strength, self.l1_ratio = l1 + l2, (l1 / (l1 + l2) if 0 < r < 1 else r)

    def convex_dual(self, shape):
        from derivtrain.convex.penalty_dual import PenaltyDual

        return PenaltyDual(self.strength, self.l1_ratio)

    def value(self, params):
        r = self.l1_ratio
        return r * l1_norm(params) + (1 - r) * half_squared_norm(params)

    def grad(self, param):
        r = self.l1_ratio
        return r * torch.sign(param) + (1 - r) * param

    def __repr__(self) -> str:
        return f"ElasticNetPenalty(strength={self.strength}, l1_ratio={self.l1_ratio})"
