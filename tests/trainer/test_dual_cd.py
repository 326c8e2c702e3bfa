"""Dual coordinate descent for the hinge on sparse rows (derivtrain/trainer/dual_cd.py): the optimum an
independent solver (Clarabel, tests/exact.py) reaches, with sample weights and one-vs-rest columns;
an honest certificate when the epochs run out; which problems optim=auto gives it. The squared
hinge's: tests/trainer/test_dual_cd_squared.py."""
import math

import numpy as np
import pytest
import torch

from derivtrain.trainer import dual_cd, dual_cd_choice
from derivtrain.trainer.dual_cd_schedule import Progress
from derivtrain.trainer.dual_cd_state import SolveState
from tests.exact import hinge_optimum
from tests.trainer.test_prox_working_set import tfidf_rows

pytest.importorskip("numba")


@pytest.fixture
def fits(monkeypatch):
    """The dual coordinate descent fits made (their FitResults), on rows of any size (the solver's
    thresholds of stored values and of dense rows' n d^2, set for numba's first call, would leave these
    small rows to the interior point)."""
    monkeypatch.setattr(dual_cd_choice, "_NONZEROS", 0)
    monkeypatch.setattr(dual_cd_choice, "_DENSE_WORK", 0)
    made, real = [], dual_cd.fit_dual_cd

    def spy(ctx):
        made.append(real(ctx))
        return made[-1]

    monkeypatch.setattr(dual_cd, "fit_dual_cd", spy)
    return made


def fit_svm(X, labels, strength, tol=1e-9, sample_weight=None, **params):
    """The fitted (W, b) of optim=auto's SVM on CSR rows kept sparse (as data=npz keeps them), or on a
    dense array's rows."""
    import derivtrain
    from derivtrain.data import sparse
    from derivtrain.estimator.arrays import training_data
    from derivtrain.estimator.fitting import fit_model

    est = derivtrain.Estimator(model="svm", standardize=False, regularizer__strength=strength, optim__tol=tol, **params)
    shape_only = np.zeros((1, X.shape[1]))
    spec, encoded, _ = est._targets(shape_only, labels, est._task(), None)
    data = training_data(shape_only, encoded, sample_weight, spec, False, torch.device("cpu"))
    data.train.X = torch.from_numpy(X) if isinstance(X, np.ndarray) else sparse.from_scipy(X, dtype=torch.float64)
    model, result = fit_model(est._config(), data, verbose=True)  # the log on stderr: what optim=auto chose
    return model.linear.weight.detach().double().numpy(), model.linear.bias.detach().double().numpy(), result


def hinge_objective(X, labels, strength, W, b, weights=None, power: int = 1) -> float:
    """derivtrain's objective from the textbook formula: the weighted mean of the one-vs-rest hinges (power 2:
    squared hinges) plus alpha/2 ||W||^2."""
    Z = np.asarray(X @ W.T) + b
    signs = (2.0 * labels - 1)[:, None] if W.shape[0] == 1 else np.where(np.eye(W.shape[0])[labels] > 0, 1.0, -1.0)
    c = np.full(len(labels), 1.0) if weights is None else np.asarray(weights, float)
    losses = (np.maximum(0.0, 1 - signs * Z) ** power).sum(axis=1)
    return float(c @ losses / c.sum() + strength / 2 * np.sum(W * W))


def binary_rows(n=500, d=150):
    X, signal = tfidf_rows(n=n, d=d, per_row=15)
    return X, (signal > np.median(signal)).astype(np.int64)


def test_binary_hinge_reaches_the_exact_optimum(fits):
    X, labels = binary_rows()
    W, b, result = fit_svm(X, labels, 1e-3)
    assert len(fits) == 1 and result.converged and result.stopped_by == "certificate"
    exact = hinge_optimum(X.toarray(), labels, 1, "ovr", 1e-3)
    reached = hinge_objective(X, labels, 1e-3, W, b)
    assert abs(reached - exact) <= 1e-7 * exact
    # the certificate bounds the true gap, and is itself within tol
    assert result.certificate.relative_gap <= 1e-9 and (reached - exact) / reached <= result.certificate.relative_gap + 1e-9


