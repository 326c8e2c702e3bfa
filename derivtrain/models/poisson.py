"""Poisson regression for counts: log E[y | x] = Xw + b, trained by the Poisson likelihood.

`decision_function` gives the linear predictor (the log-rate); `predict` gives the expected count
exp(Xw + b), as scikit-learn's PoissonRegressor does. Use it with loss=poisson (its default) and
optim=newton (its default: the objective is smooth and convex, Newton converges in a few steps).
"""
import numpy as np
import torch
from torch import nn

from derivtrain.models.base import Model


class PoissonRegression(Model):
    tasks = ("regression",)

    def __init__(self, spec):
        super().__init__(spec)
        self.linear = nn.Linear(spec.n_features, 1)

    def forward(self, X):
        return self.scores_of(self.linear(X))

    @staticmethod
    def mean_response(scores: torch.Tensor) -> torch.Tensor:
        """The expected count for a log-rate: the inverse of the log link."""
        return scores.exp()

    def predict(self, X):
        scores = self.decision_function(X)
        return self.mean_response(scores) if torch.is_tensor(scores) else np.exp(scores)
