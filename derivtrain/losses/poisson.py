"""Poisson negative log-likelihood for counts, with the log link: the rate is exp(score).

For a count y with rate mu = exp(s), log p(y) = y s - exp(s) - log(y!). The loss is the mean of
exp(s) - y s (log(y!) does not depend on the model); its derivatives are exp(s) - y and exp(s):
a positive second derivative, so with the linear model s = Xw + b the objective is convex and
Newton's method (optim=newton) converges in a handful of steps.

Written once as a ConvexLoss (derivtrain/losses/convex_loss.py): `elementwise` gives the training
loss (its mean; the composed ops are as fast as F.poisson_nll_loss) and the certified solver's
datafit, with the conjugate in closed form.

scikit-learn's PoissonRegressor minimizes mean deviance / 2 + alpha/2 ||w||^2; half the mean
deviance is this loss plus a constant, so regularizer.strength is exactly its alpha.
"""
import torch

from derivtrain.errors import DataError
from derivtrain.losses.convex_loss import ConvexLoss


class PoissonLoss(ConvexLoss):
    task = "regression"
    is_likelihood = True

    def encode_targets(self, y: torch.Tensor, n_outputs: int) -> torch.Tensor:
        # checked once per split, not per step: a negative count is a data error, not a large loss
        if len(y) and bool(y.min() < 0):
            raise DataError(f"loss=poisson needs counts, but a target is {y.min().item():g}; "
                            "targets must be >= 0")
        return y

    def elementwise(self, scores, targets):
        return scores.exp() - targets * scores

    def elementwise_derivatives(self, scores, targets):
        rate = scores.exp()
        return rate - targets * scores, rate - targets, rate

    def conjugate(self, theta, targets):
        """q log q - q with q = theta + y >= 0 (theta = e^z - y)."""
        q = (theta + targets).clamp_min(0.0)
        return torch.special.xlogy(q, q) - q

    def log_likelihood(self, scores: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Mean log p(y | x) per row, log(y!) included."""
        y = y.to(scores.dtype)
        return (y * scores - scores.exp() - torch.lgamma(y + 1)).mean()
