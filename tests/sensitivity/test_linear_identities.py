"""Closed forms for linear scores s = w.z + b on the standardized input z, checked in float64.

For the explained class score (w_c = W[c]; a binary model's class 0 is -s, so -w):
    integrated gradients = deeplift = feature ablation = Kernel SHAP = (z - z0) * w_c exactly,
    saliency = |w_c|, gradient x input = z * w_c, smoothgrad = w_c, Jacobian = W on every row.
"""
import numpy as np
import pytest
import torch

from derivtrain.sensitivity import jacobian
from derivtrain.sensitivity.methods import attribute
from tests.sensitivity.conftest import as_float64

ATOL = 1e-5


def row_weights(model, targets, n):
    """The weight vector of the explained score of each row, (n, d)."""
    W = model.linear.weight.detach()
    if targets is None:  # regression: the prediction itself
        return W[0].expand(n, -1)
    if W.shape[0] == 1:  # binary: +w for classes_[1], -w for classes_[0]
        return torch.where(targets[:, None] == 1, W[0], -W[0])
    return W[targets]


@pytest.fixture(params=["logistic_wine", "logistic_binary", "linear_diabetes"])
def linear(request):
    trained = request.getfixturevalue(request.param)
    model, X = as_float64(trained)
    return model, X, trained.data.test.y


@pytest.mark.parametrize("method,options", [
    ("integrated_gradients", {"n_steps": 50}),
    ("deeplift", {}),
    ("feature_ablation", {}),
])
@pytest.mark.parametrize("baseline", ["mean", "zero", "raw_vector"])
def test_baseline_methods_are_exactly_difference_times_weight(linear, method, options, baseline):
    model, X, y = linear
    raw = (model.feature_mean + 0.5 * model.feature_scale).tolist() if baseline == "raw_vector" else baseline
    result = attribute(model, X, method, baseline=raw, **options)
    # the baseline in standardized space, computed here independently of derivtrain's conversion
    raw_values = {"mean": model.feature_mean, "zero": torch.zeros_like(model.feature_mean)}.get(
        baseline, model.feature_mean + 0.5 * model.feature_scale)
    z0 = (raw_values - model.feature_mean) / model.feature_scale
    expected = (X - z0) * row_weights(model, result.targets, len(X))
    torch.testing.assert_close(result.values, expected, atol=ATOL, rtol=0)
    if result.delta is not None:
        assert result.delta.abs().max() < ATOL


def test_saliency_is_abs_weight_and_grad_x_input_is_input_times_weight(linear):
    model, X, _ = linear
    sal = attribute(model, X, "saliency")
    w = row_weights(model, sal.targets, len(X))
    torch.testing.assert_close(sal.values, w.abs(), atol=1e-12, rtol=0)
    gxi = attribute(model, X, "grad_x_input")
    torch.testing.assert_close(gxi.values, X * w, atol=1e-12, rtol=0)
    # with the mean baseline, integrated gradients of a linear score is gradient x input
    torch.testing.assert_close(attribute(model, X, "integrated_gradients").values, gxi.values, atol=ATOL, rtol=0)


def test_smoothgrad_of_a_linear_score_is_its_weight_whatever_the_noise(linear):
    model, X, _ = linear
    result = attribute(model, X, "smoothgrad", noise_samples=5, noise_stdev=2.0)
    torch.testing.assert_close(result.values, row_weights(model, result.targets, len(X)), atol=1e-12, rtol=0)
    tunnel = attribute(model, X, "noise_tunnel", base="saliency", noise_samples=3, noise_stdev=2.0)
    torch.testing.assert_close(tunnel.values, row_weights(model, tunnel.targets, len(X)), atol=1e-12, rtol=0)


def test_kernel_shap_recovers_the_shapley_values_of_a_linear_score(linear):
    # the coalition game of a linear score is itself linear, so the weighted regression is exact
    # up to Captum's float32 copies of the coalitions and outputs
    model, X, _ = linear
    X = X[:12]
    result = attribute(model, X, "kernel_shap", n_samples=300)
    expected = X * row_weights(model, result.targets, len(X))
    torch.testing.assert_close(result.values, expected, atol=1e-4 * expected.abs().max().item(), rtol=0)


def test_feature_permutation_is_weight_times_the_shuffled_difference(linear):
    # s(x) - s(x with z_j replaced by another row's z_j) = w_j (z_j - z_pi(j)): recover the
    # replaced values and check they are a permutation of the column
    model, X, _ = linear
    result = attribute(model, X, "feature_permutation", seed=3)
    w = row_weights(model, result.targets, len(X))
    used = w.abs() > 1e-8
    replaced = torch.where(used, X - result.values / torch.where(used, w, 1.0), X)
    for j in range(X.shape[1]):
        if used[:, j].all():
            torch.testing.assert_close(replaced[:, j].sort().values, X[:, j].sort().values, atol=1e-9, rtol=0)
    assert not torch.allclose(result.values, torch.zeros_like(result.values))


def test_jacobian_is_the_weight_matrix_on_every_row(linear):
    model, X, _ = linear
    J = jacobian(model, X)
    W = model.linear.weight.detach()
    assert J.shape == (len(X), W.shape[0], X.shape[1])
    torch.testing.assert_close(J, W.expand(len(X), -1, -1), atol=1e-12, rtol=0)


def test_targets_predicted_true_and_a_chosen_class(logistic_wine):
    model, X = as_float64(logistic_wine)
    y = logistic_wine.data.test.y
    predicted = attribute(model, X, "saliency")
    assert torch.equal(predicted.targets, model(X).argmax(1))
    assert torch.equal(attribute(model, X, "saliency", target="true", y=y).targets, y)
    chosen = attribute(model, X, "integrated_gradients", target=model.classes_[2])
    assert torch.all(chosen.targets == 2)
    torch.testing.assert_close(chosen.values, X * model.linear.weight[2].detach(), atol=ATOL, rtol=0)


def test_standardized_attributions_equal_raw_space_ones_for_integrated_gradients(logistic_wine):
    # the documented invariance: IG on the model's standardized input equals IG of the same
    # function written on raw features, with the baseline moved along
    from captum.attr import IntegratedGradients

    from derivtrain.sensitivity import ClassScores

    model, X = as_float64(logistic_wine)
    mean, scale = model.feature_mean, model.feature_scale
    ours = attribute(model, X, "integrated_gradients", baseline="zero")
    raw_model = lambda x_raw: ClassScores(model)((x_raw - mean) / scale)  # noqa: E731
    raw = IntegratedGradients(raw_model).attribute(X * scale + mean, baselines=torch.zeros_like(X),
                                                   target=ours.targets, n_steps=50)
    torch.testing.assert_close(ours.values, raw, atol=ATOL, rtol=0)
    # saliency is not invariant: the raw-space gradient is the standardized one divided by scale
    sal = attribute(model, X, "saliency").values
    assert not np.allclose(sal.numpy(), (sal / scale).numpy())
