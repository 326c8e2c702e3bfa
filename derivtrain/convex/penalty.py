"""The convex penalty contract: what the certified solvers and the certificate need of a penalty
g(W) on a linear model's weights W (K, d), strength included (the bias is never penalized).

    value(W)             g(W), a 0-d tensor                                      every solver
    smooth_part(W)       (gradient, diagonal curvature), each (K, d), of the      Newton; the
                         twice-differentiable part of g                           interior point
    pieces()             None, or (structure, cost): the kinked part as units     the interior point
                         of affine pieces of each weight (derivtrain/convex/
                         pieces.py; cost (K, d): what a unit's multipliers sum to)
    conjugate(V)         g*(V), never below the true conjugate (+inf outside      the certificate
                         its domain)
    feasible_scale(V)    the largest s in (0, 1] with g*(s V) finite               the certificate
    quadratic            g*(s V) = s^2 g*(V) (no kinked part): the dual point's    the certificate
                         scale has a closed form
    weight_bound(P0)     a bound on ||W||_F from g(W) <= P0                       the precision floor

ElementwiseDual below is every penalty of the form sum_jk l1_jk |W_jk| + l2_jk / 2 W_jk^2: L2,
L1, the elastic net, and with per-weight coefficients the adaptive lasso, weighted ridge, ...
(derivtrain/losses/weighted_penalty.py: a plugin penalty that writes only its coefficients). Its
conjugate, with V the dual matrix:

    g*(V) = sum_jk max(|V_jk| - l1_jk, 0)^2 / (2 l2_jk)          where l2_jk > 0
            0 if |V_jk| <= l1_jk, else +inf                      where l2_jk = 0

Without a penalty g* is finite only at V = 0, which no dual point built from data reaches:
unregularized objectives get no certificate (derivtrain/convex/plan.py asks for strength > 0).
"""
import math

import torch


class ElementwiseDual:
    def __init__(self, l1, l2):
        """l1, l2: floats or (K, d) tensors of the weights' coefficients, strength included."""
        self.l1, self.l2 = l1, l2
        self._scalar = not isinstance(l1, torch.Tensor) and not isinstance(l2, torch.Tensor)

    def _coefficients(self, like: torch.Tensor):
        as_tensor = (lambda c: c.to(device=like.device, dtype=like.dtype) if isinstance(c, torch.Tensor)
                     else torch.full_like(like, float(c)))
        return as_tensor(self.l1).expand_as(like), as_tensor(self.l2).expand_as(like)

    @property
    def quadratic(self) -> bool:
        return not self._any(self.l1)

    @staticmethod
    def _any(c) -> bool:
        return bool((c > 0).any()) if isinstance(c, torch.Tensor) else c > 0

    def value(self, W: torch.Tensor) -> torch.Tensor:
        if self._scalar:
            if self.l1 == 0:  # L2 alone: the common case, in fewer tensor operations
                return W.square().sum() * (self.l2 / 2)
            return self.l1 * W.abs().sum() + self.l2 / 2 * W.square().sum()
        l1, l2 = self._coefficients(W)
        return (l1 * W.abs()).sum() + (l2 * W.square()).sum() / 2

    def smooth_part(self, W: torch.Tensor):
        if self._scalar:
            return self.l2 * W, torch.full_like(W, self.l2)
        l2 = self._coefficients(W)[1]
        return l2 * W, l2

    def pieces(self):
        if self.quadratic:
            return None
        from derivtrain.convex.kinked_units import AbsolutePieces  # loaded when used

        return AbsolutePieces(), self.l1

    def conjugate(self, V: torch.Tensor) -> torch.Tensor:
        if self._scalar and self.l2 > 0:
            excess = (V.abs() - self.l1).clamp_min(0.0)
            return excess.square().sum() / (2 * self.l2)
        if self._scalar:  # L1 alone: the indicator of a box
            inside = V.abs().max() <= self.l1 * (1 + 1e-12)
            return V.new_zeros(()) if inside else V.new_full((), float("inf"))
        l1, l2 = self._coefficients(V)
        smooth = l2 > 0
        excess = (V.abs() - l1).clamp_min(0.0)
        finite = (excess.square() / torch.where(smooth, 2 * l2, torch.ones_like(l2)))[smooth].sum()
        inside = bool((V.abs() <= l1 * (1 + 1e-12))[~smooth].all())
        return finite if inside else V.new_full((), float("inf"))

    def feasible_scale(self, V: torch.Tensor) -> float:
        """The factor in (0, 1] that brings V inside g*'s domain (|V_jk| <= l1_jk where l2_jk = 0)."""
        if self._scalar:
            if self.l2 > 0:
                return 1.0
            largest = V.abs().max().item()
            return 1.0 if largest <= self.l1 else self.l1 / largest
        l1, l2 = self._coefficients(V)
        hard = (l2 <= 0) & (V.abs() > l1)
        if not bool(hard.any()):
            return 1.0
        return float((l1[hard] / V.abs()[hard]).min())

    def weight_bound(self, objective_at_zero: float) -> float:
        """||W||_F at the optimum, from g(W*) <= P(W*) <= P(0): through the smallest L2 or L1 coefficient."""
        def least(c):
            return float(c.min()) if isinstance(c, torch.Tensor) else float(c)

        bounds = []
        if least(self.l2) > 0:
            bounds.append(math.sqrt(2 * objective_at_zero / least(self.l2)))
        if least(self.l1) > 0:
            bounds.append(objective_at_zero / least(self.l1))
        return min(bounds) if bounds else math.inf
