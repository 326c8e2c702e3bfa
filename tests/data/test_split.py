import numpy as np
import pytest
import torch

from derivtrain.data import build_data
from derivtrain.data.split import split_indices, standardizer
from tests.conftest import compose_config


def test_split_is_a_stratified_partition():
    y = np.repeat([0, 1, 2], [50, 30, 20])
    train, val, test = split_indices(y, test_size=0.2, val_size=0.1, seed=0, stratify=True)
    together = np.concatenate([train, val, test])
    assert sorted(together) == list(range(len(y)))  # every row exactly once
    for part, share in ((test, 0.2), (val, 0.1)):
        counts = np.bincount(y[part], minlength=3)
        np.testing.assert_array_equal(counts, np.round(share * np.array([50, 30, 20])))


def test_split_depends_on_seed_only():
    y = np.arange(100) % 2
    a = split_indices(y, 0.2, 0.1, seed=3, stratify=True)
    b = split_indices(y, 0.2, 0.1, seed=3, stratify=True)
    c = split_indices(y, 0.2, 0.1, seed=4, stratify=True)
    assert all(np.array_equal(x, z) for x, z in zip(a, b))
    assert not np.array_equal(a[2], c[2])


def test_standardizer_matches_sklearn_and_keeps_constant_columns():
    from sklearn.preprocessing import StandardScaler

    X = np.random.default_rng(0).normal(3, 2, size=(50, 4))
    X[:, 2] = 7.0
    mean, scale = standardizer(X)
    ref = StandardScaler().fit(X)
    np.testing.assert_allclose(mean, ref.mean_)
    np.testing.assert_allclose(scale, ref.scale_)


def test_build_data_fits_standardization_on_train_only():
    cfg = compose_config("data=wine")
    data = build_data(cfg.data, torch.device("cpu"), seed=0)
    assert data.spec.classes == [0, 1, 2] and data.spec.n_outputs == 3
    assert len(data.train) + len(data.val) + len(data.test) == 178
    # standardized train columns have mean 0 and std 1; test columns only approximately
    assert torch.allclose(data.train.X.mean(0), torch.zeros(13), atol=1e-5)
    assert torch.allclose(data.train.X.std(0, unbiased=False), torch.ones(13), atol=1e-4)
    assert not torch.allclose(data.test.X.mean(0), torch.zeros(13), atol=1e-3)
    assert data.train.y.dtype == torch.int64 and data.train.X.dtype == torch.float32


def test_val_size_zero_gives_no_validation_split():
    cfg = compose_config("data=iris", "data.val_size=0")
    data = build_data(cfg.data, torch.device("cpu"), seed=0)
    assert data.val is None and len(data.train) == 120


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_synthetic_data(task):
    cfg = compose_config("data=synthetic", f"data.task={task}", "data.n_samples=500", "data.n_features=7")
    data = build_data(cfg.data, torch.device("cpu"), seed=0)
    assert data.spec.task == task and data.spec.n_features == 7
    assert len(data.train) + len(data.val) + len(data.test) == 500
    again = build_data(cfg.data, torch.device("cpu"), seed=0)
    assert torch.equal(data.train.X, again.train.X)  # the data seed follows trainer.seed
