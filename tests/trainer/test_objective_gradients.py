"""The foundation's hand-written derivatives: hinge loss and the L2-regularized objective.

gradcheck compares each backward with finite differences in float64, away from the hinge's kink.
"""
import torch
from torch.autograd import gradcheck, gradgradcheck

from derivtrain.losses.hinge import HingeLoss
from derivtrain.losses.l2 import L2Penalty
from derivtrain.losses.regularized import regularized


def away_from_kink(n, k=None, seed=0):
    g = torch.Generator().manual_seed(seed)
    shape = (n,) if k is None else (n, k)
    signs = torch.randint(0, 2, shape, generator=g).double() * 2 - 1
    margins = torch.rand(shape, generator=g, dtype=torch.float64) * 3 - 1.5  # y*s in [-0.5, 2.5]
    margins[(margins - 1).abs() < 0.05] += 0.2  # at least 0.05 from the kink y*s = 1
    scores = (signs * (margins + 1)).requires_grad_()
    return scores, signs


def test_hinge_value_is_the_mean_of_max_0_1_minus_ys():
    scores, signs = away_from_kink(50)
    expected = torch.clamp(1 - signs * scores, min=0).mean()
    assert torch.allclose(HingeLoss()(scores, signs), expected, atol=1e-12)


def test_hinge_gradcheck_binary_and_one_vs_rest():
    loss = HingeLoss()
    for k in (None, 4):
        scores, signs = away_from_kink(30, k)
        assert gradcheck(lambda s: loss(s, signs), (scores,), eps=1e-6, atol=1e-8)


def test_hinge_subgradient_at_the_kink_is_zero():
    scores = torch.tensor([1.0, -1.0], dtype=torch.float64, requires_grad=True)
    HingeLoss()(scores, torch.tensor([1.0, -1.0], dtype=torch.float64)).backward()
    assert torch.equal(scores.grad, torch.zeros(2, dtype=torch.float64))


def test_l2_regularized_objective_value_and_gradcheck():
    w = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
    v = torch.randn(7, dtype=torch.float64, requires_grad=True)
    data_loss = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
    penalty = L2Penalty(strength=0.3)
    value = regularized(data_loss, penalty, [w, v])
    assert torch.allclose(value, data_loss + 0.3 * 0.5 * (w.pow(2).sum() + v.pow(2).sum()))
    assert gradcheck(lambda d, a, b: regularized(d, penalty, [a, b]), (data_loss, w, v))
    assert gradgradcheck(lambda d, a, b: regularized(d, penalty, [a, b]), (data_loss, w, v))
