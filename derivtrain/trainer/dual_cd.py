"""fit_dual_cd(): the hinge under an L2 penalty by dual coordinate descent, on sparse rows and on large
dense ones, and the squared hinge on sparse rows, stopped by the same certificate as fit_certified.

The interior-point method (derivtrain/trainer/interior_point.py) forms a (d + 1)^2 Hessian and its
Cholesky factor at each of its ~20 steps: on 20k x 2k tf-idf rows (30 nonzeros a row) 2.2 s to a
1e-3 gap, where LIBLINEAR's dual coordinate descent takes 0.25 s. This is that method (Hsieh et al.
2008; the epochs are derivtrain/trainer/dual_cd_kernels.py): one dual variable per row and score
column, each step O(its row's nonzeros), w kept equal to the dual point's primal image.

derivtrain's objective and LIBLINEAR's dual, for one score column (derivtrain/convex/certificate.py's
theta_i = -y_i a_i, a_i in [0, 1] for the hinge):

    P(w, b) = sum_i c_i max(0, 1 - y_i (w.x_i + b)) + alpha/2 ||w||^2,    beta_i = c_i a_i / alpha,
    w = sum_i beta_i y_i x_i

The squared hinge c_i max(0, 1 - y_i z_i)^2 is LIBLINEAR's L2-loss dual (a_i = 2 max(0, 1 - y_i z_i),
no upper bound; derivtrain/trainer/dual_cd_kernels.py), on sparse rows only: 140k x 100k standardized
tf-idf rows, the fit 2.8-3.2 s against Newton's 28 s (LinearSVC to tol 1e-4: 11.1 s); 20k x 2k to a 1e-3
gap 0.020 s (Newton 0.029-0.040, LIBLINEAR 0.023-0.025). Dense rows keep Newton's steps (100k x 50: 0.135 s).

The bias is unpenalized, which puts a constraint sum_i beta_i y_i = 0 on the dual that single
coordinates cannot keep. LIBLINEAR penalizes the bias instead (a column of ones, scaled by B), which
changes the problem. Here the bias gets a proximal term: epoch k solves for (w, v) with the bias
b = o_k + B v and penalty alpha/2 v^2, then o_{k+1} = o_k + B v: the proximal point method on b, whose
fixed point is the unpenalized optimum (v -> 0, so sum beta y -> 0). B is a tenth of the rows' root
mean squared norm (_BIAS_SCALE). Measured on tf-idf rows of unit norm, the gap after 100 and 300 epochs
(500 x 150): B = 1, 2e-4 and 9e-6; 0.3, 4e-5 and 1e-7; 0.1, 3e-5 and 8e-8; 0.03, 1e-4 and 3e-6; after
100 and 200 (20k x 2k): B = 1, 1e-5 and 5e-7; 0.1, 2e-7 and 1e-9; B = 10 reached no 1e-3 in 100 epochs.

A certificate costs two passes over X (the scores, for P; X^T (c theta), for D, after the bias's
constraint is met by scaling rows: derivtrain/convex/bias.py) and some O(n) work: 2-4 epochs over
every row. An epoch over every row gives an estimate of the gap for free (the loss at the scores it
met each row with, and the dual value without the bias constraint); a certificate is made only
once that estimate is within _WORTH_CERTIFYING x optim.tol, and no sooner than a tenth of the
epochs so far, or epochs costing as much as a certificate, after the last one. trainer.max_epochs
caps the epochs (default 2500).

Where it is picked (optim=auto, derivtrain/trainer/fitters.py: `suits`), measured to a 1e-3 gap
against the interior point, tf-idf-like rows: 20k x 200, 0.13 s vs 0.72 s; 2k x 1,000, 0.03 vs 0.33;
20k x 2k, 0.05 vs 2.2; dense rows with 50 columns or more, short against the penalty (_where_faster);
a small X only where its epochs are compiled ahead of time (derivtrain/compiled: no numba start to repay).
"""
import math

import numpy as np
import torch

