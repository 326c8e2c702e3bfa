"""optim=auto's proximal Newton (smooth loss under L1, independent score columns): optimal against exact
solvers, chosen only where it applies, and its L1 quadratic solved to its optimality conditions."""
import numpy as np
import pytest
import scipy.sparse as sp

import derivtrain
from derivtrain.trainer.l1_quadratic import feature_sign_search, solve_l1_quadratic


def lasso_optimum(X, y, strength, l1_ratio=1.0, weights=None):
    """min over (w, b) of sum_i c_i (y_i - x_i.w - b)^2 + strength (r ||w||_1 + (1 - r)/2 ||w||^2) by
    Clarabel (a QP in w, b and u >= |w|), c = weights / sum, written from the textbook formula."""
    import clarabel

    n, d = X.shape
    c = np.full(n, 1.0 / n) if weights is None else weights / weights.sum()
    A = np.c_[X, np.ones(n)]
    P = np.zeros((2 * d + 1, 2 * d + 1))
    P[:d + 1, :d + 1] = 2 * (A * c[:, None]).T @ A
    P[:d, :d] += strength * (1 - l1_ratio) * np.eye(d)
    q = np.r_[-2 * (A * c[:, None]).T @ y, np.full(d, strength * l1_ratio)]
    eye = np.eye(d)
    G = np.block([[eye, np.zeros((d, 1)), -eye], [-eye, np.zeros((d, 1)), -eye]])
    settings = clarabel.DefaultSettings()
    settings.verbose, settings.tol_gap_abs, settings.tol_gap_rel = False, 1e-12, 1e-12
    solution = clarabel.DefaultSolver(sp.csc_matrix(np.triu(P)), q, sp.csc_matrix(G), np.zeros(2 * d),
                                      [clarabel.NonnegativeConeT(2 * d)], settings).solve()
    return solution.obj_val + float(c @ y ** 2)


def _rows(n=400, d=12, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    X[:, 1:] += 0.8 * X[:, :-1]  # correlated neighbours: coordinate descent's slow case
    w = rng.standard_normal(d) * (rng.random(d) < 0.5)
    return X, X @ w + 0.5 * rng.standard_normal(n) + 3.0, rng


def _fit(X, y, capfd, weights=None, **params):
    """(the fitted estimator, whether optim=auto said it chose proximal Newton)."""
    est = derivtrain.Estimator(standardize=False, verbose=1, **params)
    capfd.readouterr()
    est.fit(X, y, sample_weight=weights)
    return est, "proximal Newton with coordinate descent" in capfd.readouterr().err


@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
@pytest.mark.parametrize("weighted", [False, True])
def test_lasso_and_elastic_net_reach_the_exact_optimum(capfd, l1_ratio, weighted):
    X, y, rng = _rows()
    weights = rng.uniform(0.2, 3.0, len(y)) if weighted else None
    strength = 0.05
    reg = dict(regularizer="l1", regularizer__strength=strength) if l1_ratio == 1 else \
        dict(regularizer="elastic_net", regularizer__strength=strength, regularizer__l1_ratio=l1_ratio)
    est, chosen = _fit(X, y, capfd, weights, model="linear", optim__tol=1e-10, **reg)
    optimum = lasso_optimum(X, y, strength, l1_ratio, weights)
    ours = est.metrics_["train/objective"]
    assert chosen and est.metrics_["train/converged"]
    assert abs(ours - optimum) <= 1e-9 * optimum and est.metrics_["train/optimality_gap"] <= 1e-10
    assert est.n_iter_ == 1  # a quadratic loss is its own model: one step lands on the optimum
    w = est.model_.linear.weight.detach().numpy().ravel()
    assert 0 < np.sum(w == 0) < len(w) or l1_ratio < 1  # exact zeros, not tiny numbers


def test_l1_logistic_matches_the_interior_point_and_its_certificate(capfd):
    X, signal, _ = _rows(n=600, d=10, seed=1)
    y = (signal > np.median(signal)).astype(int)
    params = dict(model="logistic", regularizer="l1", regularizer__strength=0.01, optim__tol=1e-9)
    ours, chosen = _fit(X, y, capfd, **params)
    with pytest.warns(Warning):  # the interior point's floor; see below
        theirs, other = _fit(X, y, capfd, optim="certified", **params)  # the interior-point method
    assert chosen and not other
    a, b = ours.metrics_["train/objective"], theirs.metrics_["train/objective"]
    # the certificate is a proof (gap <= 1e-9); the interior point, splitting |w| into two pieces,
    # stops at its rounding floor here (2.9e-6) with an objective no lower than ours
    assert ours.metrics_["train/optimality_gap"] <= 1e-9 and ours.metrics_["train/converged"]
    assert abs(a - b) <= 2e-9 * a and a <= b * (1 + 1e-12)


def test_chosen_only_where_it_applies(capfd):
    X, signal, _ = _rows(n=200, d=6)
    y = (signal > np.median(signal)).astype(int)
    assert not _fit(X, y, capfd, model="logistic")[1]  # L2: Newton
    assert not _fit(X, y, capfd, model="svm", regularizer="l1", regularizer__strength=0.01)[1]  # a kink
    three = np.digitize(signal, np.quantile(signal, [1 / 3, 2 / 3]))
    assert not _fit(X, three, capfd, model="logistic", regularizer="l1", regularizer__strength=0.01)[1]
    # 7 parameters past optim.max_dense: proximal Newton still, its Hessians over working sets of 4
    assert _fit(X, y, capfd, model="logistic", regularizer="l1", regularizer__strength=0.01, optim__max_dense=5)[1]


@pytest.mark.parametrize("seed", range(4))
def test_l1_quadratic_meets_its_optimality_conditions(seed):
    rng = np.random.default_rng(seed)
    p = 30
    B = rng.standard_normal((60, p))
    B[:, 1:] += 0.9 * B[:, :-1]
    H = B.T @ B / 60 + 1e-3 * np.eye(p)
    c = rng.standard_normal(p)
    lam = np.r_[np.full(p - 2, 0.3), 0.05, 0.0]  # per coordinate; the last free (a bias)
    l1 = lam > 0
    cold = solve_l1_quadratic(H, c, lam, np.zeros(p))  # from zero: coordinate descent and the support's solve
    start = np.where(rng.random(p) < 0.5, rng.standard_normal(p), 0.0)  # a start with weights: sign moves
    warm = feature_sign_search(H, c, lam, start)
    assert warm is not None
    for u in (cold, warm, solve_l1_quadratic(H, c, lam, start)):
        q = H @ u + c  # the smooth part's gradient
        on = l1 & (u != 0)
        np.testing.assert_allclose(q[on], -lam[on] * np.sign(u[on]), atol=1e-12)
        off = l1 & (u == 0)
        assert np.all(np.abs(q[off]) <= lam[off] * (1 + 1e-9)) and abs(q[-1]) <= 1e-12
    np.testing.assert_allclose(warm, cold, atol=1e-10)


def test_sign_moves_decline_a_singular_support():
    """Two equal columns: the support's system cannot be factored, so coordinate descent takes over."""
    H = np.array([[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    c, lam = np.array([-2.0, -2.0, 0.5]), np.array([0.1, 0.1, 0.0])
    assert feature_sign_search(H, c, lam, np.array([1.0, 1.0, 0.0])) is None
    u = solve_l1_quadratic(H, c, lam, np.array([1.0, 1.0, 0.0]))
    assert abs((H @ u + c)[2]) <= 1e-12 and abs(u[0] + u[1] - 1.9) <= 1e-9
