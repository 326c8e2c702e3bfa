"""Logistic regression: one logit (binary, sigmoid) or one per class (multinomial, softmax).

Trained with loss=cross_entropy it is maximum likelihood; predict_proba gives the probabilities.
"""
from torch import nn

from derivtrain.models.base import Model


class LogisticRegression(Model):
    tasks = ("classification",)

    def __init__(self, spec):
        super().__init__(spec)
        self.linear = nn.Linear(spec.n_features, spec.n_outputs)

    def forward(self, X):
        return self.scores_of(self.linear(X))
