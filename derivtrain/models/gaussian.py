"""A multivariate Gaussian N(mu, S): the mixture of one component, with a full covariance.

The covariance goes through a Cholesky factor (of its inverse, derivtrain/models/covariance.py),
so gradient fitting (optim=adam|lbfgs) keeps it positive definite without constraints. Its
maximum likelihood estimate has a closed form, the sample mean and covariance: optim=em reaches
it in one M-step (and confirms it with a second E-step).
"""
import torch

from derivtrain.models.gmm import GaussianMixture


class MultivariateGaussian(GaussianMixture):
    def __init__(self, spec, reg_covar: float = 1e-6):
        super().__init__(spec, n_components=1, covariance_type="full", reg_covar=reg_covar)

    @torch.no_grad()
    def initialize(self, Z: torch.Tensor, generator: torch.Generator, init: str = "kmeans") -> None:
        """Nothing to cluster: start at the closed-form estimate itself."""
        self.m_step(Z, torch.ones(1, Z.shape[0], dtype=Z.dtype, device=Z.device))

    @property
    def mean_(self) -> torch.Tensor:
        """The mean in raw feature space."""
        return self.means_[0]

    @property
    def covariance_(self) -> torch.Tensor:
        """The covariance matrix in raw feature space."""
        return self.covariances_[0]