from derivtrain.compiled import kernel
from derivtrain.compiled.exports import PAIR  # the kernel's CSR rows: a stored value and its column
from derivtrain.convex.certificate import Certificate, dual_value, linear_problem, rounding_error, row_weights
from derivtrain.data import sparse
from derivtrain.logging import log
from derivtrain.losses.squared_hinge import SquaredHingeDatafit
from derivtrain.trainer.dual_cd_choice import conjugate_gradient_steps
from derivtrain.trainer.dual_cd_order import shuffle_active
from derivtrain.trainer.dual_cd_schedule import Progress, spacing
from derivtrain.trainer.dual_cd_state import SolveState
from derivtrain.trainer.fitting import FitContext, FitResult, finish, set_linear_weights
from derivtrain.trainer.linear_newton import parts
from derivtrain.trainer.precision_floor import Floor, row_squares
from derivtrain.trainer.solver_checkpoints import SolverCheckpoints

_EPOCH_CAP = 2500  # as far as the progress rule lets a fit go (dual_cd_schedule._HOPELESS_WIDE)
_WORTH_CERTIFYING = 2.0
_BIAS_SCALE = 0.1  # B, the bias column's value, over the rows' root mean squared norm (measured: the docstring)
_NO_INDEX, _NO_PAIRS, _NO_VALUES = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=PAIR), np.zeros(0)  # (unread)
_SETTLED = 1e-3  # shrinking: visit every row again once the projected gradients spread this much of the first's
# ... or once the epochs since the last such one visited this many times the rows. Those epochs set rows
# aside; one over every row takes them all back (and gives the gap's estimate). Measured, whole runs
# (optim=auto, model=svm), 1 against 4: 140k x 100k standardized tf-idf rows 19.9 -> 15.8 s (LinearSVC 13.9 s),
# 875k x 100 dense 11.4 -> 10.0-10.5 s, 20k x 2k tf-idf to 1e-3 0.030 -> 0.023 s (16: 0.029 s)
_FULL_EVERY = 4
_FAR_ROWS = 1 << 16  # rows from which an epoch prefetches each row's numbers too (dual_cd_kernels.py)


def fit_dual_cd(ctx: FitContext) -> FitResult:
    problem = linear_problem(ctx.objective)
    with torch.no_grad():
        return _fit(ctx, problem)


def _fit(ctx, problem) -> FitResult:
    X = sparse.astype(ctx.data.train.X, torch.float64)
    y = problem.loss.prepare(ctx.targets(ctx.data.train)).to(torch.float64)
    c = row_weights(problem.loss, y, X.shape[0], X.device, ctx.data.train.weight, ctx.distributed)
    squares = row_squares(X)  # every column's step sizes, and the precision floor's row norms
    floor, saves = Floor(ctx, problem, X, y, c, ctx.distributed, squares), SolverCheckpoints(ctx, "dual_cd")
    norms = squares.numpy()
    squared, alpha = isinstance(problem.loss, SquaredHingeDatafit), float(problem.penalty.l2)
    duals = [_Column(X, norms, y[:, k].numpy(), c.numpy(), alpha, squared) for k in range(y.shape[1])]
    cap = _EPOCH_CAP if ctx.trainer.get("max_epochs") is None else int(ctx.trainer.max_epochs)  # >= 1 (config)
    run = SolveState(Progress(floor.tol, conjugate_gradient_steps(X, ctx.optim.max_dense)))  # (dual_cd_choice.py)
    if saves.solver is not None:
        run.restore(saves, duals)
    here, converged, stopped_by = None, False, "iteration_cap"
    while run.epoch < cap and not run.ended:
        seen = sum(column.epoch(run.rng, run.full) for column in duals)
        run.epoch, work = run.epoch + 1, sum(column.work for column in duals) / len(duals)
        # only an epoch over every row saw every row's loss: the estimate of the gap is its alone
        worth = run.full and seen[0] - seen[1] <= _WORTH_CERTIFYING * floor.tol * abs(seen[0])
        if run.full and not run.certified and run.progress.hopeless(work, *seen):
            return _hand_over(ctx, run.progress, run.epoch, squared)
        if (worth and work >= run.next_check) or run.epoch >= cap:
            run.best, here = _certify(ctx, problem, X, y, c, duals, run.best, run.epoch, saves)
            run.certified, run.next_check = True, work + spacing(work)
            if here.relative_gap <= floor.at(here):
                converged, stopped_by = True, "certificate"
                break
        run.full = any(column.wants_every_row() for column in duals)
        if saves.due(run.epoch):  # every trainer.checkpoint_every_n_epochs epochs, and on Ctrl-C/SIGTERM
            saves.save(run.epoch, run.state(duals), _model_state(ctx, problem, duals))
    if here is None:  # resumed where the solve had ended (its final checkpoint, or the cap): its certificate again
        run.best, here = _certify(ctx, problem, X, y, c, duals, run.best, run.epoch, saves)  # (logged before)
        converged = here.relative_gap <= floor.at(here)
        stopped_by = "certificate" if converged else stopped_by
    set_linear_weights(problem.linear, _iterate(duals))
    floor.announce()
    log.info("dual coordinate descent: %s after %d epochs (gap %.2g)", stopped_by, run.epoch, here.relative_gap)
    result = FitResult(epochs=run.epoch, steps=run.epoch, converged=converged, certificate=here,
                       stopped_by=stopped_by, tol=floor.tol, cap=cap)
    # the solver state too, marked ended: a run killed before its metrics resumes to this end, not to a new solve
    run.ended = True
    return finish(ctx, result, state=dict(fitted_by="dual_cd", converged=converged, solver=run.state(duals)))


