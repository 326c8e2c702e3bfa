"""derivtrain/losses/targets.py: which targets are centred or scaled, and the penalty in fitted units
is the user's: P_user(s w', s b' + m; y) = s^2 P_fitted(w', b'; (y - m) / s) at any weights."""
import numpy as np
import pytest
import torch

from derivtrain.data.targets import TargetPlan, target_statistics
from derivtrain.losses import ElasticNetPenalty, L1Penalty, L2Penalty, Loss, MSELoss, NoPenalty, Penalty
from derivtrain.losses.poisson import PoissonLoss
from derivtrain.losses.targets import fitted_penalty, target_plan
from derivtrain.models.linear import LinearRegression
from derivtrain.models.mlp import MLP
from derivtrain.models.poisson import PoissonRegression


class Huber(Loss):
    """A plugin loss of the residual, not homogeneous (its kink is at |r| = 1 in the data's units)."""

    residual_loss = True

    def forward(self, scores, y):
        return torch.nn.functional.huber_loss(scores, y)


class PluginPenalty(Penalty):
    def value(self, params):
        return sum((p ** 4).sum() for p in params)

    def grad(self, param):
        return 4 * param ** 3


@pytest.mark.parametrize("model, loss, penalty, strength, plan", [
    (LinearRegression, MSELoss, L2Penalty, 1e-3, TargetPlan(True, True)),
    (LinearRegression, MSELoss, L1Penalty, 1e-3, TargetPlan(True, True)),
    (LinearRegression, MSELoss, ElasticNetPenalty, 1e-3, TargetPlan(True, True)),
    (LinearRegression, MSELoss, NoPenalty, 0.0, TargetPlan(True, True)),
    (LinearRegression, MSELoss, PluginPenalty, 1e-3, TargetPlan(True, False)),  # degree unknown: centred only
    (LinearRegression, MSELoss, PluginPenalty, 0.0, TargetPlan(True, True)),  # no penalty in effect
    (LinearRegression, Huber, L2Penalty, 1e-3, TargetPlan(True, False)),  # not homogeneous: centred only
    (MLP, MSELoss, L2Penalty, 1e-3, TargetPlan(True, True)),  # not convex: scaled whatever the penalty
    (MLP, Huber, L2Penalty, 1e-3, TargetPlan(True, False)),
    (PoissonRegression, PoissonLoss, L2Penalty, 1e-3, TargetPlan(False, False)),  # counts are never centred
    (LinearRegression, Loss, L2Penalty, 1e-3, TargetPlan(False, False)),  # a loss that says nothing: as given
])
def test_the_plan(model, loss, penalty, strength, plan):
    assert target_plan(model, loss, penalty, strength) == plan


@pytest.mark.parametrize("penalty", [L2Penalty(0.3), L1Penalty(0.3), ElasticNetPenalty(0.3, 0.25),
                                     ElasticNetPenalty(0.3, 1.0), ElasticNetPenalty(0.3, 0.0)])
def test_the_fitted_objective_is_the_users_over_s_squared(penalty):
    rng = np.random.default_rng(0)
    Z, y = rng.normal(size=(50, 4)), 1e3 + 40 * rng.normal(size=50)
    m, s = target_statistics(y, TargetPlan(True, True))
    assert m == pytest.approx(y.mean()) and s == pytest.approx(y.std())
    w_fit, b_fit = torch.tensor(rng.normal(size=4)), float(rng.normal())
    w, b = s * w_fit, s * b_fit + m

    def objective(pen, w, b, targets):
        return float(np.mean((Z @ w.numpy() + b - targets) ** 2) + pen.strength * pen.value([w]).item())

    user = objective(penalty, w, b, y)
    fitted = type(penalty).__new__(type(penalty))
    fitted.__dict__.update(penalty.__dict__)
    fitted_penalty(fitted, s, MSELoss())
    assert s ** 2 * objective(fitted, w_fit, b_fit, (y - m) / s) == pytest.approx(user, rel=1e-12)


def test_a_constant_target_keeps_scale_one_and_an_unscaled_plan_leaves_it():
    assert target_statistics(np.full(10, 1e7), TargetPlan(True, True)) == (1e7, 1.0)
    assert target_statistics(np.arange(5.0), TargetPlan(True, False)) == (2.0, 1.0)
    assert target_statistics(np.arange(5.0), TargetPlan()) == (0.0, 1.0)
    weighted = target_statistics(np.array([0.0, 1.0]), TargetPlan(True, True), weight=np.array([1.0, 3.0]))
    assert weighted == pytest.approx((0.75, np.sqrt(0.75 * 0.25)))
