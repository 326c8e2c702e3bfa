"""optim=newton against scikit-learn's solvers on the same standardized training matrix.

derivtrain minimizes mean NLL + strength/2 ||w||^2 (bias unpenalized).
  LogisticRegression(C) minimizes C * sum NLL + 1/2 ||w||^2:  C = 1 / (strength * n_train).
  PoissonRegressor(alpha) minimizes mean deviance / 2 + alpha/2 ||w||^2:  alpha = strength.
"""
import numpy as np
import pytest
import torch
from scipy.stats import poisson
from sklearn.linear_model import LogisticRegression, PoissonRegressor

from derivtrain.data import build_data
from derivtrain.errors import ConfigError
from derivtrain.run import build_objective
from derivtrain.trainer.newton import fit_newton
from tests.conftest import compose_config
from tests.probabilistic.helpers import relative_error, run_in_process
from tests.trainer.helpers import RecordingLogger
from derivtrain.trainer.fitting import make_context


def coefficients(model):
    return model.linear.weight.detach().double().numpy(), model.linear.bias.detach().double().numpy()


@pytest.mark.parametrize("strength", [1e-3, 1e-2])
def test_logistic_newton_on_breast_cancer_matches_sklearn(tmp_path, strength):
    fitted = run_in_process(tmp_path, "model=logistic", "optim=newton", f"regularizer.strength={strength}")
    assert fitted.metrics["train/converged"] is True and fitted.metrics["train/steps"] <= 10
    C = 1 / (strength * len(fitted.X_train))
    sk = LogisticRegression(C=C, solver="newton-cholesky", tol=1e-12, max_iter=1000).fit(fitted.X_train, fitted.y_train)
    w, b = coefficients(fitted.model)
    assert relative_error(w.ravel(), sk.coef_.ravel()) < 1e-3
    assert b[0] == pytest.approx(sk.intercept_[0], rel=1e-3, abs=1e-4)
    # the log-likelihood metric is the Bernoulli one, scikit-learn's log loss negated
    proba = sk.predict_proba(fitted.X_train)[np.arange(len(fitted.y_train)), fitted.y_train]
    assert fitted.metrics["train/log_likelihood"] == pytest.approx(np.log(proba).mean(), abs=1e-4)


@pytest.mark.parametrize("hessian", ["dense", "cg"])
def test_multinomial_newton_matches_sklearn(tmp_path, hessian):
    """K softmax scores, L2 on all K weight vectors: scikit-learn's multinomial objective."""
    strength = 1e-2
    fitted = run_in_process(tmp_path, "model=logistic", "data=wine", "optim=newton", f"optim.hessian={hessian}",
                            f"regularizer.strength={strength}", "optim.tol=1e-10")
    assert fitted.metrics["train/converged"] is True
    C = 1 / (strength * len(fitted.X_train))
    sk = LogisticRegression(C=C, tol=1e-12, max_iter=10_000).fit(fitted.X_train, fitted.y_train)
    w, _ = coefficients(fitted.model)
    assert relative_error(w, sk.coef_) < 1e-3
    np.testing.assert_allclose(fitted.model.predict_proba(fitted.X_train_raw), sk.predict_proba(fitted.X_train),
                               atol=1e-4)


@pytest.mark.parametrize("alpha", [1e-4, 1e-1])
def test_poisson_newton_matches_sklearn_poisson_regressor(tmp_path, alpha):
    fitted = run_in_process(tmp_path, "model=poisson", "data=counts", f"regularizer.strength={alpha}")
    assert fitted.metrics["train/converged"] is True and fitted.metrics["train/steps"] <= 10
    sk = PoissonRegressor(alpha=alpha, solver="newton-cholesky", tol=1e-12, max_iter=1000)
    sk.fit(fitted.X_train, fitted.y_train)
    w, b = coefficients(fitted.model)
    assert relative_error(w.ravel(), sk.coef_) < 1e-3
    assert b[0] == pytest.approx(sk.intercept_, rel=1e-3)
    # predict gives expected counts in the user's units, as PoissonRegressor.predict does
    np.testing.assert_allclose(fitted.model.predict(fitted.X_train_raw), sk.predict(fitted.X_train), rtol=1e-3)
    # the log-likelihood metric is the full Poisson one, log(y!) included
    reference = poisson.logpmf(fitted.y_train, sk.predict(fitted.X_train)).mean()
    assert fitted.metrics["train/log_likelihood"] == pytest.approx(reference, abs=1e-4)


def test_newton_logs_every_iteration_and_decreases_the_objective(tmp_path):
    cfg = compose_config("model=logistic", "optim=newton")
    data = build_data(cfg.data, torch.device("cpu"), seed=0)
    objective = build_objective(cfg, data)
    logger = RecordingLogger()
    result = fit_newton(make_context(cfg, objective, data, logger, tmp_path / "last.pt"))
    objectives, gaps = logger.values("train/objective"), logger.values("train/optimality_gap")
    assert len(objectives) == len(logger.values("train/log_likelihood")) == len(gaps) == result.steps + 1
    assert all(b < a for a, b in zip(objectives, objectives[1:]))
    assert gaps[-1] <= cfg.optim.tol < gaps[-2]  # stopped on the certificate, at the first iterate that has it
    assert next(objective.model.parameters()).dtype == torch.float32  # iterated in float64, handed back as trained


def test_newton_refuses_an_objective_without_second_derivative(tmp_path):
    with pytest.raises(ConfigError, match="optim=newton needs a twice-differentiable objective"):
        run_in_process(tmp_path, "model=svm", "optim=newton")
