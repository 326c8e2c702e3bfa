"""The fused full-batch linear-SVM objective: same value and gradients as the composed path, and
the Objective takes it exactly when it computes the same objective (LinearSVM + hinge + L2)."""
import pytest
import torch
from torch.autograd import gradcheck

from derivtrain.data.table import DataSpec
from derivtrain.losses import functional as F
from derivtrain.losses import (ElasticNetPenalty, HingeLoss, L2Penalty, NoPenalty, NoSecondDerivativeError,
                               Objective, SquaredHingeLoss)
from derivtrain.losses.linear_svm import LinearSVMObjectiveFunction
from derivtrain.models.svm import C_from_alpha, LinearSVM, alpha_from_C


def svm_problem(n_classes=2, n=50, d=6, seed=0, dtype=torch.float64, **svm_kwargs):
    torch.manual_seed(seed)
    spec = DataSpec(task="classification", n_features=d, classes=list(range(n_classes)))
    model = LinearSVM(spec, **svm_kwargs).to(dtype)
    X = torch.randn(n, d, dtype=dtype)
    y = torch.randint(0, n_classes, (n,))
    return model, X, y, spec


def grads_of(objective, X, targets):
    params = list(objective.model.parameters())
    value = objective(X, targets)
    return value, torch.autograd.grad(value, params)


def hinge_objective(n_classes: int, penalty):
    """(objective, X, targets, value, gradients): an SVM's hinge objective and what the composed
    ops (autograd) give for it, which the fast paths must reproduce."""
    model, X, y, spec = svm_problem(n_classes)
    loss = HingeLoss()
    targets = loss.encode_targets(y, spec.n_outputs)
    objective = Objective(model, loss, penalty)
    return (objective, X, targets, *grads_of(objective, X, targets))


@pytest.mark.parametrize("n_classes", [2, 4])
@pytest.mark.parametrize("penalty", [L2Penalty(0.05), NoPenalty()])
def test_fused_equals_composed_value_and_gradients(n_classes, penalty):
    objective, X, targets, expected_value, expected_grads = hinge_objective(n_classes, penalty)
    assert objective.use_full_batch(X, targets)
    torch.testing.assert_close(objective.fused.features, torch.cat([X.t(), torch.ones(1, 50, dtype=X.dtype)]))
    value = objective.full_batch()
    grads = torch.autograd.grad(value, list(objective.model.parameters()))
    torch.testing.assert_close(value, expected_value, rtol=1e-12, atol=1e-12)
    for g, e in zip(grads, expected_grads):
        torch.testing.assert_close(g, e, rtol=1e-12, atol=1e-12)


def test_fused_only_for_the_objective_it_computes():
    model, X, y, spec = svm_problem(3)
    signs = HingeLoss().encode_targets(y, 3)
    assert Objective(model, HingeLoss(), L2Penalty(0.1)).use_full_batch(X, signs)
    assert not Objective(model, HingeLoss(multiclass="crammer_singer"), L2Penalty(0.1)).use_full_batch(X, y)
    assert not Objective(model, HingeLoss(class_weight=[1, 2, 3]), L2Penalty(0.1)).use_full_batch(X, signs)
    assert not Objective(model, SquaredHingeLoss(), L2Penalty(0.1)).use_full_batch(X, signs)
    assert not Objective(model, HingeLoss(), ElasticNetPenalty(0.1)).use_full_batch(X, signs)
    assert not Objective(model, HingeLoss(), L2Penalty(0.1)).use_full_batch(X.clone().requires_grad_(), signs)


