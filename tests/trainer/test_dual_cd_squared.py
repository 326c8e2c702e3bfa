"""Dual coordinate descent for the squared hinge on sparse rows (derivtrain/trainer/dual_cd.py, LIBLINEAR's
L2-loss dual: no upper bound on beta, alpha / (2 c_i) on the dual's diagonal): the optimum an independent
solver reaches (Clarabel on the quadratic program, tests/exact.py), with sample weights (rows of weight 0
among them) and one-vs-rest columns; optim=auto gives it sparse rows and leaves dense ones to Newton."""
import numpy as np
import pytest

from derivtrain.trainer import dual_cd_choice
from tests.exact import squared_hinge_optimum
from tests.trainer.test_dual_cd import binary_rows, fit_svm, fits, hinge_objective  # noqa: F401 (fits: a fixture)
from tests.trainer.test_prox_working_set import tfidf_rows

pytest.importorskip("numba")


def test_binary_squared_hinge_reaches_the_exact_optimum(fits, capfd):  # noqa: F811
    X, labels = binary_rows()
    W, b, result = fit_svm(X, labels, 1e-3, loss="squared_hinge")
    assert len(fits) == 1 and result.converged and result.stopped_by == "certificate"
    assert "dual coordinate descent (the squared hinge under L2 on sparse rows" in capfd.readouterr().err
    exact = squared_hinge_optimum(X.toarray(), labels, 1, 1e-3)
    reached = hinge_objective(X, labels, 1e-3, W, b, power=2)
    assert abs(reached - exact) <= 1e-7 * exact
    assert result.certificate.relative_gap <= 1e-9
    assert (reached - exact) / reached <= result.certificate.relative_gap + 1e-9


def test_weighted_one_vs_rest_squared_hinge_reaches_the_exact_optimum(fits):  # noqa: F811
    X, signal = tfidf_rows(n=450, d=120, per_row=15, seed=1)
    labels = np.digitize(signal, np.quantile(signal, [1 / 3, 2 / 3])).astype(np.int64)
    weights = np.random.default_rng(0).integers(0, 3, len(labels)).astype(float)  # rows of weight 0 among them
    W, b, result = fit_svm(X, labels, 1e-3, loss="squared_hinge", sample_weight=weights)
    assert len(fits) == 1 and W.shape[0] == 3 and result.converged
    exact = squared_hinge_optimum(X.toarray(), labels, 3, 1e-3, weights=weights)
    assert abs(hinge_objective(X, labels, 1e-3, W, b, weights, power=2) - exact) <= 1e-7 * exact


def test_epochs_that_run_out_stop_with_an_honest_certificate(fits):  # noqa: F811
    X, labels = binary_rows()
    with pytest.warns(UserWarning, match=r"iteration cap \(trainer__max_epochs=2\)"):
        W, b, result = fit_svm(X, labels, 1e-3, loss="squared_hinge", trainer__max_epochs=2)
    assert len(fits) == 1 and result.stopped_by == "iteration_cap" and result.epochs == 2
    exact = squared_hinge_optimum(X.toarray(), labels, 1, 1e-3)
    reached = hinge_objective(X, labels, 1e-3, W, b, power=2)
    assert result.certificate.relative_gap >= (reached - exact) / reached > 1e-6


def test_optim_auto_gives_it_sparse_rows_alone(monkeypatch):
    from derivtrain.trainer import dual_cd

    X, labels = binary_rows()
    monkeypatch.setattr(dual_cd_choice, "_NONZEROS", 0)
    monkeypatch.setattr(dual_cd_choice, "_DENSE_WORK", 0)
    chosen, real = [], dual_cd.fit_dual_cd
    monkeypatch.setattr(dual_cd, "fit_dual_cd", lambda ctx: chosen.append(ctx) or real(ctx))
    fit_svm(X.toarray(), labels, 1e-3, loss="squared_hinge")  # dense: Newton's closed-form steps
    assert not chosen
    fit_svm(X, labels, 1e-3, loss="squared_hinge")
    assert len(chosen) == 1