def _model_state(ctx, problem, duals) -> dict:
    """The model with the iterate's weights: what a checkpoint's model holds."""
    set_linear_weights(problem.linear, _iterate(duals))
    return ctx.model.state_dict()


class _Column:
    """One score column's dual variables beta, its w = [weights | v], the bias's proximal centre and the
    rows shrinking has not set aside (active[:n_active])."""

    def __init__(self, X, norms, y, c, alpha: float, squared: bool = False):
        """norms: ||x_i||^2 of every row; squared: the squared hinge (else the hinge)."""
        # the kernel's rows: CSR arrays and width 0 (row starts as int64: the type the compiled epoch takes), or values, width
        dense = None if sparse.is_sparse(X) else X.contiguous().numpy()
        self.rows = (X.crow_indices().numpy().astype(np.int64), _pairs(X), _NO_VALUES, 0) if dense is None \
            else (_NO_INDEX, _NO_PAIRS, dense.reshape(-1), dense.shape[1])
        self.y, self.c, self.alpha = np.ascontiguousarray(y), c, alpha
        self.scale = _BIAS_SCALE * math.sqrt(max(float(np.average(norms, weights=c)), 1e-12))
        # the box's top and the dual's diagonal term (dual_cd_kernels.py; the hinge: None); weight 0: beta = 0
        weighted = c > 0
        self.upper = np.where(weighted, np.inf, 0.0) if squared else c / alpha
        self.shift = np.where(weighted, alpha / (2 * np.where(weighted, c, 1.0)), 0.0) if squared else None
        self.qdiag = norms + self.scale ** 2 + (0.0 if self.shift is None else self.shift)
        self.run_epoch = kernel("hinge_epoch" if self.shift is None else "squared_hinge_epoch")  # derivtrain/compiled
        self.beta, self.w, self.offset = np.zeros_like(c), np.zeros(X.shape[1] + 1), 0.0
        self.active, self.n_active = np.arange(len(c)), len(c)
        self.bounds, self.spread, self.visited, self.settled = (math.inf, -math.inf), math.inf, 0, None
        self.work = 0.0  # rows visited, in epochs over every row

    def epoch(self, rng, every_row: bool) -> np.ndarray:
        """One epoch (over every row, or those not set aside), then the bias's proximal step;
        (loss seen + penalty, dual value) estimates (exact in the limit, for an epoch over every row)."""
        if every_row:
            self.n_active, self.bounds = len(self.c), (math.inf, -math.inf)
        # this epoch's order (derivtrain/trainer/dual_cd_order.py: over many rows, blocks of rows)
        shuffle_active(rng, self.active, self.n_active, len(self.c))
        self.work += self.n_active / len(self.c)
        high, low, self.n_active, loss = self.run_epoch(*self.rows, self.y, self.c, self.qdiag, self.upper, self.shift,
                                                   self.beta, self.w, self.scale, self.offset, self.active,
                                                   self.n_active, *self.bounds, len(self.c) >= _FAR_ROWS)
        self.visited = 0 if every_row else self.visited + self.n_active  # (the first pass after one: its rows kept)
        # LIBLINEAR's rule: set aside what points out of its box by more than this epoch's extremes
        self.bounds, self.spread = (high if high > 0 else math.inf, low if low < 0 else -math.inf), high - low
        linear = float(self.beta @ (1.0 - self.y * self.offset)) if every_row else 0.0
        self.offset += self.scale * self.w[-1]
        if not every_row:
            return np.zeros(2)
        w_sq = float(self.w[:-1] @ self.w[:-1])
        curved = 0.0 if self.shift is None else float(self.shift @ np.square(self.beta))
        return np.array([loss + self.alpha / 2 * w_sq, self.alpha * (linear - (w_sq + self.w[-1] ** 2 + curved) / 2)])

    def wants_every_row(self) -> bool:
        """Whether the next epoch should visit every row: the active rows have settled (their projected
        gradients within a thousandth of the first epoch's spread, halved each time it is met), or
        the epochs since the last such one have visited _FULL_EVERY times the rows (so epochs over
        every row cost at most a fifth of the work)."""
        if self.settled is None:
            self.settled = self.spread * _SETTLED
        if self.spread <= self.settled:
            self.settled /= 2
            return True
        return self.visited >= _FULL_EVERY * len(self.c)

    def counters(self) -> list:
        """The column's scalars for a checkpoint (restore takes them back)."""
        numbers = [self.offset, *self.bounds, self.spread, self.work]
        return [float(numbers[0]), int(self.n_active), *map(float, numbers[1:4]), int(self.visited),
                None if self.settled is None else float(self.settled), float(numbers[4])]

    def restore(self, beta, w, active, counters) -> None:
        self.beta[:], self.w[:], self.active[:] = beta, w, active
        self.offset, self.n_active, high, low, self.spread, self.visited, self.settled, self.work = counters
        self.bounds = (high, low)

    def theta(self) -> np.ndarray:
        """The certificate's dual point -y a, a = alpha beta / c (0 on rows of weight 0)."""
        return -self.y * self.alpha * self.beta / np.where(self.c > 0, self.c, 1.0)


