"""Proximal Newton over working sets (derivtrain/trainer/working_set.py): the optimum scikit-learn's
solvers reach at tight tolerances, on sparse tf-idf-like rows wide enough for working sets and on
bundled datasets with the sets forced on, the same as with every feature in every step; and the
set rule itself."""
import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.linear_model import ElasticNet, Lasso, LogisticRegression

import derivtrain
from derivtrain.trainer import working_set
from derivtrain.trainer.working_set import choose

PARAMS = {"lasso": dict(model="linear", regularizer="l1"), "l1_logistic": dict(model="logistic", regularizer="l1"),
          "elastic_net": dict(model="linear", regularizer="elastic_net", regularizer__l1_ratio=0.5)}


def tfidf_rows(n=3000, d=600, per_row=20, seed=0):
    """Rows like a bag of words (as scripts/bench_field.py's, smaller): Zipf column frequencies, log
    counts times idf, unit norm; a sparse linear signal with noise."""
    rng = np.random.default_rng(seed)
    frequency = 1.0 / np.arange(1, d + 1) ** 1.1
    cols = rng.choice(d, size=n * per_row, p=frequency / frequency.sum())
    X = sp.csr_matrix((np.ones(n * per_row), (np.repeat(np.arange(n), per_row), cols)), shape=(n, d))
    X.data = np.log1p(X.data) * np.log(n / (1 + np.bincount(X.indices, minlength=d)))[X.indices]
    X = sp.diags(1 / np.sqrt(np.asarray(X.multiply(X).sum(axis=1))).ravel()) @ X
    w = rng.standard_normal(d) * (rng.random(d) < 0.1)
    return X.tocsr(), X @ w * 10 + rng.standard_normal(n)


def fit_rows(problem, X, y, strength, tol=1e-10, **params):
    """(W, b) of optim=auto's fit, sparse rows kept a torch CSR tensor (as data=npz keeps them);
    params: the Estimator's other parameters."""
    from derivtrain.data import sparse
    from derivtrain.estimator.arrays import training_data
    from derivtrain.estimator.fitting import fit_model

    est = derivtrain.Estimator(standardize=False, regularizer__strength=strength, optim__tol=tol, **PARAMS[problem],
                               **params)
    dense = isinstance(X, np.ndarray)
    if dense:
        est._fit_data(X, y, est._task())
    shape_only = X if dense else np.zeros((1, X.shape[1]))
    spec, encoded, _ = est._targets(shape_only, y, est._task(), None)
    data = training_data(shape_only, encoded, None, spec, False, torch.device("cpu"))
    if not dense:
        data.train.X = sparse.from_scipy(X, dtype=torch.float64)
    model, _ = fit_model(est._config(), data)
    return model.linear.weight.detach().double().numpy().ravel(), float(model.linear.bias.detach())


def objective(problem, X, y, strength, w, b) -> float:
    z = X @ w + b
    if problem == "l1_logistic":
        return float(np.mean(np.logaddexp(0.0, -(2 * y - 1) * z)) + strength * np.abs(w).sum())
    if problem == "elastic_net":  # l1_ratio 0.5
        return float(np.mean((y - z) ** 2) + strength * (0.5 * np.abs(w).sum() + 0.25 * w @ w))
    return float(np.mean((y - z) ** 2) + strength * np.abs(w).sum())


def reference(problem, X, y, strength):
    """scikit-learn's fit of the same objective at a tight tolerance: Lasso's is half derivtrain's
    squared error (alpha = strength / 2; ElasticNet's the same, with l1_ratio), LogisticRegression's
    C sum loss + ||w||_1 (C = 1 / (strength n))."""
    if problem == "elastic_net":
        m = ElasticNet(alpha=strength / 2, l1_ratio=0.5, tol=1e-14, max_iter=200_000).fit(X, y)
        return m.coef_.ravel(), float(m.intercept_)
    if problem == "lasso":
        m = Lasso(alpha=strength / 2, tol=1e-14, max_iter=200_000).fit(X, y)
        return m.coef_.ravel(), float(m.intercept_)
    m = LogisticRegression(l1_ratio=1.0, solver="saga", C=1 / (strength * X.shape[0]), tol=1e-12,
                           max_iter=200_000).fit(X, y)
    return m.coef_.ravel(), float(m.intercept_[0])


