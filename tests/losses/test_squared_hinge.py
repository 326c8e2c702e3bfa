"""Squared hinge: closed-form value, first and second derivatives (double backward works)."""
import numpy as np
import pytest
import torch
from torch.autograd import gradcheck, gradgradcheck

from derivtrain.errors import ConfigError
from derivtrain.losses import SquaredHingeLoss
from derivtrain.losses import functional as F
from tests.losses.points import binary_point


def test_value_is_the_mean_of_squared_margins_violations():
    scores, signs = binary_point((100,))
    s, y = scores.detach().numpy(), signs.numpy()
    expected = np.mean(np.maximum(0, 1 - y * s) ** 2)
    assert abs(F.squared_hinge(scores, signs).item() - expected) < 1e-12


def test_gradient_closed_form_is_continuous_at_the_kink():
    scores = torch.tensor([1.0, 0.5, 2.0, -1.0], dtype=torch.float64, requires_grad=True)
    signs = torch.tensor([1.0, 1.0, 1.0, 1.0], dtype=torch.float64)
    F.squared_hinge(scores, signs, reduction="sum").backward()
    assert scores.grad.tolist() == [0.0, -1.0, 0.0, -4.0]  # -2 y max(0, 1 - y s)


def test_gradcheck_and_gradgradcheck_in_scores_signs_and_weights():
    for shape in ((20,), (8, 3)):
        scores, signs = binary_point(shape, seed=1)
        signs.requires_grad_()
        w = torch.rand(shape[0], dtype=torch.float64, requires_grad=True)
        fn = lambda s, y, w_: F.squared_hinge(s, y, sample_weight=w_)  # noqa: E731
        assert gradcheck(fn, (scores, signs, w))
        assert gradgradcheck(fn, (scores, signs, w))


def test_hessian_is_2_on_the_active_set_and_0_elsewhere():
    scores = torch.tensor([0.5, 2.0, -1.0], dtype=torch.float64)
    signs = torch.ones(3, dtype=torch.float64)
    H = torch.autograd.functional.hessian(lambda s: F.squared_hinge(s, signs, reduction="sum"), scores)
    assert torch.equal(H, torch.diag(torch.tensor([2.0, 0.0, 2.0], dtype=torch.float64)))


def test_loss_module_is_one_vs_rest_only():
    loss = SquaredHingeLoss(class_weight=[1.0, 1.0, 4.0])
    scores, signs = binary_point((10, 3), seed=2)
    expected = F.squared_hinge(scores, signs, class_weight=torch.tensor([1.0, 1.0, 4.0], dtype=torch.float64))
    assert torch.allclose(loss(scores, signs), expected, atol=1e-14)
    assert loss.twice_differentiable
    with pytest.raises(ConfigError, match="one-vs-rest only"):
        SquaredHingeLoss(multiclass="crammer_singer")


def test_the_datafits_closed_forms_are_autograds_through_its_function():
    """score_derivatives (the Newton solvers') and smoothed_slope (the certificate's dual point) against
    autograd through the datafit's values, one-vs-rest with 3 columns, on both sides of every kink and on
    it (second derivative 0 there, as the Function's double backward gives)."""
    datafit = SquaredHingeLoss().convex_dual(3)
    torch.manual_seed(0)
    z = torch.randn(200, 3, dtype=torch.float64) * 2
    y = datafit.prepare(SquaredHingeLoss().encode_targets(torch.randint(0, 3, (200,)), 3))
    z[:5] = y[:5]  # y z == 1 on every score of the first rows: the kinks
    with torch.enable_grad():
        leaf = z.clone().requires_grad_(True)
        values = datafit.values(leaf, y)
        (first,) = torch.autograd.grad(values.sum(), leaf, create_graph=True)
        (second,) = torch.autograd.grad(first.sum(), leaf)
    got = datafit.score_derivatives(z, y)
    for name, mine, exact in zip(("values", "first", "second"), got, (values, first, second)):
        torch.testing.assert_close(mine, exact.detach(), rtol=1e-14, atol=0, msg=name)
    torch.testing.assert_close(datafit.smoothed_slope(z, y, 0.0), first.detach(), rtol=1e-14, atol=0)
    assert bool((got[2][:5] == 0).all()) and bool((got[2] == 2).any()) and bool((got[1] == 0).any())
