"""Sparse input (data=svmlight, data=npz): rows stay a torch CSR tensor from the file to the fit."""
import json

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.datasets import dump_svmlight_file, load_digits, load_svmlight_file

from derivtrain.data import build_data, sparse
from derivtrain.data.svmlight import _read, byte_share
from derivtrain.models.sparse_linear import sparse_linear
from tests.conftest import compose_config, run_main


def _matrix(n=60, d=25, density=0.2, seed=0):
    A = sp.random(n, d, density=density, format="csr", random_state=seed, dtype=np.float64)
    A[3] = 0  # an empty row
    A.eliminate_zeros()
    return A


def test_row_gathers_slices_and_products_equal_dense():
    A = _matrix()
    X, D = sparse.from_scipy(A, dtype=torch.float64), torch.from_numpy(A.toarray())
    idx = torch.tensor([5, 3, 3, 0, 59, 7])
    assert sparse.is_sparse(X) and X.col_indices().dtype == torch.int32
    assert torch.equal(sparse.take_rows(X, idx).to_dense(), D[idx])
    assert torch.equal(sparse.rows_between(X, 2, 9).to_dense(), D[2:9])
    assert torch.equal(sparse.rows_between(X, 50, 99).to_dense(), D[50:])  # clamped like a slice
    for K in (1, 3):  # one column or row: scipy's matrix-vector products; more: its matrix products, or torch's
        G, W = torch.randn(60, K, dtype=torch.float64), torch.randn(K, 25, dtype=torch.float64)
        torch.testing.assert_close(sparse.backproject(G, X), G.T @ D)
        torch.testing.assert_close(sparse.times_transposed(X, W), D @ W.T)
        torch.testing.assert_close(sparse.times_transposed(D, W), D @ W.T)  # dense rows: the plain product
        in_float32 = sparse.times_transposed(sparse.astype(X, torch.float32), W.float())
        assert in_float32.dtype == torch.float32 and in_float32.shape == (60, K)
        torch.testing.assert_close(in_float32, (D @ W.T).float())
    with_ones = torch.cat([D, torch.ones(60, 1).double()], 1)
    for appended in (sparse.with_ones_column(X), sparse._with_ones_column_torch(X)):  # (the second: a GPU's)
        assert torch.equal(appended.to_dense(), with_ones) and appended.col_indices().dtype == torch.int32
    w = torch.rand(60, dtype=torch.float64)
    torch.testing.assert_close(sparse.gram(X, w), D.T @ (D * w[:, None]))
    torch.testing.assert_close(sparse.squared(X).to_dense(), D.square())


def test_the_scipy_view_is_kept_on_the_tensor_and_sees_its_values():
    A = _matrix()
    X, doubled = sparse.from_scipy(A.copy(), dtype=torch.float64), 2 * A.toarray()
    view = sparse.to_scipy(X)
    assert sparse.to_scipy(X) is view and np.shares_memory(view.data, X.values().numpy())
    X.values().mul_(2.0)  # in place: the kept view is X's own memory
    np.testing.assert_array_equal(sparse.to_scipy(X).toarray(), doubled)
    other = sparse.astype(X, torch.float32)  # a new tensor: its own view
    assert sparse.to_scipy(other) is not view and sparse.to_scipy(other).dtype == np.float32
    gathered = sparse.take_rows(X, torch.tensor([4, 0, 4]))  # made from scipy's gather: that matrix is its view
    kept = sparse.to_scipy(gathered)
    assert np.shares_memory(kept.data, gathered.values().numpy()) and sparse.to_scipy(gathered) is kept
    np.testing.assert_array_equal(kept.toarray(), doubled[[4, 0, 4]])