@pytest.fixture
def set_sizes(monkeypatch):
    """The working sets' sizes each step took (None: every feature)."""
    sizes = []

    def spy(*args):
        sets = choose(*args)
        sizes.extend(None if s is None else len(s) for s in sets)
        return sets

    monkeypatch.setattr("derivtrain.trainer.prox_newton.choose", spy)
    return sizes


@pytest.mark.parametrize("problem, strength", [("lasso", 1e-2), ("l1_logistic", 2e-3), ("elastic_net", 1e-2)])
def test_sparse_wide_rows_reach_scikit_learns_optimum(set_sizes, problem, strength):
    X, signal = tfidf_rows()
    y = (signal > np.median(signal)).astype(np.int64) if problem == "l1_logistic" else signal
    w, b = fit_rows(problem, X, y, strength)
    ours = objective(problem, X, y, strength, w, b)
    theirs = objective(problem, X, y, strength, *reference(problem, X, y, strength))
    assert ours <= theirs * (1 + 1e-10) and ours == pytest.approx(theirs, rel=1e-8)
    assert 0 < np.count_nonzero(w) < X.shape[1] / 4
    assert set_sizes and all(size is not None and size < X.shape[1] / 2 for size in set_sizes)  # sets, not all 600


def _bundled(name):
    if name == "digits":
        X, label = load_digits(return_X_y=True)
        scale = X.std(0)
        X = (X - X.mean(0)) / np.where(scale > 0, scale, 1.0)
        return X, label.astype(np.float64), (label % 2).astype(np.int64)
    X, label = load_breast_cancer(return_X_y=True)
    X = (X - X.mean(0)) / X.std(0)
    return X, X[:, 0] + X[:, 3] - X[:, 7], label


@pytest.mark.parametrize("name", ["digits", "breast_cancer"])
@pytest.mark.parametrize("problem, strength", [("lasso", 1e-2), ("l1_logistic", 1e-2)])
def test_working_sets_on_bundled_data_reach_the_all_feature_optimum(monkeypatch, set_sizes, name, problem, strength):
    X, value, label = _bundled(name)
    y = value if problem == "lasso" else label
    theirs = objective(problem, X, y, strength, *reference(problem, X, y, strength))
    fits = {}
    with monkeypatch.context() as every:  # every feature in every step: the solver before working sets
        every.setattr("derivtrain.trainer.prox_newton.choose", lambda W, grad, lam, most: [None] * len(W))
        fits["every"] = objective(problem, X, y, strength, *fit_rows(problem, X, y, strength))
    fits["uncapped"] = objective(problem, X, y, strength, *fit_rows(problem, X, y, strength))  # d <= 100
    monkeypatch.setattr(working_set, "_WHOLE_UP_TO", 0)  # capped sets from 3 features, as a wide problem's
    monkeypatch.setattr(working_set, "_FIRST", 3)
    set_sizes.clear()
    fits["capped"] = objective(problem, X, y, strength, *fit_rows(problem, X, y, strength))
    assert any(size is not None and size < X.shape[1] for size in set_sizes)  # steps over fewer than every feature
    for ours in fits.values():
        assert ours == pytest.approx(fits["every"], rel=1e-9) and ours <= theirs * (1 + 1e-10)
        assert ours == pytest.approx(theirs, rel=1e-7)


def test_a_set_holds_the_support_and_the_worst_violators_first():
    d = 400
    W = np.zeros((1, d))
    W[0, [5, 17]] = (1.0, -2.0)
    grad = np.zeros((1, d))
    grad[0, :30] = np.linspace(0.5, 3.0, 30)  # |grad_j| - lam_j > 0 from feature 6 on (lam 1)
    lam = np.ones((1, d))
    (chosen,) = choose(W, grad, lam)
    assert set(chosen) == {5, 17} | set(range(6, 30))  # the support and every violator: 23, few of them
    many = grad.copy()
    many[0, 30:300] = np.linspace(1.001, 1.002, 270)  # 293 violators, more than 4 sqrt(400) = 80
    (chosen,) = choose(W, many, lam)
    assert {5, 17} <= set(chosen)  # the support, whatever its gradient
    assert len(chosen) == 2 + 80  # the support and at most 4 sqrt(d) violators
    assert set(chosen) - {5, 17} == set(range(6, 30)) - {17} | set(range(300 - 57, 300))  # the largest
    few = grad.copy()
    few[0, 7:30] = 0.5  # one zero violates; the satisfied zeros do not join, whatever _FIRST
    assert set(choose(W, few, lam)[0]) == {5, 6, 17}
    (few,) = choose(W[:, :50], grad[:, :50], lam[:, :50])  # few features: not capped
    assert set(few) == {5, 17} | set(range(6, 30))
    grad[0] = 0.5  # no zero weight violates: the support alone
    assert set(choose(W, grad, lam)[0]) == {5, 17}
    assert choose(W[:, :50], np.full((1, 50), 2.0), lam[:, :50]) == [None]  # every feature: None
    assert choose(np.zeros((1, 50)), grad[:, :50], lam[:, :50]) == [None]  # few features, from w = 0: all
    W[0, [40, 41, 42]] = 1.0
    grad[0, [40, 41, 42]] = (-0.5, -3.0, -1.0)  # |grad_j + lam_j sign(w_j)|: 0.5, 2, 0 (and 1.5, 0.5 for 5, 17)
    grad[0, 100] = 9.0  # a zero weight violating most: after every non-zero weight all the same
    (capped,) = choose(W, grad, lam, 2)  # optim.max_dense - 1 = 2: the two non-zeros furthest off
    assert set(capped) == {5, 41}
    assert set(choose(W, grad, lam, 6)[0]) == {5, 17, 40, 41, 42, 100}