def _pairs(X) -> np.ndarray:
    """X's stored values, each beside its column (PAIR): the kernel's layout of CSR rows, a copy of 16
    bytes a stored value (LIBLINEAR keeps the same), made once a fit."""
    pairs = np.empty(X.values().numel(), dtype=PAIR)
    pairs["j"], pairs["v"] = X.col_indices().numpy(), X.values().numpy()
    return pairs


def _hand_over(ctx, progress, epoch: int, squared: bool) -> FitResult:
    """The certified solver's fit from the start (the interior point; the squared hinge's Newton steps),
    said in the log with the reason (this solver is slow on rows long against the penalty: 20k x 2k
    standardized tf-idf at 1e-3 reached a gap of 3e-3 in 1,000 epochs, 4 s; the interior point 1e-4 in 2.2 s)."""
    from derivtrain.trainer.certified import fit_certified

    successor = "Newton's method" if squared else "the interior point"
    log.info("dual coordinate descent: %s after %d epochs; %s takes over", progress.why, epoch, successor)
    return fit_certified(ctx)


def _iterate(duals) -> torch.Tensor:
    """T = [W | b] (K, d + 1): each column's weights and its bias, the proximal centre just moved."""
    return torch.from_numpy(np.stack([np.append(column.w[:-1], column.offset) for column in duals]))


def _certify(ctx, problem, X, y, c, duals, best: float, epoch: int, saves):
    """(the best dual value so far, the iterate's certificate with it), logged at `epoch` (unless a resumed
    run's checkpoint says the run it goes on from logged it)."""
    T = _iterate(duals)
    z = sparse.times_transposed(X, T[:, :-1]) + T[:, -1]
    loss, penalty = parts(problem, z, y, c, T, ctx.distributed)
    theta = torch.from_numpy(np.stack([column.theta() for column in duals], axis=1))
    best = max(best, dual_value(problem, theta, c, X, y, ctx.distributed))
    here = Certificate(loss + penalty, best, rounding_error(problem, z, y, c, ctx.distributed, T[:, :-1]))
    gap = here.relative_gap
    units = getattr(ctx.objective, "units", 1.0)  # scaled targets: logged in the data's units
    if saves.logs(epoch):
        ctx.logger.log_scalars({"train/objective": (loss + penalty) * units, "train/loss": loss * units,
                                "train/optimality_gap": gap if math.isfinite(gap) else 1.0}, epoch)
    return best, here
