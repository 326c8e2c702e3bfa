"""A penalty written once: per-weight L1 and L2 coefficients give the torch penalty a model
trains with AND its convex dual (derivtrain/convex/penalty.py: ElementwiseDual).

    g(W) = strength * sum_jk ( l1_jk |W_jk| + l2_jk / 2 W_jk^2 )

Subclass ElementwisePenalty and write ONE method, `coefficients(shape)` -> (l1, l2): floats or
tensors that broadcast to a weight tensor of that shape ((K, d) for a linear model: a (d,)
tensor weighs each feature). The adaptive lasso is l1 = 1 / |w_ols|, l2 = 0; weighted ridge is
l1 = 0. A penalty with an L1 part has a kink at 0: set `differentiable = twice_differentiable =
False` (the pre-flight refuses optim=lbfgs / newton for it; optim=auto solves it exactly).
"""
import torch

from derivtrain.losses.penalty import Penalty


class ElementwisePenalty(Penalty):
    convex = True  # linear models penalized by it are solved to a certificate (optim=auto)

    def coefficients(self, shape):
        raise NotImplementedError(f"{type(self).__name__} must write coefficients(shape) -> (l1, l2)")

    def _of(self, param: torch.Tensor):
        l1, l2 = self.coefficients(tuple(param.shape))
        as_tensor = (lambda c: torch.as_tensor(c, dtype=param.dtype, device=param.device))
        return as_tensor(l1), as_tensor(l2)

    def value(self, params):
        total = 0
        for p in params:
            l1, l2 = self._of(p)
            total = total + (l1 * p.abs()).sum() + (l2 * p.square()).sum() / 2
        return total

    def grad(self, param):
        l1, l2 = self._of(param)
        return l1 * torch.sign(param) + l2 * param  # sign(0) == 0: the subgradient taken at the kink

    def convex_dual(self, shape):
        from derivtrain.convex.penalty import ElementwiseDual

        l1, l2 = self.coefficients(tuple(shape))

        def scaled(c):
            if isinstance(c, (int, float)):
                return self.strength * float(c)
            return self.strength * torch.as_tensor(c, dtype=torch.float64).expand(shape)

        return ElementwiseDual(scaled(l1), scaled(l2))
