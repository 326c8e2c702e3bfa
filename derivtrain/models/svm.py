"""Linear support vector machine: scores s = Xw + b, trained with the hinge loss + L2 penalty.

That objective, mean_i max(0, 1 - y_i s_i) + alpha/2 ||w||^2, is scikit-learn's LinearSVC
objective 1/2 ||w||^2 + C sum_i max(0, 1 - y_i s_i) divided by C*n: alpha = 1 / (C * n_train).
Several classes: one score per class, one-vs-rest (model.multiclass=ovr).
"""
from torch import nn

from derivtrain.errors import choice_error
from derivtrain.models.base import Model

MULTICLASS = ("ovr",)


class LinearSVM(Model):
    tasks = ("classification",)

    def __init__(self, spec, multiclass: str = "ovr"):
        super().__init__(spec)
        if multiclass not in MULTICLASS:
            raise choice_error("model.multiclass", multiclass, MULTICLASS)
        self.multiclass = multiclass
        self.linear = nn.Linear(spec.n_features, spec.n_outputs)

    def forward(self, X):
        return self.scores_of(self.linear(X))
