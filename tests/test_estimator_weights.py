"""Sample weights and class weights: weighted fits reach scikit-learn's weighted optimum (objective values,
not accuracy), and the weights reach every fitter (the certified solver, the gradient loop's batches, EM)."""
import warnings

import numpy as np
import pytest
import torch
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from derivtrain.estimator import SVM, Linear, Logistic
from derivtrain.trainer.batches import Batches


@pytest.fixture(scope="module")
def weighted_cancer():
    X, y = load_breast_cancer(return_X_y=True)
    weights = np.random.default_rng(0).uniform(0.2, 3.0, len(y))
    return StandardScaler().fit_transform(X), y, weights


def objective(loss_values, weights, coef, C):
    """derivtrain's objective: the weighted mean loss + alpha/2 ||w||^2, alpha = 1 / (C sum of weights)."""
    return (weights * loss_values).sum() / weights.sum() + coef @ coef / (2 * C * weights.sum())


def logistic_objective(X, y, weights, coef, bias, C):
    z = X @ coef + bias
    return objective(np.logaddexp(0, z) - y * z, weights, coef, C)


def hinge_objective(X, y, weights, coef, bias, C):
    return objective(np.maximum(0, 1 - (2 * y - 1) * (X @ coef + bias)), weights, coef, C)


def weights_of(est):
    linear = est.model_.linear
    return linear.weight.detach().numpy()[0], linear.bias.item()


def test_weighted_logistic_reaches_scikit_learns_optimum(weighted_cancer):
    X, y, w = weighted_cancer
    ours = Logistic(C=0.5, standardize=False, optim__tol=1e-12).fit(X, y, sample_weight=w)
    theirs = LogisticRegression(C=0.5, tol=1e-12, max_iter=10_000).fit(X, y, sample_weight=w)
    reached = logistic_objective(X, y, w, *weights_of(ours), 0.5)
    assert reached == pytest.approx(logistic_objective(X, y, w, theirs.coef_[0], theirs.intercept_[0], 0.5), rel=1e-9)
    # class weights multiply the sample weights; "balanced" counts them as scikit-learn does
    ours = Logistic(C=0.5, standardize=False, optim__tol=1e-12, class_weight="balanced").fit(X, y, sample_weight=w)
    theirs = LogisticRegression(C=0.5, tol=1e-12, max_iter=10_000, class_weight="balanced").fit(X, y, sample_weight=w)
    per_class = w.sum() / (2 * np.bincount(y, weights=w))
    row = w * per_class[y]
    assert logistic_objective(X, y, row, *weights_of(ours), 0.5) == pytest.approx(
        logistic_objective(X, y, row, theirs.coef_[0], theirs.intercept_[0], 0.5), rel=1e-9)


