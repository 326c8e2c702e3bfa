"""Sparse standardization centres the columns far from 0 in float64 (derivtrain/data/sparse_centring.py)."""
import json

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch

from derivtrain.data.sparse_centring import CENTRED_FROM, sparse_means, standardized_csr
from derivtrain.data.standardize import fitted_scale, sparse_moments
from tests.conftest import run_main


def _with_raw_column(n=3000, d=40, seed=0):
    """Sparse rows whose column 0 is 3e7 + N(0, 1), stored in every row, the labels read off its noise."""
    rng = np.random.default_rng(seed)
    A = sp.random(n, d, density=0.2, format="lil", random_state=seed, dtype=np.float64)
    noise = rng.normal(size=n)
    A[:, 0] = (3e7 + noise)[:, None]
    A = A.tocsr()
    y = (2 * noise + A[:, 1:] @ rng.normal(size=d - 1) + 0.3 * rng.normal(size=n) > 0).astype(int)
    return A, y


def test_only_columns_far_from_zero_are_centred_and_they_are_stored_in_nearly_every_row():
    rng = np.random.default_rng(1)
    A = sp.random(2000, 300, density=0.05, format="csr", random_state=1, dtype=np.float64)
    full = sp.csr_matrix(np.column_stack([3e7 + rng.normal(size=2000),  # stored in every row
                                          np.where(rng.random(2000) < 0.99, 5.0, 0.0),  # 1 % zeros: 9.9 std
                                          np.where(rng.random(2000) < 0.5, 5.0, 0.0)]))  # half: 1 std
    A = sp.hstack([full, A]).tocsr()
    count, mean, m2 = sparse_moments(A)
    means = sparse_means(mean, fitted_scale(count, m2))
    assert np.flatnonzero(means).tolist() == [0, 1]
    # the bound the rule rests on: a column more than 4 std from 0 is stored in more than 16/17 of the rows
    centred_shares = []
    for p in np.linspace(0.05, 0.999, 40):
        for spread in (0.01, 0.5):  # stored values 3 +- spread
            column = rng.random(20000) < p
            values = np.where(column, 3 + spread * rng.normal(size=20000), 0.0)
            if abs(values.mean()) > CENTRED_FROM * values.std():
                centred_shares.append(column.mean())
    assert 0 < len(centred_shares) < 80 and min(centred_shares) > 16 / 17


def test_standardized_rows_equal_the_dense_standardization_and_keep_the_other_columns_sparse():
    A, _ = _with_raw_column(n=500, d=30)
    A[7, 0] = 0.0  # a row without the centred column: filled in
    A.eliminate_zeros()
    A = _with_duplicates(A, [(4, 3, 2.0), (4, 0, -1.0)])  # summed, as scipy's toarray sums them
    count, mean, m2 = sparse_moments(A)
    scale = fitted_scale(count, m2)
    means = sparse_means(mean, scale)
    X = standardized_csr(A, means, scale, torch.float64)
    np.testing.assert_allclose(X.to_dense().numpy(), (A.toarray() - means) / scale, rtol=0, atol=1e-12)
    column_0 = X.to_dense().numpy()[:, 0]
    assert abs(column_0.mean()) < 1e-9 and column_0[7] == pytest.approx(-means[0] / scale[0], rel=1e-12)
    summed = A.copy()
    summed.sum_duplicates()
    assert X.values().numel() == summed.nnz + 1  # the other columns keep their nonzeros: row 7's entry filled in
    rounded = standardized_csr(A, means, scale, torch.float32).to_dense()[:, 0].double().numpy()
    np.testing.assert_allclose(rounded, column_0, atol=1e-6)  # the noise survives float32


def _with_duplicates(A, entries):
    """A CSR matrix with more (row, column, value) entries stored beside A's, not summed into them."""
    rows = np.repeat(np.arange(A.shape[0]), np.diff(A.indptr))
    rows = np.concatenate([rows, [r for r, _, _ in entries]])
    columns = np.concatenate([A.indices, [c for _, c, _ in entries]])
    values = np.concatenate([A.data, [v for _, _, v in entries]])
    order = np.argsort(rows, kind="stable")
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=A.shape[0]))])
    return sp.csr_matrix((values[order], columns[order], indptr), shape=A.shape)


def test_a_raw_column_in_sparse_rows_fits_as_in_dense_rows(tmp_path):
    """Before: the sparse run fitted 3e7 / std +- 1 rounded to float32 (gap 0.998, accuracy 0.78 on
    100k rows); now its optimum, predictions and test accuracy are the dense run's."""
    A, y = _with_raw_column()
    sp.save_npz(tmp_path / "X.npz", A)
    np.save(tmp_path / "y.npy", y)
    frame = pd.DataFrame(A.toarray(), columns=[f"x{j}" for j in range(A.shape[1])]).assign(label=y)
    frame.to_csv(tmp_path / "dense.csv", index=False, float_format="%.17g")
    metrics, models = [], []
    sources = {"sparse": ("data=npz", f"data.path={tmp_path / 'X.npz'}", f"data.target={tmp_path / 'y.npy'}"),
               "dense": ("data=csv", f"data.path={tmp_path / 'dense.csv'}", "data.target=label")}
    for name, source in sources.items():
        proc = run_main(*source, "model=svm", "optim.tol=1e-7", "logger=none", f"hydra.run.dir={tmp_path / name}")
        assert proc.returncode == 0, proc.stderr
        metrics.append(json.loads((tmp_path / name / "metrics.json").read_text()))
        from derivtrain import load_run

        models.append(load_run(tmp_path / name))
    (sparse_run, dense_run), test = metrics, np.load(tmp_path / "sparse" / "split.npz")["test"]
    assert sparse_run["train/converged"] and dense_run["train/converged"]
    assert sparse_run["train/objective"] == pytest.approx(dense_run["train/objective"], rel=1e-5)
    assert sparse_run["test/accuracy"] == pytest.approx(dense_run["test/accuracy"], abs=1e-3)
    assert sparse_run["test/accuracy"] > 0.9
    agree = (models[0].predict(A[test]) == models[1].predict(A[test].toarray())).mean()
    assert agree >= 0.998