def test_gradcheck_every_input_of_the_fused_function():
    g = torch.Generator().manual_seed(1)
    features = torch.cat([torch.randn(4, 15, generator=g, dtype=torch.float64), torch.ones(1, 15, dtype=torch.float64)])
    features.requires_grad_()  # the last row: the bias's feature
    signs = torch.sign(torch.randn(2, 15, generator=g, dtype=torch.float64)).requires_grad_()
    weight = (0.3 * torch.randn(2, 4, generator=g, dtype=torch.float64)).requires_grad_()
    bias = torch.randn(2, generator=g, dtype=torch.float64, requires_grad=True)
    with torch.no_grad():  # keep every margin away from the kink
        margins = signs * (weight @ features[:-1] + bias.unsqueeze(1))
        assert ((margins - 1).abs() > 1e-3).all()
    fn = lambda *inputs: LinearSVMObjectiveFunction.apply(*inputs, 0.2)[0]  # noqa: E731
    assert gradcheck(fn, (features, signs, weight, bias))
    value, *_ = LinearSVMObjectiveFunction.apply(features, signs, weight, bias, 0.2)
    grads = torch.autograd.grad(value, (weight,), create_graph=True)
    with pytest.raises(NoSecondDerivativeError, match="linear SVM"):
        torch.autograd.grad(grads[0].sum(), weight)


def test_C_sets_alpha_as_one_over_C_n_train():
    assert alpha_from_C(2.0, 50) == pytest.approx(0.01)
    assert C_from_alpha(0.01, 50) == pytest.approx(2.0)
    model, *_ = svm_problem(C=4.0)
    assert model.regularization_strength(200, 0.123) == pytest.approx(1 / 800)
    model, *_ = svm_problem(alpha=0.3)
    assert model.regularization_strength(200, 0.123) == 0.3
    model, *_ = svm_problem()
    assert model.regularization_strength(200, 0.123) == 0.123  # neither: regularizer.strength


def test_our_C_objective_has_linearsvc_minimizer():
    # LinearSVC(loss="hinge") minimizes 1/2||w||^2 + C sum hinge; ours (mean hinge + alpha/2||w||^2,
    # alpha = 1/(C n)) is that divided by C n: the same minimizer. Without a bias (LinearSVC
    # penalizes its intercept) the two weight vectors must agree.
    from sklearn.svm import LinearSVC

    torch.manual_seed(0)
    n, d, C = 120, 3, 0.5
    X = torch.randn(n, d, dtype=torch.float64)
    y = (X @ torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64) + 0.3 * torch.randn(n, dtype=torch.float64) > 0)
    signs = y.double() * 2 - 1
    reference = LinearSVC(C=C, loss="hinge", fit_intercept=False, tol=1e-10, max_iter=100_000).fit(X.numpy(), y.numpy())
    w = torch.zeros(d, dtype=torch.float64, requires_grad=True)
    alpha = alpha_from_C(C, n)
    # subgradient descent with step 1/(alpha t) on our (alpha-strongly convex) objective
    for step in range(1, 3001):
        (grad,) = torch.autograd.grad(F.hinge(X @ w, signs) + alpha * F.l2(w), w)
        with torch.no_grad():
            w -= grad / (alpha * step)
    torch.testing.assert_close(w.detach(), torch.tensor(reference.coef_[0]), rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_fused_in_blocks_equals_composed(monkeypatch, n_classes):
    """Several blocks of columns (and a short last one): the products summed block by block give the
    composed value and gradients."""
    import derivtrain.losses.linear_svm as linear_svm

    monkeypatch.setattr(linear_svm, "_BLOCK_BYTES", 1)  # the 1024-column floor: 3 blocks of 2500 rows
    monkeypatch.setattr(linear_svm, "_TRANSPOSE_ROWS", 700)
    model, X, y, spec = svm_problem(n_classes, n=2500, d=4)
    loss = HingeLoss()
    targets = loss.encode_targets(y, spec.n_outputs)
    objective = Objective(model, loss, L2Penalty(0.05))
    expected_value, expected_grads = grads_of(objective, X, targets)
    assert objective.use_full_batch(X, targets)
    assert linear_svm.block_columns(objective.fused.features) == 1024
    assert torch.equal(objective.fused.features, torch.cat([X.t(), torch.ones(1, 2500, dtype=X.dtype)]))
    value = objective.full_batch()
    grads = torch.autograd.grad(value, list(objective.model.parameters()))
    torch.testing.assert_close(value, expected_value, rtol=1e-12, atol=1e-12)
    for g, e in zip(grads, expected_grads):
        torch.testing.assert_close(g, e, rtol=1e-12, atol=1e-12)
