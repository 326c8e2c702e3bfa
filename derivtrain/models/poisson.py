"""Poisson regression for counts: log E[y | x] = Xw + b, trained by the Poisson likelihood.

`decision_function` gives the linear predictor (the log-rate); `predict` gives the expected count
exp(Xw + b), as scikit-learn's PoissonRegressor does. Use it with loss=poisson (its default) and
optim=newton (its default: the objective is smooth and convex, Newton converges in a few steps).
"""
import numpy as np
import torch

from derivtrain.models.linear import LinearRegression


class PoissonRegression(LinearRegression):
    """The linear model's scores, read as log-rates (the Poisson likelihood's canonical link)."""

    fits_scaled_targets = False  # counts are not centred: a log-rate has no offset to absorb a mean

    @staticmethod
    def mean_response(scores: torch.Tensor) -> torch.Tensor:
        """The expected count for a log-rate: the inverse of the log link."""
        return scores.exp()

    def predict(self, X):
        scores = self.decision_function(X)
        return self.mean_response(scores) if torch.is_tensor(scores) else np.exp(scores)