def test_sparse_linear_layer_has_the_dense_derivatives_and_their_derivatives():
    X = sparse.from_scipy(_matrix(12, 6, density=0.4), dtype=torch.float64)
    weight = torch.randn(2, 6, dtype=torch.float64, requires_grad=True)
    bias = torch.randn(2, dtype=torch.float64, requires_grad=True)
    layer = lambda w, b: sparse_linear(X, type("Linear", (), {"weight": w, "bias": b})())
    torch.autograd.gradcheck(layer, (weight, bias))
    torch.autograd.gradgradcheck(lambda w, b: layer(w, b).square(), (weight, bias))  # Newton differentiates twice


@pytest.fixture(scope="module")
def digits_svmlight(tmp_path_factory):
    """Digits (pixels: ~50 % zeros) as a one-based svmlight file and as CSR + labels."""
    folder = tmp_path_factory.mktemp("digits")
    X, y = load_digits(return_X_y=True)
    dump_svmlight_file(X, y, str(folder / "digits.svm"), zero_based=False)
    return folder / "digits.svm", sp.csr_matrix(X), y


def test_reader_equals_scikit_learns_and_byte_shares_cover_every_row_once(digits_svmlight):
    path, X, y = digits_svmlight
    for world in (1, 2, 3):
        parts = [_read(f, offset, length, str(path)) for r in range(world)
                 for f, offset, length in byte_share([path], r, world)]
        assert sum(A.shape[0] for A, _ in parts) == len(y)
        np.testing.assert_array_equal(np.concatenate([labels for _, labels in parts]), y)
    cfg = compose_config("data=svmlight", f"data.path={path}", "model=svm")
    data = build_data(cfg.data, torch.device("cpu"), seed=0)
    reference, _ = load_svmlight_file(str(path))  # one-based: scikit-learn's auto agrees
    assert data.spec.n_features == reference.shape[1] == 64 and data.spec.classes == list(range(10))


def test_standardization_scales_without_centering_like_standard_scaler(digits_svmlight):
    from sklearn.preprocessing import StandardScaler

    path, X, y = digits_svmlight
    cfg = compose_config("data=svmlight", f"data.path={path}", "model=svm")
    data = build_data(cfg.data, torch.device("cpu"), seed=0)
    train = data.indices["train"]
    scaler = StandardScaler(with_mean=False).fit(X[train])
    assert sparse.is_sparse(data.train.X) and not data.feature_mean.any()
    np.testing.assert_allclose(data.feature_scale.numpy(), scaler.scale_, rtol=1e-6)
    np.testing.assert_allclose(data.train.X.to_dense().numpy(), scaler.transform(X[train]).toarray(), atol=1e-5)


def _sparse_and_dense(cfg):
    from dataclasses import replace

    data = build_data(cfg.data, torch.device("cpu"), seed=0)
    dense = replace(data, **{name: replace(getattr(data, name), X=getattr(data, name).X.to_dense())
                             for name in ("train", "val", "test")})
    return data, dense


# L2 logistic and the squared hinge: Newton, on sparse rows by Jacobi-preconditioned truncated CG,
# on dense ones by a Cholesky factor; the hinge and L1: the interior point
@pytest.mark.parametrize("model, overrides",
                         [("svm", ()), ("logistic", ("regularizer=l1", "regularizer.strength=0.01")),
                          ("logistic", ()), ("svm", ("loss=squared_hinge",))])
def test_certified_solver_on_sparse_rows_finds_the_dense_rows_optimum(tmp_path, model, overrides):
    from derivtrain.logging import NullLogger
    from derivtrain.run import build_objective
    from derivtrain.trainer.certified import fit_certified
    from derivtrain.trainer.fitting import make_context

    X, y = load_digits(return_X_y=True)
    pair = (y == 3) | (y == 8)  # two digits alike enough that the margin is not trivial
    dump_svmlight_file(X[pair], y[pair], str(tmp_path / "pair.svm"))
    cfg = compose_config("data=svmlight", f"data.path={tmp_path / 'pair.svm'}", f"model={model}", "optim.tol=1e-6",
                         *overrides)
    weights = []
    for data in _sparse_and_dense(cfg):
        objective = build_objective(cfg, data)
        result = fit_certified(make_context(cfg, objective, data, NullLogger()))
        assert result.converged  # the solver's own certificate (metrics re-measure float32 weights)
        weights.append((objective.model.linear.weight.detach(), result.metrics["train/objective"]))
    (w_sparse, f_sparse), (w_dense, f_dense) = weights
    assert f_sparse == pytest.approx(f_dense, rel=1e-6)
    torch.testing.assert_close(w_sparse, w_dense, atol=2e-3, rtol=0)


