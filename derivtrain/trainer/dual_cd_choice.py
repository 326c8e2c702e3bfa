"""When optim=auto gives the hinge or the squared hinge to dual coordinate descent (derivtrain/trainer/
dual_cd.py), said in the run's log: `suits` (the problem it can take, and rows it is faster on) and
what it reads off the rows (`reach`, C R^2 in LIBLINEAR's terms)."""
from functools import lru_cache
from importlib.util import find_spec  # whether numba is installed, without importing it (~0.1 s)

import numpy as np
import torch

from derivtrain.compiled import available as compiled_ahead
from derivtrain.convex.certificate import linear_problem
from derivtrain.data import sparse

# where this process would pay numba's start for the epochs (no module compiled ahead of time:
# derivtrain/compiled), rows with fewer stored values go to the interior point: it takes ~0.1 s there,
# numba's first call ~0.5. With the module there is no start to repay (1,000 x 500 tf-idf rows, 19k
# values: 0.080 -> 0.013 s; 2,000 x 1,000, 42k: 0.475 -> 0.046 s; Estimator fits, medians of 5)
_NONZEROS = 100_000
_LONGEST = 20.0  # the largest reach() of sparse rows given to this solver (see there)
_DENSE_LONGEST, _DENSE_COLUMNS = 5.0, 50  # dense rows: the largest reach, the fewest columns (_where_faster)
# dense rows to an optim.tol below _DENSE_TIGHTEST only where reach <= _DENSE_TIGHT_LONGEST: this solver's
# gap falls linearly, at a rate the reach sets, the interior point's superlinearly. To 1e-6 against the
# interior point, 100k x 50 correlated columns: reach 4.6 2.17 s (2,500 epochs) against 1.39 (to 1e-4
# 0.91 against 1.06); reach 1.8 not met in 500 epochs (0.49 s, gap 2.9e-6) against 1.16; reach 0.9 0.43
# against 1.06; 1M x 100, reach 1.0: 7.9 s against 21.9 (stop 35)
_DENSE_TIGHTEST, _DENSE_TIGHT_LONGEST = 1e-4, 1.5
# dense rows, the least n d^2 (the interior point's Hessian work a step) given to this solver where numba's
# start is paid (as _NONZEROS): below, the interior point's ~20 steps take less than it (~0.8 s). Without
# it, measured against the interior point (Estimator fits, medians of 3): 10k x 50 0.046 s vs 0.054,
# 30k x 50 0.073 vs 0.164, 70k x 50 0.147 vs 0.454, 20k x 100 0.113 vs 0.294
_DENSE_WORK = 1 << 29


def suits(objective, data, max_dense: int, tol: float = _DENSE_TIGHTEST) -> str | None:
    """Why this solver takes the problem, said in the run's log, or None where it does not: the hinge
    or the squared hinge (binary, or one-vs-rest columns) under one L2 strength for every weight, rows
    on the CPU in this process's memory, numba installed (where its start would be paid, no module
    compiled ahead of time: at least _NONZEROS stored values), and rows it is faster on to optim.tol=tol
    (_where_faster; the squared hinge: sparse rows only)."""
    from derivtrain.convex.penalty import ElementwiseDual
    from derivtrain.losses.hinge import HingeDatafit
    from derivtrain.losses.squared_hinge import SquaredHingeDatafit

    problem, X = linear_problem(objective), data.train.X
    if problem is None or not isinstance(X, torch.Tensor) or X.device.type != "cpu":
        return None
    penalty, squared = problem.penalty, type(problem.loss) is SquaredHingeDatafit
    if not (squared or type(problem.loss) is HingeDatafit) or not isinstance(penalty, ElementwiseDual):
        return None
    if squared and not sparse.is_sparse(X):
        return None  # dense rows: Newton's closed-form steps (100k x 50 to 1e-3: 0.135 s, cyanure 0.41)
    if not (penalty.quadratic and penalty._scalar and float(penalty.l2) > 0) or not _numba_installed():
        return None
    stored = sparse.stored_numbers(X)
    cold = not compiled_ahead(build=False)  # a small problem never waits for the module's build
    if cold and stored < _NONZEROS:
        return None
    return _where_faster(X, float(penalty.l2), max_dense, tol, "the squared hinge" if squared else "the hinge", cold)


