"""Gaussian mixture: p(x) = sum_k w_k N(x | mu_k, S_k), fitted by EM or by gradient ascent.

The parameters are unconstrained, so the same module trains with any torch optimizer:
mixture weights through a softmax of logits, covariances through Cholesky factors of their
inverses with a positive (and bounded) diagonal (derivtrain/models/covariance.py).

EM (optim=em, derivtrain/trainer/em.py) uses the closed-form steps below instead of gradients:

    E-step  r_nk = w_k N(x_n | mu_k, S_k) / sum_j w_j N(x_n | mu_j, S_j)   (in log space: log-sum-exp)
    M-step  N_k = sum_n r_nk,  w_k = N_k / n,  mu_k = sum_n r_nk x_n / N_k,
            S_k = sum_n r_nk (x_n - mu_k)(x_n - mu_k)^T / N_k + reg_covar * I

Each step is a few batched tensor operations over all rows and components at once. The M-step
maximizes the expected complete-data log-likelihood exactly, which is why EM never decreases the
likelihood; at its fixed points the gradient of the log-likelihood is zero (up to reg_covar), so
EM and a gradient fit from the same start usually reach the same answer (tests/probabilistic/).

Both steps work on all components at once, with (K, n, d) temporaries: K copies of the data's
size, traded for one batched product instead of K small ones.
"""
import math

import torch
from torch import nn

from derivtrain.choices import COVARIANCE_TYPES, EM_INITS
from derivtrain.errors import ConfigError, choice_error
from derivtrain.models import covariance as cov
from derivtrain.models.density import DensityModel
from derivtrain.models.kmeans import assign, kmeans_plus_plus, lloyd


