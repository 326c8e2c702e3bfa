"""What dual coordinate descent (derivtrain/trainer/dual_cd.py) carries from epoch to epoch besides its
columns, and how a checkpoint's copy of it is read back: checked before any of it reaches the compiled
epochs, which do not check their indices."""
import math
from functools import partial

import numpy as np
import torch


class SolveState:
    """What the epochs carry besides the columns: the rows' order, the epoch, whether the next one visits
    every row, the best dual bound, when the next certificate may be made, the pace so far. All of it,
    with the columns' own, is the solver state a checkpoint holds, so a resumed run is the
    uninterrupted one bit for bit."""

    def __init__(self, progress):
        self.rng = np.random.default_rng(0)  # the order of the rows: deterministic, as every derivtrain fit
        self.progress, self.epoch, self.full, self.best, self.certified, self.next_check = progress, 0, True, \
            -math.inf, False, 0.0
        self.ended = False  # the solve stopped (the state of its final checkpoint)

    def state(self, duals) -> dict:
        stack = partial(_stacked, duals)
        return {"next": self.epoch, "rng": self.rng.bit_generator.state, "full": self.full, "best": self.best,
                "certified": self.certified, "next_check": self.next_check, "pace": list(self.progress.seen),
                "ended": self.ended,
                "beta": stack("beta"), "w": stack("w"), "active": stack("active"),
                "columns": [column.counters() for column in duals]}

    def restore(self, saves, duals) -> None:
        """The state a checkpoint holds, each part checked before it reaches the compiled epochs (which
        do not check their indices: a row index or count out of range there would read and write
        outside the arrays) or the certificate (a dual variable outside its box would overstate the
        dual bound); a part that does not check out: one line, exit 2 (SolverCheckpoints.refuse)."""
        solver = saves.solver
        beta, w, active = (saves.tensor(name, _stacked(duals, name)) for name in ("beta", "w", "active"))
        try:
            self.full, self.certified = _flag(solver["full"]), _flag(solver["certified"])
            self.ended = _flag(solver.get("ended", False))  # (absent from checkpoints written before it)
            self.best, self.next_check = float(solver["best"]), float(solver["next_check"])
            pace = [(float(work), float(gap)) for work, gap in solver["pace"]]
            columns = [_column_counters(counters, len(duals[0].c)) for counters in solver["columns"]]
            self.rng.bit_generator.state = solver["rng"]
        except (KeyError, TypeError, ValueError) as exc:
            saves.refuse(f"its dual coordinate descent state does not read back ({type(exc).__name__}: {exc})")
        if len(columns) != len(duals) or not bool(torch.isfinite(w).all()) or len(active[0]) and not (
                int(active.min()) >= 0 and int(active.max()) < active.shape[1]):
            saves.refuse("its dual coordinate descent state has rows or weights out of range")
        if not all(bool(((b >= 0) & (b <= col.upper)).all()) for b, col in zip(beta.numpy(), duals)):
            saves.refuse("its dual variables lie outside their box (hinge: [0, c_i / alpha]; squared: >= 0)")
        self.epoch, self.progress.seen = saves.next, pace
        for k, column in enumerate(duals):
            column.restore(beta[k].numpy(), w[k].numpy(), active[k].numpy(), columns[k])


def _flag(value) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{value!r} is not true or false")
    return value


def _column_counters(counters, rows: int) -> list:
    """A column's checkpointed scalars (_Column.counters), typed and in range, or ValueError/TypeError."""
    offset, n_active, high, low, spread, visited, settled, work = counters
    if not (isinstance(n_active, int) and 0 <= n_active <= rows and isinstance(visited, int) and visited >= 0):
        raise ValueError(f"row counts {n_active!r}, {visited!r} out of range for {rows} rows")
    return [float(offset), n_active, float(high), float(low), float(spread), visited,
            None if settled is None else float(settled), float(work)]


def _stacked(duals, name: str) -> torch.Tensor:
    """The columns' arrays `name` as one (K, ...) tensor."""
    return torch.from_numpy(np.stack([getattr(column, name) for column in duals]))
