"""Plugin-style parts for the stopping and natural-loss tests, written as a plugin author would.

LogCoshLoss: log(cosh(s - y)), smooth and convex in the scores, with no convex dual derivtrain
knows (nothing certifies its optimum: optim=auto fits it by L-BFGS); autograd gives its
derivative, tanh of the residual.
TwoTaskPoly: a model serving both tasks (a linear map of the features and their squares), naming
its natural loss per task, and TwoTaskWrongLoss naming a classification loss for regression.
"""
import math

import torch
from torch import nn

from derivtrain.losses import Loss
from derivtrain.models import Model


def _log_cosh(r: torch.Tensor) -> torch.Tensor:
    """log cosh r = |r| + log1p(exp(-2|r|)) - log 2, without overflow for large |r|."""
    a = r.abs()
    return a + torch.log1p(torch.exp(-2 * a)) - math.log(2.0)


class LogCoshLoss(Loss):
    task = "regression"

    def forward(self, scores, targets, sample_weight=None):
        rows = _log_cosh(scores - targets)
        if sample_weight is None:
            return rows.mean()
        return (rows * sample_weight).sum() / sample_weight.sum()


class TwoTaskPoly(Model):
    tasks = ("classification", "regression")
    natural_losses = {"classification": "cross_entropy", "regression": "mse"}

    def __init__(self, spec):
        super().__init__(spec)
        self.linear = nn.Linear(2 * spec.n_features, spec.n_outputs)

    def forward(self, X):
        return self.scores_of(self.linear(torch.cat([X, X * X], dim=1)))


class TwoTaskWrongLoss(TwoTaskPoly):
    natural_losses = {"classification": "cross_entropy", "regression": "hinge"}


class TwoTaskUnknownLoss(TwoTaskPoly):
    natural_losses = {"classification": "cross_entropy", "regression": "no_such_loss"}


class TasksOutsideNatural(TwoTaskPoly):
    tasks = ("regression",)
    natural_losses = {"classification": "cross_entropy", "regression": "mse"}
