"""Generated problems of any size, for scaling runs and benchmarks.

Classification: Gaussian clusters around random class centres, with label noise;
regression: a random linear function of the features plus Gaussian noise.
n_informative=k: only the first k features carry signal (the class centres and the regression
weights are zero on the others), a ground truth for feature-importance methods.
Generated with torch, so a 1M x 100 problem builds in a fraction of a second.
"""
import numpy as np
import torch

from derivtrain.data.table import Table, generated_names
from derivtrain.errors import ConfigError

# rows whose centres are gathered at once: the whole (n, d) gather was a second table, 500 MB fresh for
# 1.25M x 100, whose first touch took most of its 0.35 s; a chunk's stays in cache (the same sums)
_CHUNK = 1 << 14


def make_synthetic(task: str = "classification", n_samples: int = 1000, n_features: int = 20,
                   n_classes: int = 2, noise: float = 0.1, seed: int = 0, n_informative=None) -> Table:
    if n_samples < 10 or n_features < 1:
        raise ConfigError(f"data=synthetic needs data.n_samples >= 10 and data.n_features >= 1 "
                          f"(got {n_samples}, {n_features})")
    if noise < 0:
        raise ConfigError(f"data.noise={noise} must be >= 0")
    if n_informative is not None and not 1 <= n_informative <= n_features:
        raise ConfigError(f"data.n_informative={n_informative} must be in [1, data.n_features={n_features}] or null")
    g = torch.Generator().manual_seed(int(seed))
    X = torch.randn(n_samples, n_features, generator=g)
    if task == "regression":
        w = torch.randn(n_features, generator=g)
        if n_informative is not None:
            w[n_informative:] = 0
        y = X @ w + noise * w.norm() * torch.randn(n_samples, generator=g)
        return Table(X=X.numpy(), y=y.double().numpy(), feature_names=generated_names(n_features), task=task)
    if n_classes < 2:
        raise ConfigError(f"data.n_classes={n_classes} must be >= 2 for classification")
    centres = torch.randn(n_classes, n_features, generator=g) * (2.0 / n_features ** 0.5)
    if n_informative is not None:
        centres[:, n_informative:] = 0
    y = torch.randint(n_classes, (n_samples,), generator=g)
    shifts = centres * n_features ** 0.5
    for a in range(0, n_samples, _CHUNK):  # each row's class centre added a chunk at a time (_CHUNK: why)
        X[a:a + _CHUNK] += shifts[y[a:a + _CHUNK]]
    flip = torch.rand(n_samples, generator=g) < noise  # label noise: a fraction `noise` relabelled at random
    y[flip] = torch.randint(n_classes, (int(flip.sum()),), generator=g)
    return Table(X=X.numpy(), y=y.numpy().astype(np.int64), feature_names=generated_names(n_features), task=task)
