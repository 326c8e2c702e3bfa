"""Models as estimators: raw features in, labels / scores / probabilities out."""
import numpy as np
import pytest
import torch

from derivtrain.data.table import DataSpec
from derivtrain.models.logistic import LogisticRegression
from derivtrain.models.mlp import MLP
from derivtrain.models.svm import LinearSVM


def spec(classes=(0, 1), d=3):
    return DataSpec(task="classification", n_features=d, classes=list(classes), feature_names=["a", "b", "c"])


def test_decision_function_standardizes_raw_features():
    model = LinearSVM(spec())
    with torch.no_grad():
        model.linear.weight.copy_(torch.tensor([[1.0, -2.0, 0.5]]))
        model.linear.bias.fill_(0.25)
    mean, scale = torch.tensor([1.0, 2.0, 3.0]), torch.tensor([2.0, 4.0, 1.0])
    model.set_standardization(mean, scale)
    X = np.array([[3.0, 2.0, 5.0], [1.0, 10.0, 3.0]], dtype=np.float32)
    expected = ((X - mean.numpy()) / scale.numpy()) @ np.array([1.0, -2.0, 0.5]) + 0.25
    np.testing.assert_allclose(model.decision_function(X), expected, rtol=1e-6)
    np.testing.assert_array_equal(model.predict(X), (expected > 0).astype(int))
    assert torch.is_tensor(model.decision_function(torch.as_tensor(X)))


def test_predict_maps_back_to_string_classes():
    model = LogisticRegression(spec(classes=("cat", "dog", "eel")))
    with torch.no_grad():
        model.linear.weight.zero_()
        model.linear.bias.copy_(torch.tensor([0.0, 0.0, 1.0]))
    assert list(model.predict(np.zeros((2, 3)))) == ["eel", "eel"]


def test_predict_proba_only_for_likelihood_training():
    model = MLP(spec(classes=(0, 1, 2)), hidden_sizes=[4])
    assert not hasattr(model, "predict_proba")
    model.probability_link = "logistic"
    proba = model.predict_proba(np.random.default_rng(0).normal(size=(5, 3)))
    assert proba.shape == (5, 3)
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-6)
    binary = LogisticRegression(spec())
    binary.probability_link = "logistic"
    p = binary.predict_proba(np.ones((4, 3)))
    assert p.shape == (4, 2) and np.allclose(p.sum(1), 1)


def test_wrong_feature_count_is_a_clear_error():
    with pytest.raises(ValueError, match=r"expected features of shape \(n_samples, 3\)"):
        LinearSVM(spec()).decision_function(np.zeros((2, 5)))


def test_bias_is_not_penalized():
    model = MLP(spec(), hidden_sizes=[4, 4])
    penalized = {id(p) for p in model.penalized_parameters()}
    biases = {id(p) for n, p in model.named_parameters() if n.endswith("bias")}
    assert penalized and not penalized & biases
    assert len(penalized) == 3  # three weight matrices
