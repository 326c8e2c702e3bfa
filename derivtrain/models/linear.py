"""Linear regression s = Xw + b (with loss=mse: least squares; with regularizer=l2: ridge)."""
from torch import nn

from derivtrain.models.base import Model


class LinearRegression(Model):
    tasks = ("regression",)

    def __init__(self, spec):
        super().__init__(spec)
        self.linear = nn.Linear(spec.n_features, 1)

    def forward(self, X):
        return self.scores_of(self.linear(X))
