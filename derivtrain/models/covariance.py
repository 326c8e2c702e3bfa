"""Gaussian covariances through Cholesky factors of their inverses, for a batch of K components.

A covariance S = L L^T (L lower triangular) is stored as its precision factor U = L^-T (upper
triangular), so that S^-1 = U U^T and

    log N(x | mu, S) = -d/2 log(2 pi) + sum(log diag U) - 1/2 ||(x - mu) U||^2 :

the log-density is one matrix product, with no triangular solve and no explicit inverse (the same
choice as scikit-learn's `precisions_cholesky_`). Covariance types, as in scikit-learn:

    full       U is a (d, d) upper-triangular matrix per component
    diag       U is diagonal: one precision square root per feature and component, (K, d)
    spherical  U is a multiple of the identity: one per component, (K,)

Gradient fitting needs unconstrained parameters. The strictly upper part of U is free; the
diagonal of U must be positive, and is also kept at most 1/sqrt(reg_covar). Since diag U =
1/diag L and L_ii^2 is the variance of feature i given the features before it, each of those
conditional variances stays >= reg_covar, so det S >= reg_covar^d: the density is bounded and no
component can collapse onto a point or a subspace, where the likelihood would be unbounded. EM
adds reg_covar to each covariance's diagonal instead (as scikit-learn does); such a covariance
always satisfies the bound (x + noise of variance reg has every conditional variance >= reg), so
EM's results are stored exactly in the same parameters.
"""
import math

import torch
from torch.nn import functional as F

# raw values at which the bounded diagonal map saturates: keeps logit() finite in float32
_EDGE = 1e-6


def raw_shape(covariance_type: str, k: int, d: int) -> tuple:
    return {"full": (k, d, d), "diag": (k, d), "spherical": (k,)}[covariance_type]


def n_parameters(covariance_type: str, k: int, d: int) -> int:
    """Free parameters of K covariances (scikit-learn's count, for BIC and AIC)."""
    return {"full": k * d * (d + 1) // 2, "diag": k * d, "spherical": k}[covariance_type]


def diagonal(raw_diag: torch.Tensor, reg_covar: float) -> torch.Tensor:
    """Positive diagonal of U from unconstrained values, bounded by 1/sqrt(reg_covar) if reg_covar > 0."""
    if reg_covar > 0:
        return torch.sigmoid(raw_diag) / math.sqrt(reg_covar)
    return torch.exp(raw_diag)


def log_diagonal(raw_diag: torch.Tensor, reg_covar: float) -> torch.Tensor:
    """log of `diagonal`, computed without forming it (logsigmoid stays accurate where sigmoid underflows)."""
    if reg_covar > 0:
        return F.logsigmoid(raw_diag) - 0.5 * math.log(reg_covar)
    return raw_diag


def raw_diagonal(diag: torch.Tensor, reg_covar: float) -> torch.Tensor:
    """Inverse of `diagonal`."""
    if reg_covar > 0:
        return torch.logit((diag * math.sqrt(reg_covar)).clamp(_EDGE, 1 - _EDGE))
    return diag.log()


def precision_factor(raw: torch.Tensor, covariance_type: str, reg_covar: float) -> torch.Tensor:
    """U from the unconstrained parameters: (K, d, d) for full, (K, d) for diag, (K,) spherical."""
    if covariance_type != "full":
        return diagonal(raw, reg_covar)
    return raw.triu(1) + torch.diag_embed(diagonal(raw.diagonal(dim1=-2, dim2=-1), reg_covar))


def log_det_factor(raw: torch.Tensor, covariance_type: str, reg_covar: float, d: int) -> torch.Tensor:
    """sum(log diag U) = -1/2 log det S, per component: (K,)."""
    if covariance_type == "full":
        return log_diagonal(raw.diagonal(dim1=-2, dim2=-1), reg_covar).sum(-1)
    if covariance_type == "diag":
        return log_diagonal(raw, reg_covar).sum(-1)
    return d * log_diagonal(raw, reg_covar)


def raw_from_covariance(cov: torch.Tensor, covariance_type: str, reg_covar: float) -> torch.Tensor:
    """The unconstrained parameters of given covariances: (K, d, d) full, (K, d) variances, (K,) variances."""
    if covariance_type != "full":
        return raw_diagonal(cov.rsqrt(), reg_covar)
    L = torch.linalg.cholesky(cov)
    eye = torch.eye(cov.shape[-1], dtype=cov.dtype, device=cov.device).expand_as(cov)
    U = torch.linalg.solve_triangular(L, eye, upper=False).mT  # L^-T: upper triangular
    diag = U.diagonal(dim1=-2, dim2=-1)
    return U.triu(1) + torch.diag_embed(raw_diagonal(diag, reg_covar))


def squared_mahalanobis(X: torch.Tensor, means: torch.Tensor, U: torch.Tensor, covariance_type: str,
                        centre: torch.Tensor | None = None) -> torch.Tensor:
    """||(x - mu_k) U_k||^2 for every component and row: (K, n), components first.

    Components first because the reductions over them (log-sum-exp, softmax) then run along the
    outer dimension, vectorized across rows; over an inner dimension of size K they are several
    times slower. Rows and means are first shifted by `centre` (exact for any point: x - mu is
    unchanged); near the data's mean (the default), the product form used for full covariances
    then cancels no more than the data's own spread.
    """
    centre = X.mean(0) if centre is None else centre
    Xc, mc = X - centre, means - centre
    k, d = means.shape
    if covariance_type == "full":
        # (x - mu_k) U_k = x U_k - mu_k U_k: all components in one matrix product, (K*d, n), and a
        # shift, instead of K copies of the centred data (the product reads X once)
        U_all = U.permute(0, 2, 1).reshape(k * d, d)  # row (k, j) is column j of U_k
        shift = torch.einsum("kd,kde->ke", mc, U).reshape(k * d, 1)
        Y = torch.addmm(shift, U_all, Xc.T, beta=-1)
        return Y.square_().view(k, d, -1).sum(1)
    scale = U.unsqueeze(1) if covariance_type == "diag" else U.view(-1, 1, 1)
    Y = (Xc.unsqueeze(0) - mc.unsqueeze(1)).mul_(scale)  # (K, n, d); diagonal U: nothing to multiply out
    return Y.square_() @ torch.ones(d, dtype=X.dtype, device=X.device)


def covariance(raw: torch.Tensor, covariance_type: str, reg_covar: float, d: int) -> torch.Tensor:
    """The covariance matrices (K, d, d) the parameters stand for (for users and sampling)."""
    U = precision_factor(raw, covariance_type, reg_covar)
    if covariance_type == "full":
        eye = torch.eye(d, dtype=U.dtype, device=U.device).expand_as(U)
        L = torch.linalg.solve_triangular(U.mT, eye, upper=False)  # U^-T is the covariance's factor L
        return L @ L.mT
    variances = U.pow(-2)
    if covariance_type == "spherical":
        variances = variances.unsqueeze(-1).expand(-1, d)
    return torch.diag_embed(variances)


def scale_noise(z: torch.Tensor, U: torch.Tensor, covariance_type: str) -> torch.Tensor:
    """L z for standard normal rows z (n, d) of one component: solves (L z) U = z, as L = U^-T."""
    if covariance_type == "full":
        return torch.linalg.solve_triangular(U, z, upper=True, left=False)
    return z / U