def test_weighted_svm_reaches_linear_svcs_optimum(weighted_cancer):
    X, y, w = weighted_cancer
    ours = SVM(C=0.5, standardize=False, optim__tol=1e-10).fit(X, y, sample_weight=w)
    # LinearSVC penalizes its bias too; scaled by 10, that penalty is 1/100 of its size. liblinear's
    # coordinate descent at tol=1e-8 then ends within ~1e-7 of derivtrain's certified optimum, above it
    theirs = LinearSVC(C=0.5, loss="hinge", intercept_scaling=10, tol=1e-8, max_iter=100_000, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # liblinear's own stopping test, not reached
        theirs.fit(X, y, sample_weight=w)
    reached = hinge_objective(X, y, w, *weights_of(ours), 0.5)
    reference = hinge_objective(X, y, w, theirs.coef_[0], theirs.intercept_[0], 0.5)
    assert reached <= reference and reached == pytest.approx(reference, rel=1e-6)
    # integer weights are repeated rows
    counts = np.random.default_rng(1).integers(0, 4, len(y))
    weighted = SVM(C=0.5, optim__tol=1e-10).fit(X, y, sample_weight=counts)
    repeated = SVM(C=0.5, optim__tol=1e-10).fit(np.repeat(X, counts, 0), np.repeat(y, counts))
    np.testing.assert_allclose(weighted.decision_function(X), repeated.decision_function(X), rtol=1e-6, atol=1e-7)


def test_weighted_linear_regression_is_weighted_ridge():
    X, y = load_diabetes(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    w = np.random.default_rng(2).uniform(0.2, 3.0, len(y))
    ridge = Ridge(alpha=10.0).fit(X, y, sample_weight=w)
    # Ridge: sum w (y - z)^2 + a ||w||^2; derivtrain: sum w (y - z)^2 / sum w + alpha/2 ||w||^2
    ours = Linear(alpha=2 * 10.0 / w.sum(), standardize=False, optim__tol=1e-12).fit(X, y, sample_weight=w)
    coef, bias = weights_of(ours)
    np.testing.assert_allclose(coef, ridge.coef_, rtol=1e-8)
    assert bias == pytest.approx(ridge.intercept_, rel=1e-10)


def test_batches_hand_out_each_rows_weight():
    X = torch.arange(10.0).unsqueeze(1)
    weights = torch.arange(10.0) * 10
    for shuffle in ("rows", "batches"):
        batches = Batches(X, torch.arange(10), 4, torch.Generator().manual_seed(0), shuffle=shuffle,
                          sample_weight=weights)
        for xb, targets, wb, share in batches.epoch():
            assert torch.equal(wb, xb[:, 0] * 10) and torch.equal(targets.float(), xb[:, 0]) and share is None


def test_weighted_em_is_em_on_repeated_rows_from_one_start():
    from derivtrain.data.table import DataSpec
    from derivtrain.models.gmm import GaussianMixture
    from derivtrain.trainer.em import run_em

    X, _ = load_iris(return_X_y=True)
    Z = torch.as_tensor(StandardScaler().fit_transform(X), dtype=torch.float64)
    counts = torch.as_tensor(np.random.default_rng(3).integers(1, 4, len(Z)), dtype=torch.float64)
    spec = DataSpec(task="density", n_features=4)
    weighted = GaussianMixture(spec, n_components=3).double()
    weighted.initialize(Z, torch.Generator().manual_seed(0))
    repeated = GaussianMixture(spec, n_components=3).double()
    repeated.load_state_dict(weighted.state_dict())  # one start for both
    history_w, _ = run_em(weighted, Z, 30, 0.0, weight=counts)
    history_r, _ = run_em(repeated, Z.repeat_interleave(counts.long(), 0), 30, 0.0)
    np.testing.assert_allclose(history_w, history_r, rtol=1e-10)
    # the mixture weights' logits may differ by a constant (softmax normalizes them), the rest not at all
    for name in ("weights_", "means_", "covariances_"):
        torch.testing.assert_close(getattr(weighted, name), getattr(repeated, name), rtol=1e-8, atol=1e-10, msg=name)


def test_score_is_accuracy_score_with_and_without_weights():
    """A classifier's score is scikit-learn's accuracy_score of its predictions (computed directly, without
    the target-type checks): string labels, a column-vector y (warned, as scikit-learn does), row weights."""
    from sklearn.exceptions import DataConversionWarning
    from sklearn.metrics import accuracy_score

    X, y = load_iris(return_X_y=True)
    labels = np.array(["setosa", "versicolor", "virginica"])[y]
    model = Logistic(C=0.01).fit(X, labels)
    predicted = model.predict(X)
    weight = np.random.default_rng(0).uniform(0.1, 2.0, len(y))
    assert 0.5 < model.score(X, labels) == accuracy_score(labels, predicted) < 1.0
    assert model.score(X, labels, sample_weight=weight) == accuracy_score(labels, predicted, sample_weight=weight)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert model.score(X, labels[:, None]) == accuracy_score(labels, predicted)
    assert any(issubclass(w.category, DataConversionWarning) for w in caught)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        model.score(X, labels[:-1])
