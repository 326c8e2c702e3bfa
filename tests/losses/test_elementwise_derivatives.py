"""The closed-form values and derivatives the Newton solvers take (ConvexLoss.elementwise_derivatives) are
the loss's own elementwise values and autograd's first and second derivatives, in float64, from scores
where the logistic loss is ~1e-22 to where exponentials of naive formulas overflow."""
import math

import pytest
import torch

from derivtrain.losses import CrossEntropyLoss, MSELoss
from derivtrain.losses.poisson import PoissonLoss

SCORES = torch.cat([torch.linspace(-50, 50, 201, dtype=torch.float64), torch.tensor([-745.0, -40.0, 0.0, 700.0],
                                                                                      dtype=torch.float64)])


def _reference(loss, z, y):
    """The loss's values (the logistic's exactly, from math.log1p: torch's kernel rounds to ~eps |z|
    absolute, 7e-15 where the value is 4.7e-15 at z = -33), autograd's first and second derivatives."""
    with torch.enable_grad():
        leaf = z.clone().requires_grad_(True)
        values = loss.elementwise(leaf, y)
        (first,) = torch.autograd.grad(values.sum(), leaf, create_graph=True)
        (second,) = torch.autograd.grad(first.sum(), leaf) if first.requires_grad else (torch.zeros_like(first),)
    if isinstance(loss, CrossEntropyLoss):
        values = torch.tensor([_logistic(s, t) for s, t in zip(z.tolist(), y.tolist())], dtype=torch.float64)
    return values.detach(), first.detach(), second


def _logistic(score: float, target: float) -> float:
    return math.log1p(math.exp(-abs(score))) + max(score, 0.0) - target * score


@pytest.mark.parametrize("loss, targets, scores", [
    (CrossEntropyLoss(), (0.0, 1.0), SCORES),
    (MSELoss(), (-3.5, 0.0, 1e4), SCORES),
    (PoissonLoss(), (0.0, 1.0, 7.0), SCORES[SCORES < 600]),  # e^700: inf in both
])
def test_closed_forms_are_autograds(loss, targets, scores):
    for target in targets:
        y = torch.full_like(scores, target)
        given = loss.elementwise_derivatives(scores, y)
        for name, got, exact in zip(("value", "first", "second"), given, _reference(loss, scores, y)):
            assert got.dtype == torch.float64 and got.shape == scores.shape
            torch.testing.assert_close(got, exact, rtol=1e-12, atol=1e-320, msg=f"{name} at target {target}")


def test_the_logistic_value_is_exact_where_torchs_kernel_rounds_it_away():
    z, y = torch.tensor([-50.0, -33.0], dtype=torch.float64), torch.zeros(2, dtype=torch.float64)
    closed, torchs = CrossEntropyLoss().elementwise_derivatives(z, y)[0], CrossEntropyLoss().elementwise(z, y)
    assert closed.tolist() == [_logistic(-50.0, 0.0), _logistic(-33.0, 0.0)] and float(closed[0]) > 0
    assert float(torchs[0]) == 0.0 and abs(float(torchs[1]) - float(closed[1])) > 0.4 * float(closed[1])


def test_the_solver_takes_them_and_reaches_the_same_optimum(monkeypatch):
    """An L1 logistic fit on breast_cancer with the closed forms and with autograd's passes: the same
    certified optimum (objective within 1e-9), the closed forms' fit calling autograd for none of it."""
    import numpy as np
    from sklearn.datasets import load_breast_cancer

    import derivtrain

    X, y = load_breast_cancer(return_X_y=True)
    fits = {}
    for closed in (True, False):
        if not closed:
            monkeypatch.setattr(CrossEntropyLoss, "elementwise_derivatives", None)
        est = derivtrain.Estimator(model="logistic", regularizer="l1", regularizer__strength=1e-3, optim__tol=1e-10)
        fits[closed] = est.fit(X, y).metrics_
    assert all(m["train/converged"] and m["train/optimality_gap"] <= 1e-10 for m in fits.values())
    assert np.isclose(fits[True]["train/objective"], fits[False]["train/objective"], rtol=1e-9, atol=0)
