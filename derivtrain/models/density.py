"""What every density model is: `forward` gives log p(x) per row, on standardized features.

Training maximizes the mean of it (loss=density, derivtrain/losses/density.py). Users work in
their own feature space: for x = mean + scale * z the change of variables gives

    log p_x(x) = log p_z(z) - sum(log scale),

so `score_samples`, `score`, `bic`, `aic` and the run's log_likelihood metrics all include that
Jacobian term, and match what scikit-learn's GaussianMixture reports on the raw data. A model
with components (a mixture) also gives predict_proba (responsibilities) and predict (the most
likely component); a single Gaussian is a mixture of one.
"""
from abc import ABC, abstractmethod

import numpy as np
import torch

from derivtrain.models.base import Model


class DensityModel(Model, ABC):
    tasks = ("density",)

    def __init__(self, spec):
        super().__init__(spec)
        # a density model predicts components, not the data's classes (labels, if any, are ignored)
        self.classes_ = []

    # ---- what subclasses define, on standardized features -------------------------------------
    @abstractmethod
    def log_joint(self, Z: torch.Tensor) -> torch.Tensor:
        """log(weight_k) + log p_k(z) for every component and row: (K, n), components first."""

    @abstractmethod
    def n_parameters(self) -> int:
        """Free parameters, for BIC and AIC."""

    @abstractmethod
    def sample_standardized(self, n: int, generator: torch.Generator):
        """n rows drawn from the model in standardized space, and the component of each."""

    def forward(self, Z: torch.Tensor) -> torch.Tensor:
        return torch.logsumexp(self.log_joint(Z), dim=0)

    def log_det_jacobian(self) -> torch.Tensor:
        """log |dz/dx| of the standardization z = (x - mean) / scale: added to every log-density."""
        return -self.feature_scale.log().sum().to(self.weight_dtype)

    # ---- estimator API on raw features ---------------------------------------------------------
    @torch.no_grad()
    def score_samples(self, X):
        """log p(x) per row, for raw features (scikit-learn's GaussianMixture.score_samples)."""
        Xt = self._as_tensor(X)
        out = self(self.standardize(Xt)) + self.log_det_jacobian()
        return self._like(X, out)

    def score(self, X) -> float:
        """Mean log-likelihood per row."""
        return float(torch.as_tensor(self.score_samples(X)).double().mean())

    def decision_function(self, X):
        """For a density model, the log-density of each row."""
        return self.score_samples(X)

    def bic(self, X) -> float:
        n = len(X)
        return -2 * self.score(X) * n + self.n_parameters() * np.log(n)

    def aic(self, X) -> float:
        return -2 * self.score(X) * len(X) + 2 * self.n_parameters()

    @torch.no_grad()
    def predict_proba(self, X):
        """Posterior probability of each component given the row (the E-step's responsibilities)."""
        Xt = self._as_tensor(X)
        joint = self.log_joint(self.standardize(Xt))
        return self._like(X, torch.softmax(joint, dim=0).T.contiguous())

    def predict(self, X):
        """The most likely component of each row."""
        proba = self.predict_proba(X)
        return proba.argmax(1) if torch.is_tensor(proba) else np.asarray(proba).argmax(1)

    @torch.no_grad()
    def sample(self, n_samples: int = 1, seed: int | None = None):
        """(X, components): n_samples rows drawn from the model in raw feature space, as numpy arrays."""
        generator = torch.Generator(device=self.feature_mean.device)
        generator.manual_seed(int(seed) if seed is not None else int(torch.randint(2 ** 62, ())))
        Z, components = self.sample_standardized(int(n_samples), generator)
        X = Z * self.feature_scale + self.feature_mean
        return X.cpu().numpy(), components.cpu().numpy()

    @staticmethod
    def _like(X, out: torch.Tensor):
        """Tensors in, tensors out; anything else in, numpy out."""
        return out if torch.is_tensor(X) else out.cpu().numpy()
