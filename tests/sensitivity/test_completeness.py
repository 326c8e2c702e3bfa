"""Integrated gradients' completeness: attributions of a row sum to s(x) - s(baseline).

Captum's convergence delta is that gap; it is what remains of the n_steps quadrature. For a smooth
MLP (tanh) Gauss-Legendre quadrature converges fast: 64 steps leave far less than 1e-3. A ReLU MLP
is piecewise linear, so the integrand jumps at every kink along the path and a quadrature's gap
shrinks only like 1/n_steps (measured on digits: 0.026 at 64 steps, 0.007 at 256, 0.0008 at 2048);
integration=auto therefore integrates a ReLU MLP exactly, piece by piece (test_piecewise_ig.py).
"""
import torch

from derivtrain.sensitivity import ClassScores
from derivtrain.sensitivity.methods import attribute


def completeness_gap(model, X, result):
    with torch.no_grad():
        forward = ClassScores(model)
        change = (forward(X) - forward(result.baseline)).gather(1, result.targets[:, None]).squeeze(1)
    return result.values.sum(1) - change


def test_smooth_mlp_gap_is_below_1e_3_with_64_steps(tanh_mlp_digits):
    model, X = tanh_mlp_digits.model, tanh_mlp_digits.data.test.X
    result = attribute(model, X, "integrated_gradients", n_steps=64)
    gap = completeness_gap(model, X, result)
    assert gap.abs().max() <= 1e-3
    # Captum's delta is the same gap, computed its own way
    torch.testing.assert_close(result.delta, gap, atol=1e-4, rtol=0)


def test_relu_mlp_quadrature_gap_shrinks_with_the_steps(mlp_digits):
    model, X = mlp_digits.model, mlp_digits.data.test.X
    gaps = [attribute(model, X, "integrated_gradients", n_steps=n, integration="gausslegendre").delta.abs().max().item()
            for n in (64, 256)]
    assert gaps[1] < gaps[0] / 2
    # and it is a small share of what is being explained (typical |s(x) - s(baseline)| ~ 10)
    result = attribute(model, X, "integrated_gradients", n_steps=64, integration="gausslegendre")
    change = result.values.sum(1) - result.delta
    assert result.delta.abs().max() < 1e-2 * change.abs().mean()
