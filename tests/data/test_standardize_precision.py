"""Features are centred and scaled in float64, then rounded: in memory, from a .npy read out of
core, and for sparse rows; at prediction, through the estimators and load_run's models. A column
1e7 + N(0, 1) keeps its information (cast to float32 first it keeps a handful of values)."""
import numpy as np
import pytest
import scipy.sparse as sp
import torch

import derivtrain
from derivtrain.data import build_data
from tests.conftest import compose_config


def offset_columns(n=400, seed=0):
    rng = np.random.default_rng(seed)
    return np.c_[1e7 + rng.normal(size=n), 3e7 + rng.normal(size=n), rng.normal(size=n)]


def exact(X, rows):
    """The float64 standardization of X by its `rows`' statistics (population std)."""
    mean, scale = X[rows].mean(axis=0), X[rows].std(axis=0)
    return (X - mean) / scale


def test_in_memory_rows_are_standardized_before_they_are_rounded(tmp_path):
    X = offset_columns()
    y = (X[:, 0] - 1e7 > 0).astype(int)
    path = tmp_path / "t.csv"
    np.savetxt(path, np.c_[X, y], delimiter=",", header="a,b,c,label", comments="", fmt="%.17g")
    cfg = compose_config("data=csv", f"data.path={path}", "data.target=label")
    for dtype in (torch.float32, torch.float64):
        data = build_data(cfg.data, torch.device("cpu"), seed=0, dtype=dtype)
        expected = exact(X, data.indices["train"])[data.indices["train"]]
        got = data.train.X.double().numpy()
        assert data.train.X.dtype == dtype
        # float32: off by float32's rounding of the standardized value, not of the raw 1e7
        tolerance = 4e-7 if dtype == torch.float32 else 1e-12
        np.testing.assert_allclose(got, expected, rtol=0, atol=tolerance * (1 + np.abs(expected)).max())
        assert len(np.unique(got[:, 0])) == len(got)  # cast first, the column kept ~6 distinct values


@pytest.mark.parametrize("file_dtype", [np.float32, np.float64])
def test_out_of_core_rows_are_centred_in_float64(tmp_path, file_dtype):
    X = offset_columns().astype(file_dtype)
    y = (np.arange(len(X)) % 2).astype(np.int64)
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    cfg = compose_config("data=npy", f"data.path={tmp_path / 'X.npy'}", f"data.target={tmp_path / 'y.npy'}",
                         "trainer.batch_size=64", "data.chunk_rows=100", "data.out_of_core=true")
    data = build_data(cfg.data, torch.device("cpu"), seed=0)
    X64 = X.astype(np.float64)  # the values the file holds
    expected = exact(X64, data.indices["train"])[data.indices["test"]]
    np.testing.assert_allclose(data.test.X[:].double().numpy(), expected, rtol=0, atol=1e-6)


def test_sparse_rows_are_scaled_in_float64(tmp_path):
    from sklearn.datasets import dump_svmlight_file

    rng = np.random.default_rng(5)
    dense = np.where(rng.random((300, 6)) < 0.3, rng.normal(size=(300, 6)) * 1e-3, 0.0)
    y = (np.arange(300) % 2).astype(int)
    dump_svmlight_file(sp.csr_matrix(dense), y, str(tmp_path / "s.svm"))
    cfg = compose_config("data=svmlight", f"data.path={tmp_path / 's.svm'}", "model=svm")
    data = build_data(cfg.data, torch.device("cpu"), seed=0, dtype=torch.float64)
    stored = dense.astype(np.float32).astype(np.float64)  # the reader's float32 values
    rows = data.indices["train"]
    scale = stored[rows].std(axis=0)
    np.testing.assert_allclose(data.train.X.to_dense().numpy(), stored[rows] / scale, rtol=1e-14)


def test_estimator_and_load_run_predict_from_raw_float64_features(tmp_path):
    X = offset_columns()
    y = (X[:, 1] - 3e7 + 0.3 * np.random.default_rng(1).normal(size=len(X)) > 0).astype(int)
    fitted = derivtrain.Logistic().fit(X, y)
    Z = exact(X, np.arange(len(X)))
    w = fitted.model_.linear.weight.detach().double().numpy().ravel() if hasattr(fitted, "model_") else None
    scores = fitted.decision_function(X)
    if w is not None:
        b = float(fitted.model_.linear.bias.detach().double())
        np.testing.assert_allclose(scores, Z @ w + b, rtol=0, atol=1e-9)
    # linear in the raw column: scores move by the same amount for each equal step of the raw value
    probe = np.repeat(X[:1], 5, axis=0)
    probe[:, 1] = 3e7 + np.arange(5) * 0.25
    steps = np.diff(fitted.decision_function(probe))
    np.testing.assert_allclose(steps, steps[0], rtol=1e-6)