def test_sample_weights_and_one_vs_rest_columns_reach_the_exact_optimum(fits):
    X, signal = tfidf_rows(n=450, d=120, per_row=15, seed=1)
    labels = np.digitize(signal, np.quantile(signal, [1 / 3, 2 / 3])).astype(np.int64)
    weights = np.random.default_rng(0).integers(0, 3, len(labels)).astype(float)  # rows of weight 0 among them
    W, b, result = fit_svm(X, labels, 1e-3, sample_weight=weights)
    assert len(fits) == 1 and W.shape[0] == 3 and result.converged
    exact = hinge_optimum(X.toarray(), labels, 3, "ovr", 1e-3, weights=weights)
    assert abs(hinge_objective(X, labels, 1e-3, W, b, weights) - exact) <= 1e-7 * exact


def test_epochs_that_run_out_stop_with_an_honest_certificate(fits):
    X, labels = binary_rows()
    with pytest.warns(UserWarning, match=r"iteration cap \(trainer__max_epochs=2\)"):
        W, b, result = fit_svm(X, labels, 1e-4, trainer__max_epochs=2)
    assert len(fits) == 1 and result.stopped_by == "iteration_cap" and not result.converged and result.epochs == 2
    exact = hinge_optimum(X.toarray(), labels, 1, "ovr", 1e-4)
    reached = hinge_objective(X, labels, 1e-4, W, b)
    assert result.certificate.relative_gap >= (reached - exact) / reached > 1e-4


def test_optim_auto_gives_it_the_hinge_on_sparse_rows_alone(monkeypatch, capfd):
    X, labels = binary_rows()
    chosen = []
    monkeypatch.setattr(dual_cd, "fit_dual_cd", lambda ctx: chosen.append(ctx) or _stop())
    monkeypatch.setattr(dual_cd_choice, "compiled_ahead", lambda build=True: False)  # numba's start to pay (derivtrain/compiled)
    fit_svm(X, labels, 1e-3)  # 7,500 stored values: the interior point (numba's first call would cost more)
    monkeypatch.setattr(dual_cd_choice, "_NONZEROS", 0)
    monkeypatch.setattr(dual_cd_choice, "_DENSE_WORK", 0)
    fit_svm(X.toarray(), labels, 1e-3, loss="squared_hinge")  # dense rows: Newton's closed-form steps
    fit_svm(X, labels, 1e-3, regularizer="elastic_net")  # an L1 part: the interior point
    fit_svm(X * 30, labels, 1e-3)  # rows long against the penalty (C R^2 = 1,800): the interior point's dense steps
    assert not chosen
    capfd.readouterr()
    with pytest.raises(_Stopped):
        fit_svm(X, labels, 1e-3)
    assert len(chosen) == 1 and "optim=auto: dual coordinate descent" in capfd.readouterr().err
    assert dual_cd_choice.suits(chosen[0].objective, chosen[0].data, 4096)
    # with the loops compiled ahead of time there is no start to repay: so few values go to it too
    monkeypatch.setattr(dual_cd_choice, "_NONZEROS", 100_000)
    monkeypatch.setattr(dual_cd_choice, "compiled_ahead", lambda build=True: True)
    assert dual_cd_choice.suits(chosen[0].objective, chosen[0].data, 4096)
    # dense rows: with 50 columns or more and rows short against the penalty (here 150, C R^2 = 2)
    assert "on 500 x 150 rows" in dual_cd_choice.suits(chosen[0].objective, _dense(chosen[0].data), 4096)
    # to a tight tol the interior point's superlinear steps win on dense rows, unless the rows are short
    # against the penalty (C R^2 = 0.5 here); sparse ones keep this solver
    assert not dual_cd_choice.suits(chosen[0].objective, _dense(chosen[0].data), 4096, tol=1e-6)
    assert dual_cd_choice.suits(chosen[0].objective, _dense(chosen[0].data, scale=0.5), 4096, tol=1e-6)
    assert dual_cd_choice.suits(chosen[0].objective, chosen[0].data, 4096, tol=1e-6)
    narrow = _dense(chosen[0].data, columns=40)
    # an O(n d^2) Hessian is cheap: the interior point
    assert not dual_cd_choice.suits(chosen[0].objective, narrow, 4096)
    # fewer rows x columns^2 than repay numba's start in a fresh process: the interior point, where the
    # start is paid (no module compiled ahead of time: derivtrain/compiled); with the module, this solver
    monkeypatch.setattr(dual_cd_choice, "_DENSE_WORK", 500 * 150 ** 2 + 1)
    monkeypatch.setattr(dual_cd_choice, "compiled_ahead", lambda build=True: True)
    assert dual_cd_choice.suits(chosen[0].objective, _dense(chosen[0].data), 4096)
    monkeypatch.setattr(dual_cd_choice, "compiled_ahead", lambda build=True: False)
    assert not dual_cd_choice.suits(chosen[0].objective, _dense(chosen[0].data), 4096)


