"""The softmax datafit's closed forms (derivtrain/losses/likelihood.py: MultinomialDatafit) are
torch's cross_entropy, softmax and autograd's derivatives, on real rows' scores and on scores far
enough apart to overflow a naive exp, for few classes (columns at a time) and many (whole rows)."""
import pytest
import torch
from sklearn.datasets import load_digits
from torch.nn import functional as F

from derivtrain.convex.certificate import dual_point
from derivtrain.losses.likelihood import MultinomialDatafit


def _scores(K: int):
    """Scores of digits' rows under a fixed random linear map (scaled up: confident rows), and two
    rows of extreme scores."""
    X, label = load_digits(return_X_y=True)
    g = torch.Generator().manual_seed(K)
    z = torch.from_numpy(X) @ torch.randn(64, K, generator=g, dtype=torch.float64)
    z = torch.cat([z, torch.tensor([[800.0] + [-800.0] * (K - 1), [1e-3] * K], dtype=torch.float64)])
    y = torch.cat([torch.from_numpy(label % K), torch.tensor([K - 1, 0])])
    return z, y


@pytest.mark.parametrize("K", [2, 3, 4, 5, 10])
def test_values_and_derivatives_are_torchs(K):
    z, y = _scores(K)
    datafit = MultinomialDatafit(K)
    values, theta, curvature = datafit.score_derivatives(z, y)
    expected = F.cross_entropy(z, y, reduction="none")
    torch.testing.assert_close(values, expected, rtol=1e-14, atol=1e-12)
    torch.testing.assert_close(datafit.values(z, y), expected, rtol=1e-14, atol=1e-12)
    p = torch.softmax(z, dim=1)
    torch.testing.assert_close(theta, p - F.one_hot(y, K).to(z.dtype), rtol=0, atol=1e-15)
    torch.testing.assert_close(curvature, torch.diag_embed(p) - p[:, :, None] * p[:, None, :], rtol=0, atol=1e-15)
    torch.testing.assert_close(dual_point(datafit, z, y, 0.0), theta, rtol=0, atol=1e-15)


def test_values_under_autograd_are_differentiable():
    z, y = _scores(3)
    leaf = z.clone().requires_grad_(True)
    (gradient,) = torch.autograd.grad(MultinomialDatafit(3).values(leaf, y).sum(), leaf)
    torch.testing.assert_close(gradient, MultinomialDatafit(3).score_derivatives(z, y)[1], rtol=0, atol=1e-15)
