"""fit_dual_cd(): the hinge under an L2 penalty by dual coordinate descent, on sparse rows and on large
dense ones, stopped by the same certificate as fit_certified.

The interior-point method (derivtrain/trainer/interior_point.py) forms a (d + 1)^2 Hessian and its
Cholesky factor at each of its ~20 steps: on 20k x 2k tf-idf rows (30 nonzeros a row) 2.2 s to a
1e-3 gap, where LIBLINEAR's dual coordinate descent takes 0.25 s. This is that method (Hsieh et al.
2008; the epochs are derivtrain/trainer/dual_cd_kernels.py): one dual variable per row and score
column, each step O(its row's nonzeros), w kept equal to the dual point's primal image.

derivtrain's objective and LIBLINEAR's dual, for one score column (derivtrain/convex/certificate.py's
theta_i = -y_i a_i, a_i in [0, 1] for the hinge):

    P(w, b) = sum_i c_i max(0, 1 - y_i (w.x_i + b)) + alpha/2 ||w||^2,    beta_i = c_i a_i / alpha,
    w = sum_i beta_i y_i x_i

The bias is unpenalized, which puts a constraint sum_i beta_i y_i = 0 on the dual that single
coordinates cannot keep. LIBLINEAR penalizes the bias instead (a column of ones, scaled by B), which
changes the problem. Here the bias gets a proximal term: epoch k solves for (w, v) with the bias
b = o_k + B v and penalty alpha/2 v^2, then o_{k+1} = o_k + B v: the proximal point method on b, whose
fixed point is the unpenalized optimum (v -> 0, so sum beta y -> 0). B is a tenth of the rows' root
mean squared norm (_BIAS_SCALE), measured on tf-idf rows of unit norm, relative gap after 100 and
300 epochs: B = 1, 2e-4 and 9e-6; 0.3, 4e-5 and 1e-7; 0.1, 3e-5 and 8e-8; 0.03, 1e-4 and 3e-6
(500 x 150); 20k x 2k after 100 and 200 epochs: 1e-5 and 5e-7 with B = 1, 2e-7 and 1e-9 with 0.1;
B = 10 reached no 1e-3 in 100 epochs.

A certificate costs two passes over X (the scores, for P; X^T (c theta), for D, after the bias's
constraint is met by scaling rows: derivtrain/convex/bias.py) and some O(n) work: 2-4 epochs over
every row. An epoch over every row gives an estimate of the gap for free (the loss at the scores it
met each row with, and the dual value without the bias constraint); a certificate is made only
once that estimate is within _WORTH_CERTIFYING x optim.tol, and no sooner than a tenth of the
epochs so far, or epochs costing as much as a certificate, after the last one. trainer.max_epochs
caps the epochs (default 2500).

Where it is picked (optim=auto, derivtrain/trainer/fitters.py: `suits`), measured to a 1e-3 gap
against the interior point, tf-idf-like rows: 20k x 200, 0.13 s vs 0.72 s; 2k x 1,000, 0.03 vs 0.33;
20k x 2k, 0.05 vs 2.2; dense rows with 50 columns or more, short against the penalty (_where_faster).
Not picked: the squared hinge (Newton's method, 20k x 2k sparse: 0.068 s vs 0.086), a small X
(numba's first call in a process costs ~0.5 s).
"""
import math
import time

import numpy as np
import torch

from derivtrain.convex.certificate import Certificate, dual_value, linear_problem, rounding_error, row_weights
from derivtrain.data import sparse
from derivtrain.logging import log
from derivtrain.trainer.dual_cd_schedule import Clock, Progress
from derivtrain.trainer.fitting import FitContext, FitResult, finish
from derivtrain.trainer.linear_newton import parts
from derivtrain.trainer.precision_floor import Floor

