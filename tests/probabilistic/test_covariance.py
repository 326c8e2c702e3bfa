"""The Cholesky parametrization of covariances: exact log-densities, round trips, the variance floor."""
import math

import pytest
import torch

from derivtrain.models import covariance as cov

TYPES = ("full", "diag", "spherical")


def random_covariances(covariance_type, k=3, d=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    A = torch.randn(k, d, d, generator=g, dtype=torch.float64)
    S = A @ A.mT + 0.5 * torch.eye(d, dtype=torch.float64)
    if covariance_type == "full":
        return S
    variances = S.diagonal(dim1=-2, dim2=-1)
    return variances if covariance_type == "diag" else variances.mean(-1)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_log_density_equals_torch_distributions(covariance_type):
    k, d = 3, 4
    raw = cov.raw_from_covariance(random_covariances(covariance_type), covariance_type, 1e-6)
    S = cov.covariance(raw, covariance_type, 1e-6, d)
    means = torch.randn(k, d, dtype=torch.float64) + 50  # far from the origin: no cancellation allowed
    X = torch.randn(40, d, dtype=torch.float64) * 2 + 50
    U = cov.precision_factor(raw, covariance_type, 1e-6)
    ours = (cov.log_det_factor(raw, covariance_type, 1e-6, d).unsqueeze(1) - 0.5 * d * math.log(2 * math.pi)
            - 0.5 * cov.squared_mahalanobis(X, means, U, covariance_type))
    reference = torch.stack([torch.distributions.MultivariateNormal(means[j], S[j]).log_prob(X) for j in range(k)])
    torch.testing.assert_close(ours, reference, rtol=1e-10, atol=1e-10)
    # float32 data far from the origin keep float32 accuracy (the rows are centred before the product)
    ours32 = cov.squared_mahalanobis(X.float(), means.float(), U.float(), covariance_type)
    torch.testing.assert_close(ours32.double(), cov.squared_mahalanobis(X, means, U, covariance_type),
                               rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("covariance_type", TYPES)
@pytest.mark.parametrize("reg_covar", [1e-6, 0.0])
def test_covariance_round_trip(covariance_type, reg_covar):
    given = random_covariances(covariance_type)
    raw = cov.raw_from_covariance(given, covariance_type, reg_covar)
    back = cov.covariance(raw, covariance_type, reg_covar, 4)
    expected = given if covariance_type == "full" else torch.diag_embed(
        given if covariance_type == "diag" else given.unsqueeze(-1).expand(-1, 4))
    torch.testing.assert_close(back, expected, rtol=1e-8, atol=1e-10)


def test_any_unconstrained_parameters_give_a_bounded_density():
    """What gradient fitting relies on: no constraint to enforce, and no collapse onto a subspace."""
    reg, d = 1e-3, 3
    raw = 4 * torch.randn(50, d, d, dtype=torch.float64)  # far into the diagonal map's saturation
    S = cov.covariance(raw, "full", reg, d)
    L = torch.linalg.cholesky(S)  # succeeds: positive definite
    # each feature's variance given the ones before it is >= reg, hence det S >= reg^d
    assert L.diagonal(dim1=-2, dim2=-1).square().min() >= reg * (1 - 1e-9)
    assert torch.linalg.det(S).min() >= reg ** d * (1 - 1e-6)


def test_gradients_flow_through_the_parametrization():
    raw = cov.raw_from_covariance(random_covariances("full"), "full", 1e-6).requires_grad_()
    X, means = torch.randn(30, 4, dtype=torch.float64), torch.zeros(3, 4, dtype=torch.float64)

    def neg_log_density(r):
        U = cov.precision_factor(r, "full", 1e-6)
        maha = cov.squared_mahalanobis(X, means, U, "full")
        return (0.5 * maha.mean(1) - cov.log_det_factor(r, "full", 1e-6, 4)).sum()

    assert torch.autograd.gradcheck(neg_log_density, (raw,))
