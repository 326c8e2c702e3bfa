"""The penalty g(W) = alpha (r ||W||_1 + (1 - r)/2 ||W||^2) and its convex conjugate.

r = 0 is L2, r = 1 is L1, in between the elastic net: derivtrain/convex/penalty.py's
ElementwiseDual with l1 = alpha r and l2 = alpha (1 - r) on every weight, whose docstring gives
g* and its domain (for L1 a dual point is scaled until its V fits in the box: `feasible_scale`).

A penalty reaches the certificate through its own `convex_dual(shape)` (derivtrain/losses/
penalty.py's contract): nothing here names a penalty class, so a plugin penalty keeping
derivtrain/convex/penalty.py's contract gets the certified solver and its gap as L1 and L2 do.
The certified solver handles the L1 part as |w| = max(w, -w), pieces of an interior-point method
(derivtrain/trainer/interior_point.py); the L2 part is smooth.
"""
from derivtrain.convex.penalty import ElementwiseDual


class PenaltyDual(ElementwiseDual):
    def __init__(self, alpha: float, l1_ratio: float):
        self.alpha, self.r = float(alpha), float(l1_ratio)
        super().__init__(self.alpha * self.r, self.alpha * (1 - self.r))

    @property
    def has_l1(self) -> bool:
        return self.r > 0

    def value(self, W):
        if self.r == 0:  # L2 alone: the common case, in fewer tensor operations
            return W.square().sum() * (self.alpha / 2)
        return self.alpha * (self.r * W.abs().sum() + (1 - self.r) / 2 * W.square().sum())


def penalty_dual(penalty, shape):
    """The convex dual of a derivtrain penalty on weights of `shape` (its `convex_dual`), or None
    (no penalty, or one that is not convex-certifiable)."""
    convex_dual = getattr(penalty, "convex_dual", None)
    if convex_dual is None or not penalty.strength > 0:
        return None
    return convex_dual(shape)