def test_jacobi_preconditioned_cg_on_many_features_matches_scikit_learn(tmp_path):
    """3000 features (past a dense block's 2048): CG with H's diagonal; the optimum is scikit-learn's."""
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    X = sp.random(800, 3000, density=0.01, format="csr", random_state=2, dtype=np.float64)
    y = (X @ rng.normal(size=3000) > 0).astype(int)
    sp.save_npz(tmp_path / "X.npz", X)
    np.save(tmp_path / "y.npy", y)
    run = tmp_path / "run"
    alpha = 1e-3
    proc = run_main("data=npz", f"data.path={tmp_path / 'X.npz'}", f"data.target={tmp_path / 'y.npy'}",
                    "model=logistic", f"regularizer.strength={alpha}", "optim.hessian=cg", "optim.tol=1e-8",
                    "data.val_size=0", "logger=none", f"hydra.run.dir={run}")
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["train/converged"]
    from derivtrain import load_run

    model = load_run(run)
    train = np.load(run / "split.npz")["train"]
    Xs = X[train] / model.feature_scale.numpy()  # scaled, not centred
    reference = LogisticRegression(C=1 / (alpha * len(train)), tol=1e-10, max_iter=5000).fit(Xs, y[train])
    ours = model.linear.weight.detach().double().numpy().ravel()
    np.testing.assert_allclose(ours, reference.coef_.ravel(), atol=2e-3)
    assert metrics["train/accuracy"] == pytest.approx(reference.score(Xs, y[train]), abs=2e-3)


def test_minibatch_training_from_svmlight_through_the_cli(digits_svmlight, tmp_path):
    path, X, y = digits_svmlight
    run = tmp_path / "run"
    proc = run_main("data=svmlight", f"data.path={path}", "model=svm", "optim=sgd", "trainer.batch_size=64",
                    "trainer.max_epochs=5", "logger=none", f"hydra.run.dir={run}")
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["test/accuracy"] >= 0.9
    from derivtrain import load_run

    model = load_run(run)
    test = np.load(run / "split.npz")["test"]
    assert (model.predict(X[test]) == y[test]).mean() == pytest.approx(metrics["test/accuracy"], abs=1e-6)


def test_a_float64_npz_is_scaled_from_its_own_numbers(tmp_path):
    """The loader keeps the saved values: standardization scales them in float64 and rounds once, so
    the float64 rows the certified solver trains on are the file's numbers scaled, values float32
    would have merged kept apart."""
    A = sp.random(300, 4, density=0.5, format="csr", random_state=1, dtype=np.float64)
    A.data = 1 + A.data * 1e-9  # float32 holds all of these as 1.0
    sp.save_npz(tmp_path / "X.npz", A)
    np.save(tmp_path / "y.npy", np.random.default_rng(0).integers(0, 2, 300))
    cfg = compose_config("model=svm", "data=npz", f"data.path={tmp_path / 'X.npz'}",
                         f"data.target={tmp_path / 'y.npy'}")
    data = build_data(cfg.data, torch.device("cpu"), seed=0, dtype=torch.float64)
    rows = A[data.indices["train"]].toarray()
    expected = rows * (1 / data.feature_scale.numpy())
    np.testing.assert_array_equal(data.train.X.to_dense().numpy(), expected)
    stored = np.unique(data.train.X.values().numpy())
    assert len(stored) > 100 and len(np.unique(rows[rows != 0].astype(np.float32))) == 1
