"""Isotropic Gaussian blobs without labels: data for density models (model=gmm, model=gaussian).

As scikit-learn's make_blobs: centres drawn uniformly in [-10, 10]^d (or given), rows shared
equally among them, Gaussian noise of standard deviation cluster_std around each. The blob each
row came from is not kept: the task is density estimation, and a mixture has to find the blobs.
Generated with torch from `seed`, so the same settings give the same table anywhere.
"""
import numpy as np
import torch

from derivtrain.data.table import Table, generated_names
from derivtrain.errors import ConfigError

_CENTRE_BOX = (-10.0, 10.0)


def make_blobs(n_samples: int = 1000, n_features: int = 2, centers=3, cluster_std: float = 1.0,
               seed: int = 0) -> Table:
    if n_samples < 10 or n_features < 1:
        raise ConfigError(f"data=blobs needs data.n_samples >= 10 and data.n_features >= 1 "
                          f"(got {n_samples}, {n_features})")
    if cluster_std <= 0:
        raise ConfigError(f"data.cluster_std={cluster_std} must be > 0")
    g = torch.Generator().manual_seed(int(seed))
    centres = _centres(centers, n_features, g)
    k = len(centres)
    blob = torch.arange(n_samples) % k  # equal shares, the first blobs take the remainder
    X = centres[blob] + cluster_std * torch.randn(n_samples, n_features, generator=g, dtype=torch.float64)
    X = X[torch.randperm(n_samples, generator=g)]  # rows in random order, not blob by blob
    return Table(X=X.numpy(), y=np.zeros(n_samples), feature_names=generated_names(n_features),
                 task="density")


def _centres(centers, n_features: int, g: torch.Generator) -> torch.Tensor:
    if isinstance(centers, int):
        if centers < 1:
            raise ConfigError(f"data.centers={centers} must be >= 1 (a number of blobs, or a list of centres)")
        low, high = _CENTRE_BOX
        return low + (high - low) * torch.rand(centers, n_features, generator=g, dtype=torch.float64)
    try:
        centres = torch.tensor([[float(v) for v in c] for c in centers], dtype=torch.float64)
    except (TypeError, ValueError):
        centres = None
    if centres is None or centres.dim() != 2 or centres.shape[1] != n_features or len(centres) < 1:
        raise ConfigError(f"data.centers={list(centers) if not isinstance(centers, str) else centers} "
                          f"must be a number of blobs or a list of centres with data.n_features={n_features} "
                          "coordinates each")
    return centres