def test_rows_wider_than_max_dense_take_proximal_newton_over_capped_sets(set_sizes):
    """optim=auto's one-point fit takes proximal Newton past optim.max_dense features (the interior
    point's CG took 18.9 s on 20k x 5,000 tf-idf rows): no set exceeds max_dense - 1 features, and
    the fit reaches scikit-learn's optimum, certified."""
    X, signal = tfidf_rows()
    y = (signal > np.median(signal)).astype(np.int64)
    strength = 2e-3
    theirs = objective("l1_logistic", X, y, strength, *reference("l1_logistic", X, y, strength))
    ours = objective("l1_logistic", X, y, strength, *fit_rows("l1_logistic", X, y, strength, optim__max_dense=41))
    assert set_sizes and all(size is not None and size <= 40 for size in set_sizes)
    assert ours <= theirs * (1 + 1e-10) and ours == pytest.approx(theirs, rel=1e-8)


def test_torch_products_where_numpy_cannot_read_the_rows(monkeypatch, set_sizes):
    """A GPU's rows (or float32 arithmetic) go through torch's products: the same optimum, working
    sets included (forced on digits' 64 features)."""
    X, value, _ = _bundled("digits")
    before = objective("lasso", X, value, 1e-2, *fit_rows("lasso", X, value, 1e-2))
    init = working_set.Columns.__init__

    def torch_only(self, X):
        init(self, X)
        self.dense = self.csc = None

    monkeypatch.setattr(working_set.Columns, "__init__", torch_only)
    monkeypatch.setattr(working_set, "_WHOLE_UP_TO", 0)
    set_sizes.clear()
    after = objective("lasso", X, value, 1e-2, *fit_rows("lasso", X, value, 1e-2))
    assert after == pytest.approx(before, rel=1e-9)
    assert any(size is not None and size < X.shape[1] for size in set_sizes)


def test_hessian_blocks_from_float32_rows_match_the_exact_ones_and_fall_back_when_memory_is_short(monkeypatch):
    """A rounded block (float32 rows, float64 sums) is the float64 block to float32's rounding; where
    a column sits far from zero for its spread, or a float32 copy would take over a quarter of the
    memory available, the float64 rows serve."""
    X = torch.as_tensor(load_breast_cancer().data, dtype=torch.float64)
    X = (X - X.mean(0)) / X.std(0)
    D = torch.rand(len(X), dtype=torch.float64)
    index = np.arange(0, X.shape[1], 2)
    for cols in (None, index):
        exact = working_set.Columns(X).block(cols, D, rounded=False)
        rounded = working_set.Columns(X).block(cols, D)
        assert not torch.equal(exact, rounded)  # the rounded rows were read
        assert torch.allclose(exact, rounded, rtol=0, atol=1e-6 * float(exact.abs().max()))
    raw = X.clone()
    raw[:, 1] += 3e7  # a raw feature far from zero for its spread: float32 would keep none of its variation
    offset = working_set.Columns(raw)
    assert offset.hessian_rows() is offset.dense
    monkeypatch.setattr("derivtrain.data.memory.available_memory", lambda: 4 * X.numel())
    short = working_set.Columns(X)
    assert short.hessian_rows() is short.dense
    assert torch.equal(short.block(None, D), working_set.Columns(X).block(None, D, rounded=False))
