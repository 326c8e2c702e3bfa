"""Binary hinge: the value against scikit-learn, the hand-written derivative against finite differences."""
import numpy as np
import pytest
import torch
from sklearn.metrics import hinge_loss
from torch.autograd import gradcheck

from derivtrain.losses import HingeFunction, HingeLoss, NoSecondDerivativeError
from derivtrain.losses import functional as F
from tests.losses.points import binary_point


def test_value_equals_sklearn_hinge_loss():
    scores, signs = binary_point((200,))
    ours = F.hinge(scores, signs)
    assert abs(ours.item() - hinge_loss(signs.numpy(), scores.detach().numpy())) < 1e-12


def test_sample_weighted_mean_equals_sklearn():
    scores, signs = binary_point((100,), seed=1)
    w = torch.rand(100, generator=torch.Generator().manual_seed(2), dtype=torch.float64) + 0.1
    expected = hinge_loss(signs.numpy(), scores.detach().numpy(), sample_weight=w.numpy())
    assert abs(F.hinge(scores, signs, sample_weight=w).item() - expected) < 1e-12


def test_class_weight_reweights_each_sample_by_its_class():
    scores, signs = binary_point((60,), seed=3)
    class_weight = torch.tensor([0.5, 3.0], dtype=torch.float64)
    w = torch.where(signs > 0, 3.0, 0.5)
    expected = hinge_loss(signs.numpy(), scores.detach().numpy(), sample_weight=w.numpy())
    assert abs(F.hinge(scores, signs, class_weight=class_weight).item() - expected) < 1e-12


def test_reductions_and_one_vs_rest_columns_sum_per_sample():
    scores, signs = binary_point((30, 4), seed=4)
    per_element = torch.clamp(1 - signs * scores, min=0)
    assert torch.allclose(F.hinge(scores, signs, reduction="none"), per_element.sum(1), atol=1e-14)
    assert torch.allclose(F.hinge(scores, signs, reduction="sum"), per_element.sum(), atol=1e-12)
    assert torch.allclose(F.hinge(scores, signs), per_element.sum() / 30, atol=1e-14)
    with pytest.raises(ValueError, match="reduction"):
        F.hinge(scores, signs, reduction="avg")


def test_gradcheck_scores_signs_and_weights_away_from_the_kink():
    for shape in ((25,), (10, 3)):
        scores, signs = binary_point(shape, seed=5)
        signs.requires_grad_()
        w = torch.rand(shape[0], dtype=torch.float64, requires_grad=True)
        assert gradcheck(lambda s, y, w_: F.hinge(s, y, sample_weight=w_), (scores, signs, w))
        assert gradcheck(lambda s: F.hinge(s, signs.detach(), reduction="none"), (scores,))


def test_subgradient_at_the_kink_is_zero_and_minus_y_inside():
    scores = torch.tensor([1.0, -1.0, 0.5, -3.0], dtype=torch.float64, requires_grad=True)
    signs = torch.tensor([1.0, -1.0, 1.0, 1.0], dtype=torch.float64)
    F.hinge(scores, signs, reduction="sum").backward()
    assert scores.grad.tolist() == [0.0, 0.0, -1.0, -1.0]


def test_needs_input_grad_is_honoured():
    scores, signs = binary_point((8,))
    out = HingeFunction.apply(scores, signs)  # signs need no gradient
    (grad_scores,) = torch.autograd.grad(out.sum(), scores)
    assert grad_scores.shape == scores.shape and signs.grad is None


def test_double_backward_is_refused_with_a_clear_error():
    scores, signs = binary_point((8,))
    (grad,) = torch.autograd.grad(F.hinge(scores, signs), scores, create_graph=True)
    with pytest.raises(NoSecondDerivativeError, match="hinge.*no second derivative"):
        torch.autograd.grad(grad.sum(), scores)


def test_plain_backward_works_with_create_graph_off_and_retain_graph_on():
    scores, signs = binary_point((16,))
    loss = F.hinge(scores, signs)
    loss.backward(retain_graph=True)
    first = scores.grad.clone()
    loss.backward()  # the saved tensors were not modified by the first backward
    assert torch.equal(scores.grad, 2 * first)


def test_loss_module_encodes_class_indices_as_signs():
    loss = HingeLoss()
    y = torch.tensor([0, 1, 1, 0])
    assert loss.encode_targets(y, 1).tolist() == [-1.0, 1.0, 1.0, -1.0]
    y3 = torch.tensor([0, 2, 1])
    assert loss.encode_targets(y3, 3).tolist() == [[1, -1, -1], [-1, -1, 1], [-1, 1, -1]]
    assert HingeLoss(multiclass="crammer_singer").encode_targets(y3, 3) is y3  # class indices stay


def test_loss_module_class_weight_and_float32():
    scores, signs = binary_point((40,), seed=6, dtype=torch.float32)
    loss = HingeLoss(class_weight=[1.0, 2.0])
    expected = hinge_loss(signs.numpy(), scores.detach().numpy(),
                          sample_weight=np.where(signs.numpy() > 0, 2.0, 1.0))
    assert abs(loss(scores, signs).item() - expected) < 1e-6