_EPOCH_CAP = 2500  # as far as the progress rule lets a fit go (dual_cd_schedule._HOPELESS_WIDE)
_WORTH_CERTIFYING = 2.0
_NONZEROS = 100_000  # below: the interior point takes ~0.1 s, numba's first call ~0.5
_BIAS_SCALE = 0.1  # B, the bias column's value, over the rows' root mean squared norm (measured: the docstring)
_LONGEST = 20.0  # the largest reach() of sparse rows given to this solver (see there)
_DENSE_LONGEST, _DENSE_COLUMNS = 5.0, 50  # dense rows: the largest reach, the fewest columns (_where_faster)
_NO_INDEX = np.zeros(0, dtype=np.int64)  # the kernel's CSR index arrays for dense rows (unread)
_SETTLED = 1e-3  # shrinking: visit every row again once the projected gradients spread this much of the first's


def suits(objective, data, max_dense: int) -> str | None:
    """Why this solver takes the problem, said in the run's log, or None where it does not: the hinge
    (binary, or one-vs-rest columns) under one L2 strength for every weight, rows on the CPU in this
    process's memory with at least _NONZEROS stored values, numba installed, and rows it is faster on
    (_where_faster)."""
    from derivtrain.convex.penalty import ElementwiseDual
    from derivtrain.losses.hinge import HingeDatafit

    problem, X = linear_problem(objective), data.train.X
    if problem is None or not isinstance(X, torch.Tensor) or X.device.type != "cpu":
        return None
    penalty = problem.penalty
    if type(problem.loss) is not HingeDatafit or not isinstance(penalty, ElementwiseDual):
        return None
    stored = X.values().numel() if sparse.is_sparse(X) else X.numel()
    if not (penalty.quadratic and penalty._scalar and float(penalty.l2) > 0) or stored < _NONZEROS:
        return None
    why = _where_faster(X, float(penalty.l2), max_dense)
    try:
        import numba  # noqa: F401
    except ImportError:
        return None
    return why


def _where_faster(X, alpha: float, max_dense: int) -> str | None:
    """Sparse rows short enough against the penalty (reach <= _LONGEST), or with more than max_dense
    parameters a column (optim.max_dense: the interior point's steps are then conjugate gradients,
    tens to hundreds of passes each, and this solver is given the problem whatever its pace;
    derivtrain/trainer/dual_cd_schedule.py). Dense rows: at least _DENSE_COLUMNS columns and reach <=
    _DENSE_LONGEST, where an epoch's O(n d) beats the interior point's O(n d^2) Hessians (to a 1e-3 gap
    against the interior point: 100k x 50 correlated columns, reach 5, 0.78 s vs 1.05; 100k x 20,
    reach 2, 0.31 vs 0.30; 30k x 50, reach 17, 0.32 vs 0.24; digits, reach 360, 0.04 vs 0.02)."""
    pace, wide = reach(X, alpha), conjugate_gradient_steps(X, max_dense)
    steps = (f"takes conjugate-gradient steps over {X.shape[1] + 1} > optim.max_dense={max_dense} parameters" if wide
             else f"factors a {X.shape[1] + 1} x {X.shape[1] + 1} Hessian every step")
    if sparse.is_sparse(X) and (pace <= _LONGEST or wide):
        return (f"the hinge under L2 on sparse rows, {X.shape[0]} x {X.shape[1]} with {X.values().numel()} nonzeros, "
                f"C R^2 = {pace:.2g}: an epoch costs O(nonzeros), where the interior point {steps}")
    if not sparse.is_sparse(X) and X.shape[1] >= _DENSE_COLUMNS and (pace <= _DENSE_LONGEST or wide):
        return (f"the hinge under L2 on {X.shape[0]} x {X.shape[1]} rows, C R^2 = {pace:.2g}: an epoch costs O(n d), "
                f"where the interior point {steps}")
    return None


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
    norms = _squared_norms(X.crow_indices().numpy(), X.col_indices().numpy(), X.values().numpy()) \
        if sparse.is_sparse(X) else torch.linalg.vector_norm(X, dim=1).square().double().numpy()  # no copy of X
    return float(np.median(norms)) / (alpha * X.shape[0])


def fit_dual_cd(ctx: FitContext) -> FitResult:
    problem = linear_problem(ctx.objective)
    with torch.no_grad():
        return _fit(ctx, problem)


