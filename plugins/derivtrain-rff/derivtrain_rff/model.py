"""Kernel SVM by random Fourier features: a fixed random feature map, then a linear SVM (on values:
kernel ridge regression, the natural loss for regression being squared error).

The feature map is not trained (its tensors are buffers, saved with the model), so the objective
stays convex in the trained head: hinge loss + L2 on the head's weights.
"""
import math

import torch
from torch import nn

from derivtrain.models.base import Model


class RandomFourierSVM(Model):
    # the random features serve both tasks: a kernel SVM on labels, kernel ridge regression on values
    tasks = ("classification", "regression")
    natural_losses = {"classification": "hinge", "regression": "mse"}

    def __init__(self, spec, n_components: int = 500, gamma: float | None = None, seed: int = 0):
        super().__init__(spec)
        if n_components < 1:
            raise ValueError(f"model.n_components={n_components} must be >= 1")
        gamma = 1.0 / spec.n_features if gamma is None else float(gamma)
        g = torch.Generator().manual_seed(seed)
        # the RBF kernel's spectral density is Gaussian with variance 2*gamma
        self.register_buffer("frequencies", torch.randn(spec.n_features, n_components, generator=g)
                             * math.sqrt(2 * gamma))
        self.register_buffer("phases", torch.rand(n_components, generator=g) * 2 * math.pi)
        self.scale = math.sqrt(2.0 / n_components)
        self.head = nn.Linear(n_components, spec.n_outputs)

    def features(self, X: torch.Tensor) -> torch.Tensor:
        return self.scale * torch.cos(X @ self.frequencies + self.phases)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return self.scores_of(self.head(self.features(X)))
