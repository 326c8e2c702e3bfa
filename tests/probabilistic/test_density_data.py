"""Data without targets (data=blobs, data=csv data.target=null) and the checks around density models."""
import numpy as np
import pytest
import torch
from sklearn.cluster import KMeans

from derivtrain.config import validate
from derivtrain.data import build_data
from derivtrain.data.blobs import make_blobs
from derivtrain.data.csv import load_csv
from derivtrain.errors import ConfigError
from tests.conftest import compose_config
from tests.probabilistic.helpers import run_in_process


def test_blobs_are_reproducible_unlabelled_clusters():
    settings = dict(n_samples=601, n_features=3, centers=4, cluster_std=0.5)
    table = make_blobs(**settings, seed=7)
    assert table.X.shape == (601, 3) and table.task == "density" and not table.y.any()
    np.testing.assert_array_equal(table.X, make_blobs(**settings, seed=7).X)
    assert not np.array_equal(table.X, make_blobs(**settings, seed=8).X)
    # four tight clusters: k-means with the right k leaves only the blobs' own spread
    inertia = KMeans(4, n_init=3, random_state=0).fit(table.X).inertia_
    assert inertia / len(table.X) == pytest.approx(3 * 0.5 ** 2, rel=0.15)


def test_blobs_with_given_centres():
    table = make_blobs(n_samples=2000, n_features=2, centers=[[0, 0], [10, 10]], cluster_std=0.1)
    near_first = np.linalg.norm(table.X, axis=1) < 1
    assert near_first.sum() == 1000  # rows are shared equally among the blobs
    np.testing.assert_allclose(table.X[~near_first].mean(0), [10, 10], atol=0.02)


@pytest.mark.parametrize("kwargs,match", [
    ({"centers": 0}, "data.centers=0 must be >= 1"),
    ({"centers": [[1, 2, 3]]}, "list of centres with data.n_features=2"),
    ({"cluster_std": 0}, "data.cluster_std=0 must be > 0"),
    ({"n_samples": 3}, "data.n_samples >= 10"),
])
def test_bad_blobs_settings(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        make_blobs(**kwargs)


def test_density_data_split_without_stratification_or_labels():
    data = build_data(compose_config("data=blobs", "data.n_samples=500").data, torch.device("cpu"), seed=0)
    assert data.spec.task == "density" and data.spec.classes == []
    assert (len(data.train), len(data.val), len(data.test)) == (350, 50, 100)
    assert not data.train.y.any() and data.train.y.dtype == torch.float32


def test_csv_without_a_target_is_a_density_problem(tmp_path):
    rows = make_blobs(n_samples=300, n_features=2, centers=2, seed=1).X
    path = tmp_path / "points.csv"
    path.write_text("a,b\n" + "".join(f"{x:.6f},{y:.6f}\n" for x, y in rows))
    table = load_csv(str(path), target=None)
    assert table.task == "density" and table.feature_names == ["a", "b"] and table.X.shape == (300, 2)
    fitted = run_in_process(tmp_path, "model=gmm", "model.n_components=2", "data=csv", f"data.path={path}",
                            "data.target=null")
    assert fitted.metrics["test/log_likelihood"] > -6 and fitted.model.feature_names_in_ == ["a", "b"]


@pytest.mark.parametrize("overrides,match", [
    (["model=gmm", "trainer.batch_size=32"], "optim=em uses the full training set in every iteration"),
    (["model=gmm", "optim.n_init=0"], "optim.n_init=0 must be > 0"),
    (["model=gmm", "optim.init=kmean"], "optim.init=kmean is not valid; did you mean kmeans"),
    (["model=logistic", "optim=newton", "optim.hessian=full"], "optim.hessian=full is not valid"),
    (["model=logistic", "optim=newton", "optim.dtype=float16"], "optim.dtype=float16 is not valid"),
    (["model=gmm", "optim.max_iter=0"], "optim.max_iter=0 must be > 0"),
    (["data=csv", "data.path=x.csv", "data.task=classification"], "data.task=classification needs a target column"),
])
def test_bad_fitting_settings_are_caught_before_any_tensor(overrides, match):
    with pytest.raises(ConfigError, match=match):
        validate(compose_config(*overrides))


@pytest.mark.parametrize("overrides,match", [
    (["model=logistic", "data=blobs"], "is for classification, but .* is a density problem; pick another model"),
    (["model=logistic", "optim=em"], "optim=em fits mixture models"),
    (["model=gmm", "loss=cross_entropy"], "is for classification, but .* is a density model; use loss=density"),
    (["model=gmm", "model.covariance_type=tied"], "model.covariance_type=tied is not valid"),
])
def test_mismatched_models_data_and_fitting(tmp_path, overrides, match):
    with pytest.raises(ConfigError, match=match):
        run_in_process(tmp_path, *overrides)


def test_labelled_data_suit_a_density_model(tmp_path):
    """model=gmm data=iris fits the features; the labels play no part."""
    fitted = run_in_process(tmp_path, "model=gmm", "data=iris")
    assert fitted.model.classes_ == [] and set(np.unique(fitted.model.predict(fitted.X_train_raw))) == {0, 1, 2}