def _fit(ctx, problem) -> FitResult:
    X = sparse.astype(ctx.data.train.X, torch.float64)
    y = problem.loss.prepare(ctx.targets(ctx.data.train)).to(torch.float64)
    c = row_weights(problem.loss, y, X.shape[0], X.device, ctx.data.train.weight, ctx.distributed)
    floor = Floor(ctx, problem, X, y, c, ctx.distributed)
    duals = [_Column(X, y[:, k].numpy(), c.numpy(), float(problem.penalty.l2)) for k in range(y.shape[1])]
    cap = _EPOCH_CAP if ctx.trainer.get("max_epochs") is None else int(ctx.trainer.max_epochs)  # >= 1 (config)
    rng = np.random.default_rng(0)  # the order of the rows: deterministic, as every derivtrain fit
    clock, progress, full = Clock(), Progress(floor.tol, conjugate_gradient_steps(X, ctx.optim.max_dense)), True
    best, here, next_check, converged, stopped_by, epoch = -math.inf, None, 1, False, "iteration_cap", 0
    while epoch < cap:
        with clock.epochs:
            seen = sum(column.epoch(rng, full) for column in duals)
        epoch += 1
        # only an epoch over every row saw every row's loss: the estimate of the gap is its alone
        worth = full and seen[0] - seen[1] <= _WORTH_CERTIFYING * floor.tol * abs(seen[0])
        if full and here is None and progress.hopeless(sum(column.work for column in duals) / len(duals), *seen):
            return _hand_over(ctx, progress, epoch)
        if (worth and epoch >= next_check) or epoch >= cap:
            with clock.checks:
                best, here = _certify(ctx, problem, X, y, c, duals, best, epoch)
            next_check = epoch + clock.spacing(epoch)
            if here.relative_gap <= floor.at(here):
                converged, stopped_by = True, "certificate"
                break
        full = any(column.wants_every_row() for column in duals)
    _set_weights(problem.linear, _iterate(duals))
    floor.announce()
    log.info("dual coordinate descent: %s after %d epochs (gap %.2g)", stopped_by, epoch, here.relative_gap)
    result = FitResult(epochs=epoch, steps=epoch, converged=converged, certificate=here,
                       stopped_by=stopped_by, tol=floor.tol, cap=cap)
    return finish(ctx, result, state=dict(fitted_by="dual_cd", converged=converged))


