"""The penalty g(W) = alpha (r ||W||_1 + (1 - r)/2 ||W||^2) and its convex conjugate.

r = 0 is L2, r = 1 is L1, in between the elastic net. With V the (K, d) dual matrix:

    g*(V) = sum_jk max(|V_jk| - alpha r, 0)^2 / (2 alpha (1 - r))      r < 1
    g*(V) = 0 if max |V_jk| <= alpha, else +inf                       r = 1 (L1)

so for L1 a dual point must be scaled until its V fits in the box (`feasible_scale`). Without a
penalty (alpha = 0) g* is finite only at V = 0, which no dual point built from the data reaches:
unregularized objectives get no certificate.

The certified solver handles the L1 part as |w| = max(w, -w), pieces of an interior-point method
(derivtrain/train/interior_point.py); the L2 part is smooth.
"""
import torch



class PenaltyDual:
    def __init__(self, alpha: float, l1_ratio: float):
        self.alpha, self.r = float(alpha), float(l1_ratio)

    @property
    def has_l1(self) -> bool:
        return self.r > 0

    def value(self, W: torch.Tensor) -> torch.Tensor:
        if self.r == 0:  # L2 alone: the common case, in fewer tensor operations
            return W.square().sum() * (self.alpha / 2)
        return self.alpha * (self.r * W.abs().sum() + (1 - self.r) / 2 * W.square().sum())

    def conjugate(self, V: torch.Tensor) -> torch.Tensor:
        if self.r < 1:
            excess = (V.abs() - self.alpha * self.r).clamp_min(0.0)
            return excess.square().sum() / (2 * self.alpha * (1 - self.r))
        inside = V.abs().max() <= self.alpha * (1 + 1e-12)
        return V.new_zeros(()) if inside else V.new_full((), float("inf"))

    def feasible_scale(self, V: torch.Tensor) -> float:
        """The factor in (0, 1] that brings V inside g*'s domain (L1: |V_jk| <= alpha)."""
        if self.r < 1:
            return 1.0
        largest = V.abs().max().item()
        return 1.0 if largest <= self.alpha else self.alpha / largest


def penalty_dual(penalty):
    """The PenaltyDual of a derivtrain penalty, or None (no penalty, or one without a known conjugate)."""
    from derivtrain.losses.elastic_net import ElasticNetPenalty
    from derivtrain.losses.l1 import L1Penalty
    from derivtrain.losses.l2 import L2Penalty

    if not penalty.strength > 0:
        return None
    if type(penalty) is L2Penalty:
        return PenaltyDual(penalty.strength, 0.0)
    if type(penalty) is L1Penalty:
        return PenaltyDual(penalty.strength, 1.0)
    if type(penalty) is ElasticNetPenalty:
        return PenaltyDual(penalty.strength, penalty.l1_ratio)
    return None


def penalty_class_has_dual(cls) -> bool:
    from derivtrain.losses.elastic_net import ElasticNetPenalty
    from derivtrain.losses.l1 import L1Penalty
    from derivtrain.losses.l2 import L2Penalty

    return cls in (L2Penalty, L1Penalty, ElasticNetPenalty)