def test_slow_progress_hands_the_problem_to_the_interior_point(fits, monkeypatch, capfd):
    X, labels = binary_rows()
    monkeypatch.setattr(dual_cd_choice, "_LONGEST", math.inf)  # given rows it would not take: C R^2 = 1,800
    W, b, result = fit_svm(X * 30, labels, 1e-3, tol=1e-8)
    assert len(fits) == 1 and result.converged and "the interior point takes over" in capfd.readouterr().err
    exact = hinge_optimum(X.toarray() * 30, labels, 1, "ovr", 1e-3)
    assert abs(hinge_objective(X * 30, labels, 1e-3, W, b) - exact) <= 1e-7 * exact


def test_dense_rows_reach_the_exact_optimum(fits):
    """Dense rows at optim.tol=1e-4 (tighter: the interior point, below), within tol of the optimum."""
    X, labels = binary_rows()
    W, b, result = fit_svm(X.toarray(), labels, 1e-3, tol=1e-4)
    assert len(fits) == 1 and result.converged
    exact = hinge_optimum(X.toarray(), labels, 1, "ovr", 1e-3)
    assert abs(hinge_objective(X, labels, 1e-3, W, b) - exact) <= 1e-4 * exact
    W, b, result = fit_svm(X.toarray(), labels, 1e-3, tol=1e-9)
    assert len(fits) == 1 and result.converged  # the interior point's
    assert abs(hinge_objective(X, labels, 1e-3, W, b) - exact) <= 1e-7 * exact


@pytest.mark.filterwarnings("ignore:the fit did not converge")  # capped at 60 epochs: the order of epochs is what counts
def test_shrunk_epochs_run_until_they_visited_four_times_the_rows(monkeypatch):
    """Between two epochs over every row, the epochs over the rows shrinking kept visit 4 times the
    rows (unless those settle first): an epoch over every row takes back what they set aside."""
    X, labels = binary_rows()
    order, real = [], dual_cd._Column.epoch

    def spy(column, rng, every_row):
        seen = real(column, rng, every_row)
        order.append((every_row, len(column.c) if every_row else column.n_active))
        return seen
    monkeypatch.setattr(dual_cd._Column, "epoch", spy)
    monkeypatch.setattr(dual_cd, "_SETTLED", 0.0)  # never settled: the count of rows visited alone decides
    monkeypatch.setattr(dual_cd_choice, "_NONZEROS", 0)
    fit_svm(X * 3, labels, 1e-3, tol=1e-8, trainer__max_epochs=60)
    full = [i for i, (every_row, _) in enumerate(order) if every_row]
    assert len(full) >= 3 and len(order) >= 30
    for a, b in zip(full, full[1:]):
        visited = sum(rows for _, rows in order[a + 1:b])
        assert visited >= 4 * len(labels) and visited - order[b - 1][1] < 4 * len(labels)


