"""Linear regression s = Xw + b (with loss=mse: least squares; with regularizer=l2: ridge)."""
from derivtrain.models.base import LinearModel


class LinearRegression(LinearModel):
    tasks = ("regression",)

    def __init__(self, spec):
        super().__init__(spec, 1)
