"""The least-squares path on the Gram matrix (derivtrain/path/gram_path.py): its points against
exact solves that are not derivtrain's, its gap-safe screening against unscreened exact solves,
its batched folds against paths solved alone, and its validation metrics against evaluate()."""
import numpy as np
import pytest
import torch
from sklearn.linear_model import ElasticNet, Lasso

from derivtrain.logging import NullLogger
from derivtrain.path.gram_path import GramPath
from derivtrain.path.gram_points import fold_points
from derivtrain.path.folds import fold_data
from derivtrain.path.solve import set_point
from derivtrain.trainer.fitting import make_context
from derivtrain.trainer.metrics import evaluate
from tests.path.helpers import solved_path, train_arrays
from tests.path.test_points import assert_optimal


def test_ridge_path_points_are_the_closed_form_optima(tmp_path):
    points, session = solved_path(tmp_path, "model=linear", "data=diabetes", "regularizer.path=auto",
                                  "regularizer.path_points=6", "optim.tol=1e-9")
    X, y = train_arrays(session)
    A = np.c_[X, np.ones(len(X))]
    for point in points:
        # mean (A t - y)^2 + alpha/2 ||w||^2: (2/n A^T A + alpha I_w) t = 2/n A^T y
        M = 2 / len(X) * A.T @ A + point.strength * np.diag(np.r_[np.ones(X.shape[1]), 0.0])
        t = np.linalg.solve(M, 2 / len(X) * A.T @ y)
        optimum = np.mean((A @ t - y) ** 2) + point.strength / 2 * t[:-1] @ t[:-1]
        assert_optimal(point, optimum, tol=1e-9)


def _wide_session(tmp_path, *overrides):
    from derivtrain.config.plan import make_plan
    from derivtrain.run import set_up
    from tests.conftest import compose_config

    cfg = compose_config("model=linear", "data=synthetic", "data.task=regression", "data.n_samples=300",
                         "data.n_features=60", "data.n_informative=6", *overrides, "logger=none")
    session = set_up(make_plan(cfg), tmp_path / "run")
    return session, make_context(cfg, session.objective, session.data, NullLogger())


@pytest.mark.parametrize("penalty", [["regularizer=l1"], ["regularizer=elastic_net", "regularizer.l1_ratio=0.7"]])
def test_a_screened_weight_is_zero_in_the_unscreened_exact_solve(tmp_path, penalty):
    """60 features (past the Gram path's _SCREEN_FROM), 20 strengths over 2 decades: each point's
    screened weights against scikit-learn's coordinate descent on the same rows without screening
    (its zeros are exact: soft thresholding), and the screened point's own gap."""
    session, ctx = _wide_session(tmp_path, *penalty, "optim.tol=1e-10")
    X, y = train_arrays(session)
    y = (y - session.data.target_mean) / session.data.target_scale  # the fitted problem's targets
    path = GramPath(ctx)
    assert path.screens
    residual, dropped = path.residuals(path.T[None]), 0
    top = np.abs(2 * X.T @ (y - y.mean()) / len(y)).max()
    for alpha in np.geomspace(top, top * 1e-2, 20):
        session.objective.penalty.strength = alpha
        l1, l2 = path.strengths()
        path.solve(l1, l2, residual)
        residual = path.residuals(path.T[None])
        # ours / 2 = 1/(2n) ||r||^2 + l1/2 ||w||_1 + l2/4 ||w||^2: scikit-learn's (Elastic)Net
        exact = (Lasso(alpha=l1 / 2, tol=1e-14, max_iter=100_000) if l2 == 0 else
                 ElasticNet(alpha=l1 / 2 + l2 / 2, l1_ratio=l1 / (l1 + l2), tol=1e-14, max_iter=100_000)).fit(X, y)
        assert np.all(exact.coef_[path.dropped] == 0), alpha
        assert np.all(path.T[:-1][path.dropped] == 0)
        dropped += int(path.dropped.sum())
        primal, _, dual, rounding = residual.bound(np.array([l1]), np.array([l2]))
        assert (primal[0] - dual[0] + rounding[0]) / primal[0] <= 1e-10
    if penalty == ["regularizer=l1"]:  # it pays: a third of the lasso's weights left out of the solves (the
        # elastic net's dual points are further from its optimum: the same rule drops fewer)
        assert dropped > 20 * 60 // 3, dropped
    assert dropped > 0


def test_folds_solved_in_step_match_folds_solved_alone(tmp_path):
    session, ctx = _wide_session(tmp_path, "regularizer=l1", "data.n_features=8", "data.n_informative=4")
    from dataclasses import replace

    contexts = [replace(ctx, data=data) for data in fold_data(session.data, 4, 0)]
    top = 2.0
    grid = list(np.geomspace(top, top * 1e-3, 15))
    together = fold_points(contexts, [grid] * 4)
    for context, points in zip(contexts, together):
        alone = fold_points([context], [grid])[0]
        for a, b in zip(points, alone):
            assert a.converged and b.converged
            np.testing.assert_allclose(a.weights.numpy(), b.weights.numpy(), rtol=1e-9, atol=1e-12)
            assert a.metrics["val/mse"] == pytest.approx(b.metrics["val/mse"], rel=1e-12)


def test_validation_metrics_are_evaluates(tmp_path):
    session, ctx = _wide_session(tmp_path, "regularizer=elastic_net", "data.n_features=8", "data.n_informative=4")
    from dataclasses import replace

    fold = replace(ctx, data=fold_data(session.data, 3, 0)[0])
    for point in fold_points([fold], [[1.0, 0.1, 0.01]])[0]:
        set_point(session.objective.model.linear, point)
        expected = evaluate(session.objective, fold.data.val, fold.targets(fold.data.val), "val", 0)
        for key in ("val/loss", "val/mse", "val/r2"):
            assert point.metrics[key] == pytest.approx(expected[key], rel=1e-9), key
        assert torch.equal(point.weights[:, :-1] != 0, session.objective.model.linear.weight.double() != 0)