def _where_faster(X, alpha: float, max_dense: int, tol: float, name: str = "the hinge",
                  cold: bool = True) -> str | None:
    """Sparse rows short enough against the penalty (reach <= _LONGEST), or with more than max_dense
    parameters a column (optim.max_dense: the interior point's steps are then conjugate gradients,
    tens to hundreds of passes each, and this solver is given the problem whatever its pace;
    derivtrain/trainer/dual_cd_schedule.py). Dense rows: at least _DENSE_COLUMNS columns, n d^2 >=
    _DENSE_WORK and reach <= _DENSE_LONGEST (below tol _DENSE_TIGHTEST: <= _DENSE_TIGHT_LONGEST), where an
    epoch's O(n d) beats the interior point's O(n d^2) Hessians (to a 1e-3 gap against the interior point: 100k x 50
    correlated columns, reach 5, 0.78 s vs 1.05; 100k x 20, reach 2, 0.31 vs 0.30; 30k x 50, reach 17,
    0.32 vs 0.24; digits, reach 360, 0.04 vs 0.02)."""
    wide = conjugate_gradient_steps(X, max_dense)
    if not sparse.is_sparse(X) and X.shape[1] < _DENSE_COLUMNS and not wide:
        return None  # before reach's pass over the rows: a grid search's small fits ask every time
    pace = reach(X, alpha)
    steps = (f"takes conjugate-gradient steps over {X.shape[1] + 1} > optim.max_dense={max_dense} parameters" if wide
             else f"factors a {X.shape[1] + 1} x {X.shape[1] + 1} Hessian every step")
    if sparse.is_sparse(X) and (pace <= _LONGEST or wide):
        return (f"{name} under L2 on sparse rows, {X.shape[0]} x {X.shape[1]} with {X.values().numel()} nonzeros, "
                f"C R^2 = {pace:.2g}: an epoch costs O(nonzeros), where the interior point {steps}")
    near = pace <= (_DENSE_LONGEST if tol >= _DENSE_TIGHTEST else _DENSE_TIGHT_LONGEST)
    large = not cold or X.shape[0] * X.shape[1] ** 2 >= _DENSE_WORK
    if not sparse.is_sparse(X) and X.shape[1] >= _DENSE_COLUMNS and (near and large or wide):
        return (f"the hinge under L2 on {X.shape[0]} x {X.shape[1]} rows, C R^2 = {pace:.2g}: an epoch costs O(n d), "
                f"where the interior point {steps}")
    return None


@lru_cache(maxsize=1)
def _numba_installed() -> bool:
    """Found once a process: find_spec walks sys.path (~0.2 ms, 2 % of a small Estimator fit)."""
    return find_spec("numba") is not None


def conjugate_gradient_steps(X, max_dense: int) -> bool:
    """Whether the interior point would solve its systems by conjugate gradients (more than max_dense
    parameters a column)."""
    return X.shape[1] + 1 > max_dense


def reach(X, alpha: float) -> float:
    """C R^2 in LIBLINEAR's terms: the median row's squared norm over alpha n, what sets the pace of dual
    coordinate descent (derivtrain/trainer/dual_cd_schedule.py). tf-idf rows, 20k x 2k, to a 1e-4 gap
    against the interior point: unit rows, alpha 1e-4 (0.5): 0.05 s vs 1.3; standardized columns at
    alpha 0.1 (1.0): 0.06 vs 1.4; 0.01 (10): 0.41 vs 1.7, 463 epochs; 1e-3 (100): handed over after 16
    epochs, 2.3 s vs 2.2."""
    from derivtrain.trainer.precision_floor import row_squares

    norms = row_squares(X).numpy()
    return float(np.median(norms)) / (alpha * X.shape[0])