class _Column:
    """One score column's dual variables beta, its w = [weights | v], the bias's proximal centre and the
    rows shrinking has not set aside (active[:n_active])."""

    def __init__(self, X, y, c, alpha: float):
        # the kernel's arguments for the rows: CSR arrays and width 0, or a dense array's values and its width
        dense = None if sparse.is_sparse(X) else X.contiguous().numpy()
        self.rows = (X.crow_indices().numpy(), X.col_indices().numpy(), X.values().numpy(), 0) if dense is None \
            else (_NO_INDEX, _NO_INDEX, dense.reshape(-1), dense.shape[1])
        self.y, self.c, self.alpha = np.ascontiguousarray(y), c, alpha
        norms = _squared_norms(*self.rows[:3]) if dense is None else np.einsum("ij,ij->i", dense, dense)
        self.scale = _BIAS_SCALE * math.sqrt(max(float(np.average(norms, weights=c)), 1e-12))
        self.upper, self.qdiag = c / alpha, norms + self.scale ** 2
        self.beta, self.w, self.offset = np.zeros_like(c), np.zeros(X.shape[1] + 1), 0.0
        self.active, self.n_active = np.arange(len(c)), len(c)
        self.bounds, self.spread, self.visited, self.settled = (math.inf, -math.inf), math.inf, 0, None
        self.work = 0.0  # rows visited, in epochs over every row

    def epoch(self, rng, every_row: bool) -> np.ndarray:
        """One epoch (over every row, or those not set aside), then the bias's proximal step;
        (loss seen + penalty, dual value) estimates (exact in the limit, for an epoch over every row)."""
        from derivtrain.trainer.dual_cd_kernels import run_epoch

        if every_row:
            self.n_active, self.bounds = len(self.c), (math.inf, -math.inf)
        rng.shuffle(self.active[:self.n_active])
        self.work += self.n_active / len(self.c)
        high, low, self.n_active, loss = run_epoch(*self.rows, self.y, self.c, self.qdiag, self.upper, self.beta, self.w,
                                                   self.scale, self.offset, self.active, self.n_active, *self.bounds)
        self.visited = 0 if every_row else self.visited + self.n_active  # (the first pass after one: its rows kept)
        # LIBLINEAR's rule: set aside what points out of its box by more than this epoch's extremes
        self.bounds, self.spread = (high if high > 0 else math.inf, low if low < 0 else -math.inf), high - low
        linear = float(self.beta @ (1.0 - self.y * self.offset)) if every_row else 0.0
        self.offset += self.scale * self.w[-1]
        if not every_row:
            return np.zeros(2)
        w_sq = float(self.w[:-1] @ self.w[:-1])
        return np.array([loss + self.alpha / 2 * w_sq, self.alpha * (linear - (w_sq + self.w[-1] ** 2) / 2)])

    def wants_every_row(self) -> bool:
        """Whether the next epoch should visit every row: the active rows have settled (their projected
        gradients within a thousandth of the first epoch's spread, halved each time it is met), or
        the epochs since the last such one have visited as many rows (so those cost at most half)."""
        if self.settled is None:
            self.settled = self.spread * _SETTLED
        if self.spread <= self.settled:
            self.settled /= 2
            return True
        return self.visited >= len(self.c)

    def theta(self) -> np.ndarray:
        """The certificate's dual point -y a, a = alpha beta / c (0 on rows of weight 0)."""
        return -self.y * self.alpha * self.beta / np.where(self.c > 0, self.c, 1.0)


def _hand_over(ctx, progress, epoch: int) -> FitResult:
    """The interior point's fit from the start, said in the log with the reason (dual coordinate descent
    is slow where rows are long against the penalty: standardized tf-idf columns, 20k x 2k at strength
    1e-3, reached a gap of 3e-3 in 1,000 epochs, 4 s, where the interior point certifies 1e-4 in 2.2 s)."""
    from derivtrain.trainer.certified import fit_certified

    log.info("dual coordinate descent: %s after %d epochs; the interior point takes over", progress.why, epoch)
    return fit_certified(ctx)


def _squared_norms(indptr, indices, values) -> np.ndarray:
    """||x_i||^2 of every row of a CSR matrix, from its stored values alone."""
    counts = np.diff(indptr)
    return np.bincount(np.repeat(np.arange(len(counts)), counts), weights=values * values, minlength=len(counts))


def _iterate(duals) -> torch.Tensor:
    """T = [W | b] (K, d + 1): each column's weights and its bias, the proximal centre just moved."""
    return torch.from_numpy(np.stack([np.append(column.w[:-1], column.offset) for column in duals]))


def _certify(ctx, problem, X, y, c, duals, best: float, epoch: int):
    """(the best dual value so far, the iterate's certificate with it), logged at `epoch`."""
    T = _iterate(duals)
    z = X @ T[:, :-1].T + T[:, -1]
    loss, penalty = parts(problem, z, y, c, T, ctx.distributed)
    theta = torch.from_numpy(np.stack([column.theta() for column in duals], axis=1))
    best = max(best, dual_value(problem, theta, c, X, y, ctx.distributed))
    here = Certificate(loss + penalty, best, rounding_error(problem, z, y, c, ctx.distributed, T[:, :-1]))
    gap = here.relative_gap
    units = getattr(ctx.objective, "units", 1.0)  # scaled targets: logged in the data's units
    ctx.logger.log_scalars({"train/objective": (loss + penalty) * units, "train/loss": loss * units,
                            "train/optimality_gap": gap if math.isfinite(gap) else 1.0}, epoch)
    return best, here


def _set_weights(linear, T) -> None:
    linear.weight.copy_(T[:, :-1])
    linear.bias.copy_(T[:, -1])
