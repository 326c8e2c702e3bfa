"""The L2 penalty 1/2 ||w||^2 (ridge, weight decay). Smooth: its gradient is w, its Hessian I."""
import torch

from derivtrain.losses.penalty import Penalty


def half_squared_norm(params) -> torch.Tensor:
    # one fused reduction per tensor; the 1/2 makes the gradient exactly w
    return 0.5 * torch.stack([torch.linalg.vector_norm(p) ** 2 for p in params]).sum()


class L2Penalty(Penalty):
    twice_differentiable = True  # grad() is w itself: autograd differentiates it again

    convex = True
    homogeneous = True

    def rescale(self, factor) -> None:
        self.strength *= factor(2)

    def convex_dual(self, shape):
        from derivtrain.convex.penalty_dual import PenaltyDual

        return PenaltyDual(self.strength, 0.0)

    def value(self, params):
        return half_squared_norm(params)

    def grad(self, param):
        return param
