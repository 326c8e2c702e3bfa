"""Two noisy concentric circles: the classic problem a linear classifier cannot solve."""
import numpy as np

from derivtrain.data.table import Table


def make_circles(n_samples: int = 1000, noise: float = 0.1, factor: float = 0.5, seed: int = 0) -> Table:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n_samples)
    angle = rng.uniform(0, 2 * np.pi, n_samples)
    radius = np.where(y == 1, factor, 1.0)  # class 1 on the inner circle
    X = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)
    X += rng.normal(scale=noise, size=X.shape)
    return Table(X=X, y=y, feature_names=["x0", "x1"], task="classification")
