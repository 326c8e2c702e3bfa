"""The Gaussian mixture fitted by EM against scikit-learn's GaussianMixture on the same rows.

Same k, covariance type and number of restarts (k-means starts on both sides). Two ways to be
"the same data": the standardized matrix derivtrain trains on (scikit-learn fits that matrix;
its log-likelihood moves to the user's units by the standardization's Jacobian), and the raw
rows with data.standardize=false, which is scikit-learn's own setting.
"""
import numpy as np
import pytest
from sklearn.mixture import GaussianMixture

from tests.probabilistic.helpers import run_in_process

N_INIT = 3


def sklearn_mean_log_likelihood(X, covariance_type, k=3, n_init=N_INIT):
    return GaussianMixture(k, covariance_type=covariance_type, n_init=n_init, random_state=0).fit(X).score(X)


@pytest.mark.parametrize("data", ["iris", "blobs"])
@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical"])
@pytest.mark.parametrize("standardize", [True, False])
def test_em_log_likelihood_at_least_sklearns(tmp_path, data, covariance_type, standardize):
    fitted = run_in_process(tmp_path, "model=gmm", f"data={data}", f"model.covariance_type={covariance_type}",
                            f"optim.n_init={N_INIT}", f"data.standardize={str(standardize).lower()}")
    ours = fitted.metrics["train/log_likelihood"]
    # metrics.json and the reloaded model's score_samples (on raw rows) tell the same number
    assert fitted.model.score(fitted.X_train_raw) == pytest.approx(ours, abs=1e-4)
    if standardize:
        log_det = -np.log(fitted.model.feature_scale.double().numpy()).sum()
        theirs = sklearn_mean_log_likelihood(fitted.X_train, covariance_type) + log_det
    else:
        theirs = sklearn_mean_log_likelihood(fitted.X_train_raw, covariance_type)
    assert ours >= theirs - 0.01, (ours, theirs)
    assert fitted.metrics["train/converged"] is True and fitted.metrics["train/steps"] <= 100


def test_score_samples_bic_aic_and_proba_equal_sklearns_with_the_same_parameters(tmp_path):
    """Copy the fitted parameters (in the user's units) into scikit-learn's estimator: every number agrees."""
    fitted = run_in_process(tmp_path, "model=gmm", "data=iris", "model.covariance_type=full")
    model, X = fitted.model, fitted.X_train_raw
    sk = GaussianMixture(3, covariance_type="full")
    sk.weights_ = model.weights_.double().numpy()
    sk.means_ = model.means_.double().numpy()
    sk.covariances_ = model.covariances_.double().numpy()
    sk.precisions_cholesky_ = np.linalg.inv(np.linalg.cholesky(sk.covariances_)).transpose(0, 2, 1)
    np.testing.assert_allclose(model.score_samples(X), sk.score_samples(X), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(model.predict_proba(X), sk.predict_proba(X), atol=1e-4)
    np.testing.assert_array_equal(model.predict(X), sk.predict(X))
    assert model.bic(X) == pytest.approx(sk.bic(X), rel=1e-5)
    assert model.aic(X) == pytest.approx(sk.aic(X), rel=1e-5)
    assert fitted.metrics["train/bic"] == pytest.approx(sk.bic(X), rel=1e-4)
    assert fitted.metrics["train/aic"] == pytest.approx(sk.aic(X), rel=1e-4)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical"])
def test_parameter_count_is_sklearns(tmp_path, covariance_type):
    fitted = run_in_process(tmp_path, "model=gmm", "data=blobs", "data.n_features=4",
                            f"model.covariance_type={covariance_type}", "optim.max_iter=2")
    sk = GaussianMixture(3, covariance_type=covariance_type, max_iter=2).fit(fitted.X_train_raw)
    assert fitted.model.n_parameters() == sk._n_parameters()
