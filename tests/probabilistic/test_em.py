"""EM itself: monotone, restarts keep the best, closed-form Gaussian, EM vs gradient fits, sampling."""
import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal

from derivtrain.data import build_data
from derivtrain.run import build_objective, seed_everything
from derivtrain.trainer.em import fit_em, run_em
from tests.conftest import compose_config
from tests.probabilistic.helpers import run_in_process
from tests.trainer.helpers import RecordingLogger
from derivtrain.trainer.fitting import make_context


def em_fit(tmp_path, *overrides):
    cfg = compose_config("model=gmm", *overrides)
    seed_everything(cfg.trainer.seed)
    data = build_data(cfg.data, torch.device("cpu"), seed=cfg.trainer.seed)
    objective = build_objective(cfg, data)
    logger = RecordingLogger()
    result = fit_em(make_context(cfg, objective, data, logger, tmp_path / "last.pt"))
    return result, logger, objective.model, data


def test_em_never_decreases_the_log_likelihood_and_logs_every_iteration(tmp_path):
    result, logger, _, _ = em_fit(tmp_path, "data=iris", "optim.tol=1e-7", "optim.max_iter=500")
    curve = logger.values("train/log_likelihood")
    assert len(curve) == result.steps > 20  # iris's EM climbs slowly: a long curve
    assert all(b >= a - 1e-5 for a, b in zip(curve, curve[1:]))
    assert curve[-1] == pytest.approx(result.metrics["train/log_likelihood"], abs=1e-4)
    assert [step for tag, _, step in logger.scalars if tag == "train/log_likelihood"] == list(range(1, len(curve) + 1))


def test_restarts_keep_the_best_start(tmp_path):
    result, logger, _, _ = em_fit(tmp_path, "data=iris", "optim.n_init=4", "optim.init=k-means++")
    finals = [logger.values(f"em/log_likelihood/init_{i}")[-1] for i in range(4)]
    assert len(set(np.round(finals, 4))) > 1  # the starts did differ
    assert result.metrics["train/log_likelihood"] == pytest.approx(max(finals), abs=1e-4)
    assert result.metrics["train/n_init"] == 4


def test_single_gaussian_is_the_sample_mean_and_covariance(tmp_path):
    fitted = run_in_process(tmp_path, "model=gaussian", "data=wine", "model.reg_covar=0")
    X = fitted.X_train_raw
    np.testing.assert_allclose(fitted.model.mean_.double().numpy(), X.mean(0), rtol=1e-5)
    np.testing.assert_allclose(fitted.model.covariance_.double().numpy(), np.cov(X.T, bias=True), rtol=1e-3,
                               atol=1e-6 * np.abs(np.cov(X.T)).max())
    assert fitted.metrics["train/steps"] == 2  # one M-step reaches the optimum, the next E-step confirms it
    reference = multivariate_normal(X.mean(0), np.cov(X.T, bias=True)).logpdf(X).mean()
    assert fitted.metrics["train/log_likelihood"] == pytest.approx(reference, abs=1e-3)


@pytest.mark.parametrize("data", ["iris", "blobs"])
@pytest.mark.parametrize("gradient", ["optim=adam optim.lr=0.1 trainer.max_epochs=150",
                                      "optim=lbfgs trainer.max_epochs=8"])
def test_em_and_gradient_fits_of_the_same_mixture_agree(tmp_path, data, gradient):
    """Same model, same k-means start; EM to a tight tolerance, gradients on the unconstrained parameters."""
    common = ("model=gmm", f"data={data}", "trainer.val_every_n_epochs=0")
    em = run_in_process(tmp_path, *common, "optim.tol=1e-7", "optim.max_iter=1000", name="em")
    grad = run_in_process(tmp_path, *common, *gradient.split(), name="gradient")
    assert grad.metrics["train/log_likelihood"] == pytest.approx(em.metrics["train/log_likelihood"], abs=0.05)
    # the same solution, not just as good a one: the rows fall into the same components
    same = em.model.predict(em.X_train_raw) == grad.model.predict(grad.X_train_raw)
    assert same.mean() >= 0.95


def test_sample_follows_the_fitted_mixture(tmp_path):
    fitted = run_in_process(tmp_path, "model=gmm", "data=blobs", "data.n_features=3")
    model = fitted.model
    X, components = model.sample(60_000, seed=1)
    assert X.shape == (60_000, 3) and components.shape == (60_000,)
    shares = np.bincount(components, minlength=3) / len(components)
    np.testing.assert_allclose(shares, model.weights_.numpy(), atol=0.01)
    for k in range(3):
        rows = X[components == k]
        np.testing.assert_allclose(rows.mean(0), model.means_[k].numpy(), atol=0.05)
        np.testing.assert_allclose(np.cov(rows.T), model.covariances_[k].numpy(), atol=0.08)
    again, _ = model.sample(10, seed=1)
    np.testing.assert_array_equal(again, model.sample(10, seed=1)[0])  # a seed makes it reproducible
    # the samples are where the model puts its mass: their log-density beats the training rows'
    assert model.score(X) == pytest.approx(fitted.metrics["train/log_likelihood"], abs=0.1)


def test_run_em_from_the_same_start_is_deterministic():
    cfg = compose_config("model=gmm", "data=blobs")
    data = build_data(cfg.data, torch.device("cpu"), seed=0)
    curves = []
    for _ in range(2):
        model = build_objective(cfg, data).model
        model.initialize(data.train.X, torch.Generator().manual_seed(3))
        curves.append(run_em(model, data.train.X, 50, 1e-6)[0])
    assert curves[0] == curves[1]