class GaussianMixture(DensityModel):
    def __init__(self, spec, n_components: int = 1, covariance_type: str = "full", reg_covar: float = 1e-6):
        super().__init__(spec)
        if covariance_type not in COVARIANCE_TYPES:
            raise choice_error("model.covariance_type", covariance_type, COVARIANCE_TYPES)
        if n_components < 1:
            raise ConfigError(f"model.n_components={n_components} must be >= 1")
        if reg_covar < 0:
            raise ConfigError(f"model.reg_covar={reg_covar} must be >= 0")
        k, d = int(n_components), spec.n_features
        self.n_components, self.covariance_type, self.reg_covar = k, covariance_type, float(reg_covar)
        self.weight_logits = nn.Parameter(torch.zeros(k))
        self.means = nn.Parameter(torch.randn(k, d))
        # unit covariances until the data are seen (initialize() or EM replaces them)
        unit = torch.ones(k, d) if covariance_type != "spherical" else torch.ones(k)
        if covariance_type == "full":
            unit = torch.diag_embed(unit)
        self.precision_raw = nn.Parameter(cov.raw_from_covariance(unit, covariance_type, self.reg_covar))

    # ---- the density ---------------------------------------------------------------------------
    def precision_factor(self) -> torch.Tensor:
        return cov.precision_factor(self.precision_raw, self.covariance_type, self.reg_covar)

    def density_terms(self):
        """What log_joint needs besides the rows, from the parameters alone: (log weight + log
        normalizer per component (K,), the precision factors U, the centre). Constants of a fitted
        model: an exported graph takes them as such (derivtrain/export.py)."""
        d = self.means.shape[1]
        # the mixture's mean is the data's at EM's fixed points, and costs no pass over the rows
        centre = torch.softmax(self.weight_logits, 0) @ self.means
        log_det = cov.log_det_factor(self.precision_raw, self.covariance_type, self.reg_covar, d)
        constant = torch.log_softmax(self.weight_logits, dim=0) + log_det - 0.5 * d * math.log(2 * math.pi)
        return constant, self.precision_factor(), centre

    def log_joint(self, Z: torch.Tensor, terms=None) -> torch.Tensor:
        constant, U, centre = self.density_terms() if terms is None else terms
        maha = cov.squared_mahalanobis(Z, self.means, U, self.covariance_type, centre)
        return constant.unsqueeze(1) - 0.5 * maha

    def n_parameters(self) -> int:
        k, d = self.n_components, self.means.shape[1]
        return (k - 1) + k * d + cov.n_parameters(self.covariance_type, k, d)

    # ---- EM: closed-form steps -------------------------------------------------------------------
    @torch.no_grad()
    def e_step(self, Z: torch.Tensor, weight=None):
        """(responsibilities (K, n), mean log-likelihood of Z in standardized space; weighted by the
        rows' sample weights `weight` (n,) when given).

        Log-sum-exp written out, in place: the largest log-joint per row comes out before exp,
        so nothing overflows, and the exponentials are the unnormalized responsibilities.
        """
        joint = self.log_joint(Z)
        top = joint.amax(0, keepdim=True)
        resp = joint.sub_(top).exp_()
        total = resp.sum(0, keepdim=True)
        resp.div_(total)
        log_likelihood = (total.log_() + top).squeeze(0)
        if weight is None:
            return resp, log_likelihood.mean()
        weight = weight.to(log_likelihood.dtype)
        return resp, (weight * log_likelihood).sum() / weight.sum()

    @torch.no_grad()
    def m_step(self, Z: torch.Tensor, resp: torch.Tensor) -> None:
        """Set weights, means and covariances to maximize the expected log-likelihood under the
        responsibilities `resp` (K, n). Weighted rows arrive as resp * sample weight: every sum
        below is then a weighted one (the mixture weights' logits need no normalizing: softmax)."""
        # a component with no responsibility at all still gets finite parameters (as scikit-learn)
        nk = resp.sum(1) + 10 * torch.finfo(resp.dtype).eps
        means = (resp @ Z) / nk.unsqueeze(1)
        # sqrt(r) on both sides: sum_n r_n diff_n diff_n^T as one batched product, one temporary;
        # centred differences, not E[x x^T] - mu mu^T, which cancels badly for tight components
        weighted = (Z.unsqueeze(0) - means.unsqueeze(1)).mul_(resp.sqrt().unsqueeze(2))  # (K, n, d)
        if self.covariance_type == "full":
            covariances = torch.bmm(weighted.mT, weighted) / nk.view(-1, 1, 1)
            covariances.diagonal(dim1=-2, dim2=-1).add_(self.reg_covar)
        else:
            covariances = weighted.square_().sum(1) / nk.unsqueeze(1) + self.reg_covar
            if self.covariance_type == "spherical":
                covariances = covariances.mean(1)
        try:
            raw = cov.raw_from_covariance(covariances, self.covariance_type, self.reg_covar)
        except torch.linalg.LinAlgError:
            raise ConfigError(f"model.reg_covar={self.reg_covar}: a component's covariance is singular "
                              "(it holds too few distinct rows); increase model.reg_covar or decrease "
                              "model.n_components") from None
        self.weight_logits.copy_((nk / Z.shape[0]).log())
        self.means.copy_(means)
        self.precision_raw.copy_(raw)

    @torch.no_grad()
    def initialize(self, Z: torch.Tensor, generator: torch.Generator, init: str = "kmeans") -> None:
        """Start from k-means clusters (k-means++ seeds, then Lloyd's iterations unless init='k-means++')."""
        if init not in EM_INITS:
            raise choice_error("optim.init", init, EM_INITS)
        k = self.n_components
        if k > Z.shape[0]:
            raise ConfigError(f"model.n_components={k} exceeds the {Z.shape[0]} training rows")
        centres = kmeans_plus_plus(Z, k, generator)
        labels = lloyd(Z, centres) if init == "kmeans" else assign(Z, centres)
        self.m_step(Z, nn.functional.one_hot(labels, k).T.to(Z.dtype))

    # ---- sampling and fitted values in raw feature space ---------------------------------------
    @torch.no_grad()
    def sample_standardized(self, n: int, generator: torch.Generator):
        weights = torch.softmax(self.weight_logits, 0)
        components = torch.multinomial(weights, n, replacement=True, generator=generator).sort().values
        counts = torch.bincount(components, minlength=self.n_components).tolist()
        U = self.precision_factor()
        z = torch.randn(n, self.means.shape[1], generator=generator, dtype=self.means.dtype,
                        device=self.means.device)
        parts = [self.means[k] + cov.scale_noise(block, U[k], self.covariance_type)
                 for k, block in enumerate(z.split(counts)) if counts[k]]
        return torch.cat(parts), components

    @property
    def weights_(self) -> torch.Tensor:
        return torch.softmax(self.weight_logits.detach(), 0)

    @property
    def means_(self) -> torch.Tensor:
        """Component means in raw feature space."""
        return self.means.detach() * self.feature_scale + self.feature_mean

    @property
    def covariances_(self) -> torch.Tensor:
        """Full covariance matrices (K, d, d) in raw feature space, whatever the covariance type."""
        with torch.no_grad():
            S = cov.covariance(self.precision_raw, self.covariance_type, self.reg_covar, self.means.shape[1])
        return S * self.feature_scale.unsqueeze(1) * self.feature_scale
