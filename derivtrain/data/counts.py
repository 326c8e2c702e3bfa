"""A generated count problem for Poisson regression (model=poisson): y ~ Poisson(exp(Xw + b)).

Features are standard normal, weights N(0, 0.3^2), intercept log(2): a mean count around 2 with
a long right tail. Seeded, so a test can fit scikit-learn's PoissonRegressor to the same table.
"""
import numpy as np
import torch

from derivtrain.data.table import Table, generated_names
from derivtrain.errors import ConfigError


def make_counts(n_samples: int = 2000, n_features: int = 10, seed: int = 0) -> Table:
    if n_samples < 10 or n_features < 1:
        raise ConfigError(f"data=counts needs data.n_samples >= 10 and data.n_features >= 1 "
                          f"(got {n_samples}, {n_features})")
    g = torch.Generator().manual_seed(int(seed))
    X = torch.randn(n_samples, n_features, generator=g, dtype=torch.float64)
    w = 0.3 * torch.randn(n_features, generator=g, dtype=torch.float64)
    rate = torch.exp(X @ w + np.log(2.0))
    y = torch.poisson(rate, generator=g)
    return Table(X=X.numpy(), y=y.numpy(), feature_names=generated_names(n_features), task="regression")
