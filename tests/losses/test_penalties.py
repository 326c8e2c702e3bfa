"""L1, L2 and elastic net against their formulas; gradients, subgradient at 0, double backward."""
import pytest
import torch
from torch.autograd import gradcheck, gradgradcheck

from derivtrain.losses import (ElasticNetPenalty, L1Penalty, L2Penalty, NoPenalty, NoSecondDerivativeError,
                               regularized)
from derivtrain.losses import functional as F


def tensors(seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(4, 3, generator=g, dtype=dtype).requires_grad_(),
            torch.randn(5, generator=g, dtype=dtype).requires_grad_()]


def test_values_equal_their_formulas_for_a_tensor_and_an_iterable():
    w = tensors()
    flat = torch.cat([t.detach().reshape(-1) for t in w])
    l1, l2 = flat.abs().sum(), 0.5 * (flat ** 2).sum()
    assert abs(F.l1(w).item() - l1.item()) < 1e-12
    assert abs(F.l2(w).item() - l2.item()) < 1e-12
    assert abs(F.elastic_net(w, l1_ratio=0.3).item() - (0.3 * l1 + 0.7 * l2).item()) < 1e-12
    assert abs(F.l1(w[0]).item() - w[0].detach().abs().sum().item()) < 1e-12  # a single tensor
    assert abs(F.l2(iter(w)).item() - l2.item()) < 1e-12  # any iterable, a generator included


def test_elastic_net_ends_are_l1_and_l2():
    w = tensors(1)
    assert torch.allclose(F.elastic_net(w, l1_ratio=1.0), F.l1(w), atol=1e-14)
    assert torch.allclose(F.elastic_net(w, l1_ratio=0.0), F.l2(w), atol=1e-14)
    with pytest.raises(ValueError, match="l1_ratio"):
        ElasticNetPenalty(l1_ratio=1.5)


def test_gradcheck_every_penalty():
    w = tensors(2)
    for fn in (F.l1, F.l2, lambda p: F.elastic_net(p, l1_ratio=0.4)):
        assert gradcheck(lambda *p: fn(p), w)


def test_l2_has_double_backward_the_others_refuse_it():
    w = tensors(3)
    assert gradgradcheck(lambda *p: F.l2(p), w)
    assert gradgradcheck(lambda *p: F.elastic_net(p, l1_ratio=0.0), w)  # no L1 part: smooth
    for fn in (F.l1, lambda p: F.elastic_net(p, l1_ratio=0.5)):
        grads = torch.autograd.grad(fn(w), w, create_graph=True)
        with pytest.raises(NoSecondDerivativeError, match="Penalty"):
            torch.autograd.grad(sum(g.sum() for g in grads), w)


def test_l1_subgradient_at_zero_is_zero():
    w = torch.tensor([0.0, 2.0, -3.0], dtype=torch.float64, requires_grad=True)
    F.l1(w).backward()
    assert w.grad.tolist() == [0.0, 1.0, -1.0]
    w.grad = None
    F.elastic_net(w, l1_ratio=0.5).backward()
    assert w.grad.tolist() == [0.0, 0.5 + 1.0, -0.5 - 1.5]


def test_regularized_objective_adds_strength_times_penalty_and_routes_gradients():
    w = tensors(4)
    data_loss = torch.tensor(0.25, dtype=torch.float64, requires_grad=True)
    for penalty in (L1Penalty(0.1), L2Penalty(0.2), ElasticNetPenalty(0.3, l1_ratio=0.6)):
        value = regularized(data_loss, penalty, w)
        assert torch.allclose(value, data_loss + penalty.strength * penalty(w), atol=1e-14)
        assert gradcheck(lambda d, *p: regularized(d, penalty, p), (data_loss, *w))
    assert gradgradcheck(lambda d, *p: regularized(d, L2Penalty(0.2), p), (data_loss, *w))


def test_no_penalty_is_zero():
    w = tensors()
    assert NoPenalty(strength=5.0).strength == 0.0
    assert NoPenalty()(w).item() == 0.0
    with pytest.raises(ValueError, match="at least one tensor"):
        F.l2([])
