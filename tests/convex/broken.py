"""Convex plugin parts that break the convex contract, for tests/convex/test_probe.py."""
import torch

from derivtrain.losses import ConvexLoss, CrossEntropyLoss, ElementwisePenalty, Loss, Penalty


class WritesNothing(ConvexLoss):
    task = "classification"

    def encode_targets(self, y, n_outputs):
        return y.double() * 2 - 1


class WrongConjugate(WritesNothing):
    """The logistic loss log(1 + e^-yz) with a conjugate off by a constant."""

    def elementwise(self, scores, signs):
        return torch.nn.functional.softplus(-signs * scores)

    def conjugate(self, theta, signs):
        p = (-signs * theta).clamp(0, 1)
        return torch.special.xlogy(p, p) + torch.special.xlogy(1 - p, 1 - p) + 0.1


class WrongCurvature(WrongConjugate):
    """The logistic loss with its conjugate computed and closed-form derivatives whose second is off by 2x."""

    conjugate = None

    def elementwise_derivatives(self, scores, signs):
        p = torch.sigmoid(-signs * scores)
        return self.elementwise(scores, signs), -signs * p, 2 * p * (1 - p)


class SaysConvexOnly(Loss):
    task = "classification"
    convex = True


class TooLowL1(ElementwisePenalty):
    """L1 whose convex dual's conjugate is 0.5 below the true one: a certificate would claim too much."""

    differentiable = twice_differentiable = False

    def coefficients(self, shape):
        return 1.0, 0.0

    def convex_dual(self, shape):
        dual = super().convex_dual(shape)
        conjugate = dual.conjugate
        dual.conjugate = lambda V: conjugate(V) - 0.5
        return dual


class NoConjugate(Penalty):
    convex = True

    def value(self, params):
        return sum(p.abs().sum() for p in params)

    def grad(self, param):
        return torch.sign(param)

    def convex_dual(self, shape):
        class Half:
            def value(self, W):
                return W.abs().sum()

        return Half()


class ScaledCrossEntropy(CrossEntropyLoss):
    """Changes forward but inherits CrossEntropyLoss's datafit: its certificate would be another loss's."""

    def forward(self, scores, y, sample_weight=None):
        return 2 * super().forward(scores, y, sample_weight)
