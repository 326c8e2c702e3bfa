"""Exact integrated gradients for ReLU MLPs and linear models (derivtrain/sensitivity/piecewise_ig.py).

The reference is Captum's own IntegratedGradients with 20000 midpoint-rule steps, in float64: its
error is at most (jumps of the gradient) x (step / 2), far below the 1e-4 compared to.
"""
import pytest
import torch

from derivtrain.data.table import DataSpec
from derivtrain.models.mlp import MLP
from derivtrain.models.svm import LinearSVM
from derivtrain.sensitivity import ClassScores
from derivtrain.sensitivity.integrated_gradients import resolve_integration
from derivtrain.sensitivity.methods import attribute
from derivtrain.sensitivity.piecewise_ig import breakpoints, hidden_layers
from tests.sensitivity.conftest import as_float64
from tests.sensitivity.test_completeness import completeness_gap
from tests.sensitivity.test_linear_identities import row_weights

REFERENCE = dict(integration="riemann_middle", n_steps=20000)


def captum_reference(model, X, targets):
    return attribute(model, X, "integrated_gradients", target=targets, **REFERENCE).values


@pytest.fixture(scope="module")
def deep_relu_mlp():
    """An untrained 3-hidden-layer ReLU MLP with dropout, float64: breakpoints of deeper layers
    (found inside the pieces of the earlier ones) matter here, and dropout must be skipped."""
    spec = DataSpec(task="classification", n_features=6, classes=[0, 1, 2], feature_names=[f"f{i}" for i in range(6)])
    torch.manual_seed(3)
    model = MLP(spec, hidden_sizes=(16, 16, 16), dropout=0.3).double().eval()
    return model, 2 * torch.randn(12, 6, dtype=torch.float64)


def test_matches_captum_with_20000_steps_on_the_digits_mlp(mlp_digits):
    model, X = as_float64(mlp_digits)
    X = X[:24]
    exact = attribute(model, X, "integrated_gradients", integration="exact_piecewise")
    torch.testing.assert_close(exact.values, captum_reference(model, X, exact.targets), atol=1e-4, rtol=0)
    assert exact.delta.abs().max() < 1e-10  # float64: completeness to rounding


def test_matches_captum_with_20000_steps_on_a_deep_mlp_with_dropout(deep_relu_mlp):
    model, X = deep_relu_mlp
    exact = attribute(model, X, "integrated_gradients", integration="exact_piecewise")
    torch.testing.assert_close(exact.values, captum_reference(model, X, exact.targets), atol=1e-4, rtol=0)
    assert exact.delta.abs().max() < 1e-10
    torch.testing.assert_close(exact.delta, completeness_gap(model, X, exact), atol=1e-12, rtol=0)


def pre_activations(hidden, X, baseline, a):
    """(n, m, all hidden units): every ReLU's input at path positions a (n, m)."""
    h, zs = baseline + a[..., None] * (X - baseline)[:, None], []
    for layer in hidden:
        zs.append(layer(h))
        h = torch.relu(zs[-1])
    return torch.cat(zs, dim=-1)


def test_every_piece_has_one_activation_pattern_and_every_knot_is_a_kink(deep_relu_mlp):
    model, X = deep_relu_mlp
    hidden, baseline = hidden_layers(model), torch.zeros(1, X.shape[1], dtype=X.dtype)
    knots = breakpoints(hidden, X, baseline)
    left, right = knots[:, :-1], knots[:, 1:]
    real = right > left  # padding pieces have length 0
    with torch.no_grad():
        middle = pre_activations(hidden, X, baseline, (left + right) / 2) > 0
        for share in (1e-6, 1 - 1e-6):  # just inside each end: no kink was missed inside a piece
            near_end = pre_activations(hidden, X, baseline, left + share * (right - left)) > 0
            assert (near_end == middle)[real].all()
        # at every interior knot some unit's input is zero: no knot is spurious
        interior = (knots > 0) & (knots < 1)
        at_knots = pre_activations(hidden, X, baseline, knots).abs().min(-1).values
        assert (at_knots[interior] < 1e-9).all()
    assert interior.sum() > 3 * len(X)  # the paths do cross kinks: the test is not vacuous


def test_relu_mlp_meets_the_gap_at_64_steps_on_digits(mlp_digits):
    model, X = mlp_digits.model, mlp_digits.data.test.X  # float32, as a run computes it
    result = attribute(model, X, "integrated_gradients", n_steps=64)  # integration=auto
    gap = completeness_gap(model, X, result)
    assert gap.abs().max() <= 1e-3 and result.delta.abs().max() <= 1e-3
    torch.testing.assert_close(result.delta, gap, atol=1e-5, rtol=0)  # the reported delta is that gap
    # Captum's Gauss-Legendre rule at the same 64 steps misses it on this model
    assert attribute(model, X, "integrated_gradients", n_steps=64, integration="gausslegendre").delta.abs().max() > 1e-3


@pytest.mark.parametrize("fixture", ["logistic_wine", "logistic_binary", "linear_diabetes"])
@pytest.mark.parametrize("baseline", ["mean", "zero"])
def test_linear_models_get_the_closed_form_exactly(request, fixture, baseline):
    model, X = as_float64(request.getfixturevalue(fixture))
    result = attribute(model, X, "integrated_gradients", baseline=baseline)
    z0 = {"mean": torch.zeros_like(model.feature_mean), "zero": -model.feature_mean / model.feature_scale}[baseline]
    # one piece of length 1: the gradient w of the explained score, times x - baseline, bit for bit
    assert torch.equal(result.values, (X - z0) * row_weights(model, result.targets, len(X)))


def test_linear_svm_gets_the_closed_form_exactly():
    spec = DataSpec(task="classification", n_features=5, classes=["a", "b", "c"], feature_names=list("vwxyz"))
    model = LinearSVM(spec).double().eval()
    X = torch.randn(30, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    result = attribute(model, X, "integrated_gradients")
    assert resolve_integration(model, "auto") == "exact_piecewise"
    assert torch.equal(result.values, X * model.linear.weight.detach()[result.targets])


def test_auto_is_exact_for_relu_and_captum_for_smooth_models(mlp_digits, tanh_mlp_digits):
    relu, X = mlp_digits.model, mlp_digits.data.test.X[:50]
    assert torch.equal(attribute(relu, X, "integrated_gradients").values,
                       attribute(relu, X, "integrated_gradients", integration="exact_piecewise").values)
    tanh = tanh_mlp_digits.model
    assert resolve_integration(tanh, "auto") == "gausslegendre"
    assert torch.equal(attribute(tanh, X, "integrated_gradients").values,
                       attribute(tanh, X, "integrated_gradients", integration="gausslegendre").values)
    with pytest.raises(ValueError, match="integration=exact_piecewise needs a model made of Linear and ReLU "
                                         "layers .*not MLP with Tanh"):
        attribute(tanh, X, "integrated_gradients", integration="exact_piecewise")


def test_a_subclass_with_its_own_forward_is_not_assumed_piecewise_linear(mlp_digits):
    class Squared(MLP):
        def forward(self, X):
            return super().forward(X) ** 2

    assert hidden_layers(mlp_digits.model) is not None
    model = Squared(mlp_digits.model.spec)
    assert hidden_layers(model) is None and resolve_integration(model, "auto") == "gausslegendre"
    assert hidden_layers(ClassScores(mlp_digits.model)) is None  # only the model itself is recognised
