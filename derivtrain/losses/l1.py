"""The L1 penalty ||w||_1 = sum |w_j| (lasso): it pushes weights to exactly zero.

Subgradient: sign(w), taking 0 at w == 0 (the minimum-norm element of [-1, 1], the choice that
leaves a zero weight where it is when the data loss does not pull it). Piecewise linear, so the
backward is first order only.
"""
import torch

from derivtrain.losses.penalty import Penalty


def l1_norm(params) -> torch.Tensor:
    return torch.stack([p.abs().sum() for p in params]).sum()


class L1Penalty(Penalty):
    differentiable = False
    convex = True
    homogeneous = True

    def rescale(self, factor) -> None:
        self.strength *= factor(1)

    def convex_dual(self, shape):
        from derivtrain.convex.penalty_dual import PenaltyDual

        return PenaltyDual(self.strength, 1.0)

    def value(self, params):
        return l1_norm(params)

    def grad(self, param):
        return torch.sign(param)  # sign(0) == 0: the subgradient we take at the kink
