"""The certified solver's L-BFGS steps (derivtrain/trainer/lbfgs_steps.py): on real rows they reach the
objective scikit-learn's tight solve reaches, under a certificate that bounds the true gap; a stop
mid-solve resumes bit for bit (the memory is in the checkpoint); the choice between them and
Newton's steps is said in the run's log."""
import numpy as np
import pytest
import torch
from sklearn.datasets import load_breast_cancer, load_digits, load_wine

import derivtrain
from derivtrain.trainer import certified, lbfgs_steps
from tests.trainer.test_sampled_newton import ALPHA, _objective, _reference

LOADERS = {"digits": load_digits, "breast_cancer": load_breast_cancer, "wine": load_wine}


def _rows(name):
    X, y = LOADERS[name](return_X_y=True)
    scale = X.std(0)
    return (X - X.mean(0)) / np.where(scale > 0, scale, 1.0), y


@pytest.fixture
def lbfgs(monkeypatch):
    """L-BFGS steps whatever the rule says; the iterations they took."""
    taken = []
    observe = lbfgs_steps.LBFGSSteps.observe
    monkeypatch.setattr(certified, "choose", lambda ctx, problem: "lbfgs")
    monkeypatch.setattr(lbfgs_steps.LBFGSSteps, "observe",
                        lambda self, T, smooth: taken.append(1) or observe(self, T, smooth))
    return taken


@pytest.mark.parametrize("name", ["digits", "breast_cancer", "wine"])  # softmax of 10; binary; softmax of 3
@pytest.mark.parametrize("tol", [1e-3, 1e-9])
def test_lbfgs_reaches_scikit_learns_optimum(lbfgs, name, tol):
    X, y = _rows(name)
    est = derivtrain.Estimator(model="logistic", standardize=False, regularizer__strength=ALPHA, optim__tol=tol,
                               trainer__max_epochs=3000).fit(X, y)
    linear = est.model_.linear
    ours = _objective(X, y, linear.weight.detach().numpy(), linear.bias.detach().numpy())
    optimum = _reference(X, y)
    assert len(lbfgs) > 5, "the fit took no L-BFGS steps"
    assert est.metrics_["train/converged"] and est.metrics_["train/optimality_gap"] <= tol
    assert (ours - optimum) / ours <= est.metrics_["train/optimality_gap"] + 1e-12  # the bound holds
    assert ours == pytest.approx(optimum, rel=max(tol, 1e-8))


def test_a_stop_mid_solve_then_resume_takes_the_same_lbfgs_steps(lbfgs, tmp_path):
    """The memory (pairs, the pending step, the metric) is in the checkpoint: a stop after iteration
    k, then a resume, ends on the uninterrupted run's weights (tests/trainer/test_solver_resume.py);
    so does a resume from each periodic checkpoint."""
    from tests.trainer.test_solver_resume import assert_same_fit, fit

    overrides = ["model=logistic", "data=wine", "optim.tol=1e-8", "trainer.max_epochs=1000"]
    straight = fit(tmp_path / "straight", overrides)
    assert straight[0].steps >= 10 and straight[0].converged
    interrupted = fit(tmp_path / "stopped", overrides, stop_at=straight[0].steps // 2)
    assert interrupted[0] is None
    state = interrupted[1].saved[-1]
    assert len(state["solver"]["lbfgs_s"]) > 1 and state["solver"]["lbfgs_metric"] is not None
    assert_same_fit(fit(tmp_path / "again", overrides, resume_state=state), straight, interrupted[1], -1)
    periodic = fit(tmp_path / "periodic", overrides, every=3)
    for n in (0, len(periodic[1].saved) // 2):
        assert_same_fit(fit(tmp_path / str(n), overrides, resume_state=periodic[1].saved[n]), straight, periodic[1], n)


def test_the_two_loops_meet_the_secant_condition():
    """With one pair (s, y), H y = s whatever the metric: the BFGS update's defining property."""
    g = torch.Generator().manual_seed(0)
    steps = lbfgs_steps.LBFGSSteps(None, None, torch.zeros(2, 4, dtype=torch.float64))
    A = torch.randn(4, 4, generator=g, dtype=torch.float64)
    steps.metric = torch.linalg.cholesky(A @ A.T + 4 * torch.eye(4, dtype=torch.float64))
    s, y = torch.randn(2, 4, generator=g, dtype=torch.float64), torch.randn(2, 4, generator=g, dtype=torch.float64)
    y = y if lbfgs_steps._dot(y, s) > 0 else -y
    steps._remember(s, y)
    steps._remember(s, -y)  # y.s <= 0: no curvature information (rounding), skipped
    assert len(steps.pairs) == 1
    torch.testing.assert_close(steps._direction(y), -s)


def _three_classes(n=3000, d=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    return X, np.digitize(X @ rng.standard_normal(d) + rng.standard_normal(n), [-0.5, 0.5])


@pytest.mark.parametrize("params, chosen, why", [
    ({"optim__tol": 1e-3}, "L-BFGS steps", "3000 rows >= 64 x 18 parameters"),
    ({"optim__tol": 1e-6}, "Newton steps", "quadratic convergence pays"),
    ({"optim__tol": 1e-3, "optim__hessian": "cg"}, "Newton steps", "optim.hessian=cg asks for it"),
])
def test_the_choice_of_steps_is_logged_with_its_reason(capfd, params, chosen, why):
    X, y = _three_classes()
    est = derivtrain.Estimator(model="logistic", standardize=False, verbose=1, **params)
    capfd.readouterr()
    est.fit(X, y)
    said = [line for line in capfd.readouterr().err.splitlines() if "certified solver:" in line]
    assert len(said) == 1 and chosen in said[0] and why in said[0], said
    assert est.metrics_["train/converged"]


def test_few_rows_a_parameter_keep_newton(capfd):
    """digits' softmax (1797 rows, 650 parameters): L-BFGS needs ~67 steps where Newton takes 8."""
    X, y = _rows("digits")
    derivtrain.Estimator(model="logistic", standardize=False, verbose=1, optim__tol=1e-3).fit(X, y)
    assert "certified solver: Newton steps (1797 rows < 64 x 650 parameters" in capfd.readouterr().err
