"""Crammer-Singer against scikit-learn, Weston-Watkins against torch.nn.MultiMarginLoss, derivatives
against finite differences, and the subgradients taken at kinks and ties."""
import pytest
import torch
from sklearn.metrics import hinge_loss
from torch.autograd import gradcheck

from derivtrain.losses import (CrammerSingerHingeFunction, HingeLoss, MulticlassHingeLoss, NoSecondDerivativeError,
                               WestonWatkinsHingeFunction)
from derivtrain.losses import functional as F
from tests.losses.points import multiclass_point


@pytest.mark.parametrize("k", [3, 5, 10])
def test_crammer_singer_equals_sklearn_hinge_loss(k):
    scores, y = multiclass_point(80, k, seed=k)
    expected = hinge_loss(y.numpy(), scores.detach().numpy(), labels=list(range(k)))
    assert abs(F.multiclass_hinge(scores, y, "crammer_singer").item() - expected) < 1e-12


def test_crammer_singer_sample_weight_equals_sklearn():
    scores, y = multiclass_point(50, 4, seed=1)
    w = torch.rand(50, generator=torch.Generator().manual_seed(0), dtype=torch.float64) + 0.2
    expected = hinge_loss(y.numpy(), scores.detach().numpy(), labels=[0, 1, 2, 3], sample_weight=w.numpy())
    assert abs(F.multiclass_hinge(scores, y, sample_weight=w).item() - expected) < 1e-12


@pytest.mark.parametrize("k", [2, 4, 7])
def test_weston_watkins_equals_multimarginloss_times_k(k):
    scores, y = multiclass_point(60, k, seed=k)
    expected = torch.nn.MultiMarginLoss()(scores, y) * k
    assert abs(F.multiclass_hinge(scores, y, "weston_watkins").item() - expected.item()) < 1e-12
    summed = torch.nn.MultiMarginLoss(reduction="sum")(scores, y) * k
    assert abs(F.multiclass_hinge(scores, y, "weston_watkins", reduction="sum").item() - summed.item()) < 1e-11


def test_weston_watkins_class_weight_is_multimarginloss_weight_normalized():
    # MultiMarginLoss(weight) scales sample i by weight[y_i] and divides by n; our mean divides by sum of weights
    scores, y = multiclass_point(40, 3, seed=9)
    cw = torch.tensor([0.5, 2.0, 1.5], dtype=torch.float64)
    summed = torch.nn.MultiMarginLoss(weight=cw, reduction="sum")(scores, y) * 3
    ours = F.multiclass_hinge(scores, y, "weston_watkins", class_weight=cw)
    assert abs(ours.item() - (summed / cw[y].sum()).item()) < 1e-12


def test_binary_case_all_variants_agree():
    scores, y = multiclass_point(30, 2, seed=3)
    cs = F.multiclass_hinge(scores, y, "crammer_singer", reduction="none")
    ww = F.multiclass_hinge(scores, y, "weston_watkins", reduction="none")
    signs = (y * 2 - 1).double()
    diff = scores[:, 1] - scores[:, 0]  # one score per row: the binary hinge of the difference
    assert torch.allclose(cs, ww, atol=1e-14)
    assert torch.allclose(cs, F.hinge(diff, signs, reduction="none"), atol=1e-14)


@pytest.mark.parametrize("variant", ["crammer_singer", "weston_watkins"])
def test_gradcheck_away_from_kinks(variant):
    scores, y = multiclass_point(12, 4, seed=11)
    w = torch.rand(12, dtype=torch.float64, requires_grad=True)
    assert gradcheck(lambda s, w_: F.multiclass_hinge(s, y, variant, sample_weight=w_), (scores, w))
    assert gradcheck(lambda s: F.multiclass_hinge(s, y, variant, reduction="none"), (scores,))


def test_crammer_singer_subgradient_on_a_tie_goes_to_the_first_rival():
    scores = torch.tensor([[0.0, 0.5, 0.5]], dtype=torch.float64, requires_grad=True)
    losses, rival = CrammerSingerHingeFunction.apply(scores, torch.tensor([0]))
    assert rival.tolist() == [1]
    losses.sum().backward()
    assert scores.grad.tolist() == [[-1.0, 1.0, 0.0]]


def test_subgradient_at_the_margin_is_zero():
    scores = torch.tensor([[2.0, 1.0, 0.0]], dtype=torch.float64, requires_grad=True)  # margin exactly 1
    for fn in (CrammerSingerHingeFunction, WestonWatkinsHingeFunction):
        scores.grad = None
        fn.apply(scores, torch.tensor([0]))[0].sum().backward()
        assert scores.grad.tolist() == [[0.0, 0.0, 0.0]]


def test_weston_watkins_gradient_counts_every_violating_rival():
    scores = torch.tensor([[0.0, 0.5, -0.5, -2.0]], dtype=torch.float64, requires_grad=True)
    losses, margins = WestonWatkinsHingeFunction.apply(scores, torch.tensor([0]))
    assert margins.tolist() == [[0.0, 1.5, 0.5, 0.0]]  # the by-product: each rival's margin violation
    losses.sum().backward()
    assert scores.grad.tolist() == [[-2.0, 1.0, 1.0, 0.0]]


@pytest.mark.parametrize("variant", ["crammer_singer", "weston_watkins"])
def test_double_backward_is_refused(variant):
    scores, y = multiclass_point(6, 3)
    (g,) = torch.autograd.grad(F.multiclass_hinge(scores, y, variant), scores, create_graph=True)
    with pytest.raises(NoSecondDerivativeError, match=variant):
        torch.autograd.grad(g.sum(), scores)


def test_loss_modules_dispatch_on_the_variant():
    scores, y = multiclass_point(20, 3, seed=5)
    for variant in ("crammer_singer", "weston_watkins"):
        expected = F.multiclass_hinge(scores, y, variant)
        assert torch.equal(HingeLoss(multiclass=variant)(scores, y), expected)
        assert torch.equal(MulticlassHingeLoss(multiclass=variant)(scores, y), expected)
    binary = MulticlassHingeLoss()
    signs = binary.encode_targets(torch.tensor([0, 1]), 1)
    assert signs.tolist() == [-1.0, 1.0]  # one score per row: the binary hinge's signs


def test_bad_arguments_name_the_choices():
    scores, y = multiclass_point(4, 3)
    with pytest.raises(ValueError, match="crammer_singer, weston_watkins"):
        F.multiclass_hinge(scores, y, "cs")
    with pytest.raises(ValueError, match=r"\(n, K\)"):
        F.multiclass_hinge(scores[:, 0], y)
    from derivtrain.errors import ConfigError

    with pytest.raises(ConfigError, match="loss.multiclass=ovr"):
        MulticlassHingeLoss(multiclass="ovr")
