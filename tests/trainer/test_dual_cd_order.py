"""The order dual coordinate descent visits its rows in (derivtrain/trainer/dual_cd_order.py): many
active rows in blocks that lie one after another in memory, the blocks in a random order drawn from
the solver's generator; few rows in a random permutation. Either way every active row once an epoch,
and the fit reaches the exact optimum (tests/exact.py's independent solver)."""
import numpy as np
import pytest

from derivtrain.trainer import dual_cd, dual_cd_order
from tests.exact import hinge_optimum, squared_hinge_optimum
from tests.trainer.test_dual_cd import binary_rows, fit_svm, fits, hinge_objective  # noqa: F401 (fits: a fixture)

pytest.importorskip("numba")


def runs(rows: np.ndarray) -> list:
    """The order cut where a visit does not go on to the next active row in memory."""
    ranks = np.searchsorted(np.sort(rows), rows)
    cuts = np.flatnonzero(np.diff(ranks) != 1) + 1
    return np.split(rows, cuts)


def in_blocks(rows: np.ndarray, block: int) -> bool:
    """Whether the order is whole blocks of `block` rows in memory order (the last, short one holding
    the last active row in memory), however they follow each other."""
    return all(len(r) % block == 0 or r[-1] == rows.max() for r in runs(rows))


@pytest.mark.parametrize("n_active", [1000, 50], ids=["most rows: marked", "a few rows: sorted"])
def test_many_active_rows_go_in_blocks_of_rows_in_memory_order_the_blocks_shuffled(monkeypatch, n_active):
    monkeypatch.setattr(dual_cd_order, "_BLOCKED_FROM", 32)
    monkeypatch.setattr(dual_cd_order, "_BLOCK", 8)
    n_rows = 1200
    active = np.random.default_rng(1).permutation(n_rows)  # the rows shrinking kept first, in any order
    kept = set(active[:n_active].tolist())
    orders = []
    for seed in (0, 0, 1):
        rows = active.copy()
        dual_cd_order.shuffle_active(np.random.default_rng(seed), rows, n_active, n_rows)
        assert set(rows[:n_active].tolist()) == kept and np.array_equal(rows[n_active:], active[n_active:])
        in_memory = np.sort(rows[:n_active])
        blocks = [in_memory[a:a + 8] for a in range(0, n_active, 8)]
        visited = runs(rows[:n_active])
        # each run is whole blocks of the rows in memory order (two blocks may happen to follow each other)
        assert in_blocks(rows[:n_active], 8)
        assert {tuple(b) for b in blocks} == {tuple(r[a:a + 8]) for r in visited for a in range(0, len(r), 8)}
        orders.append(rows[:n_active].copy())
    assert np.array_equal(orders[0], orders[1]) and not np.array_equal(orders[0], orders[2])  # the generator's draw
    assert len(runs(orders[0])) > n_active // 8 // 2  # the blocks are shuffled, not left in memory order


def test_few_active_rows_keep_the_random_permutation():
    rows, again = np.arange(500), np.arange(500)
    dual_cd_order.shuffle_active(np.random.default_rng(3), rows, 400, 500)
    np.random.default_rng(3).shuffle(again[:400])
    assert np.array_equal(rows, again)


@pytest.mark.parametrize("loss, dense", [("hinge", True), ("hinge", False), ("squared_hinge", False)],
                         ids=["hinge, dense rows", "hinge, CSR rows", "squared hinge, CSR rows"])  # (dense: Newton's)
def test_fits_in_blocks_reach_the_exact_optimum(fits, monkeypatch, loss, dense):  # noqa: F811
    """500 rows in blocks of 8 (every epoch of 32 active rows or more): the optimum to 1e-7, the
    blocked order taken (a spy on the visiting orders)."""
    monkeypatch.setattr(dual_cd_order, "_BLOCKED_FROM", 32)
    monkeypatch.setattr(dual_cd_order, "_BLOCK", 8)
    blocked, real = [], dual_cd_order.shuffle_active

    def spy(rng, active, n_active, n_rows):
        real(rng, active, n_active, n_rows)
        blocked.append(n_active >= 32 and in_blocks(active[:n_active], 8))
    monkeypatch.setattr(dual_cd, "shuffle_active", spy)
    X, labels = binary_rows()
    rows = X.toarray() if dense else X
    W, b, result = fit_svm(rows, labels, 1e-3, tol=1e-9 if not dense else 1e-4, loss=loss)
    assert len(fits) == 1 and result.converged and blocked[0] and sum(blocked) >= 2
    power = 2 if loss == "squared_hinge" else 1
    exact = squared_hinge_optimum(X.toarray(), labels, 1, 1e-3) if power == 2 else \
        hinge_optimum(X.toarray(), labels, 1, "ovr", 1e-3)
    assert abs(hinge_objective(X, labels, 1e-3, W, b, power=power) - exact) <= (1e-4 if dense else 1e-7) * exact


def test_an_epoch_keeps_the_rows_it_keeps_in_the_order_it_visited_them(monkeypatch):
    """Shrinking (dual_cd_kernels.py): after an epoch active[:n_active] are the rows it kept, in the
    order it visited them, and the rows it set aside follow them; no row lost or doubled."""
    import torch

    X, labels = binary_rows()
    dense = X.toarray() * 3
    n = len(labels)
    column = dual_cd._Column(torch.from_numpy(dense), (dense ** 2).sum(axis=1), 2.0 * labels - 1, np.full(n, 1 / n), 1e-3)
    visited = []
    monkeypatch.setattr(dual_cd, "shuffle_active",
                        lambda rng, active, n_active, n_rows: (rng.shuffle(active[:n_active]),
                                                               visited.append(active[:n_active].copy())))
    rng, shrunk = np.random.default_rng(0), 0
    for epoch in range(8):
        column.epoch(rng, every_row=epoch == 0)
        order, kept = visited[-1], column.active[:column.n_active]
        assert sorted(column.active.tolist()) == list(range(n))
        assert set(column.active[:len(order)].tolist()) == set(order.tolist())
        position = {row: k for k, row in enumerate(order.tolist())}
        assert all(position[a] < position[b] for a, b in zip(kept.tolist(), kept[1:].tolist()))
        shrunk += len(kept) < len(order)
    assert shrunk >= 2  # epochs that set rows aside were checked