def test_against_conjugate_gradient_steps_it_goes_on_at_a_slower_pace(fits, capfd):
    X, labels = binary_rows()
    # 151 > optim.max_dense parameters: the interior point's steps would be conjugate gradients
    W, b, result = fit_svm(X * 3, labels, 1e-3, tol=1e-6, optim__max_dense=100)
    assert len(fits) == 1 and result.converged and result.epochs > 500  # past the pace it hands over at otherwise
    assert "takes over" not in capfd.readouterr().err
    exact = hinge_optimum(X.toarray() * 3, labels, 1, "ovr", 1e-3)
    assert 0 <= hinge_objective(X * 3, labels, 1e-3, W, b) - exact <= 1e-6 * exact
    fit_svm(X * 30, labels, 1e-3, tol=1e-6, optim__max_dense=100)  # no progress at all: it still hands over
    assert "takes over" in capfd.readouterr().err


def test_progress_judges_the_pace_of_the_second_half_of_the_work():
    falling, stuck = Progress(1e-6), Progress(1e-6)
    # a decade every 10 epochs: 1e-6 by epoch 60, within reach
    assert not any(falling.hopeless(work, 1.0, 1.0 - 10.0 ** (-work / 10)) for work in range(1, 41))
    assert not any(stuck.hopeless(work, 1.0, 0.5) for work in range(1, 20))  # too early to judge
    assert stuck.hopeless(20, 1.0, 0.5) and "no progress" in stuck.why
    slow = Progress(1e-6)  # a decade every 200 epochs: ~1,200 epochs away
    assert [slow.hopeless(work, 1.0, 1.0 - 10.0 ** (-work / 200)) for work in (1, 10, 20)] == [False, False, True]
    assert "takes ~1200 epochs" in slow.why


class _Stopped(Exception):
    pass


def _stop():
    raise _Stopped


def _dense(data, columns=None, scale=1.0):
    from dataclasses import replace

    return replace(data, train=replace(data.train, X=data.train.X.to_dense()[:, :columns] * scale))


class _Saved:
    """What dual_cd_state.SolveState.restore reads of a SolverCheckpoints: a checkpoint's solver state."""

    def __init__(self, solver):
        self.solver, self.next = solver, solver["next"]

    def tensor(self, name, like):
        return self.solver[name]

    def refuse(self, why):
        from derivtrain.errors import UserError

        raise UserError(f"trainer.resume=...: {why}")


@pytest.mark.parametrize("tamper, says", [
    (lambda s: s["active"].__setitem__((0, 0), 10_000), "out of range"),  # a row index past the rows
    (lambda s: s["columns"][0].__setitem__(1, 10_000), "out of range"),  # more active rows than rows
    (lambda s: s["beta"].__setitem__((0, 0), 1e9), "outside their box"),  # an overstated dual bound
    (lambda s: s.__setitem__("rng", {"bit_generator": "MT19937"}), "does not read back"),
    (lambda s: s.__setitem__("full", "yes"), "does not read back"),
    (lambda s: s.__setitem__("ended", 1), "does not read back"),
])
def test_a_tampered_checkpoint_is_refused_before_the_compiled_epochs_read_it(tamper, says):
    from derivtrain.errors import UserError
    from derivtrain.trainer.dual_cd_schedule import Progress

    X, labels = binary_rows()
    rows = torch.from_numpy(X.toarray())
    signs, c = 2.0 * labels - 1, np.full(len(labels), 1 / len(labels))
    norms = (rows * rows).sum(dim=1).numpy()
    columns = [dual_cd._Column(rows, norms, signs, c, 1e-3)]
    run = SolveState(Progress(1e-4))
    for every_row in (True, False, False):
        columns[0].epoch(run.rng, every_row)
    run.epoch = 3
    state = run.state(columns)
    again = SolveState(Progress(1e-4))
    restored = [dual_cd._Column(rows, norms, signs, c, 1e-3)]
    again.restore(_Saved(state), restored)  # untouched: reads back
    assert again.epoch == 3 and again.rng.bit_generator.state == run.rng.bit_generator.state
    assert np.array_equal(restored[0].beta, columns[0].beta) and restored[0].counters() == columns[0].counters()
    tamper(state)
    with pytest.raises(UserError, match=says):
        SolveState(Progress(1e-4)).restore(_Saved(state), [dual_cd._Column(rows, norms, signs, c, 1e-3)])
