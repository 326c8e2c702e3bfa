"""LBFGSSteps: the certified solver's L-BFGS part of an iteration (derivtrain/trainer/certified.py),
a drop-in alternative to NewtonSteps (newton_steps.py) for a smooth loss where Newton's steps cost
more than they save: many coupled parameters (the softmax: K (K + 1) / 2 Hessian blocks, or CG's
Hessian-vector products) against few rows, and a loose optim.tol that a few dozen first-order
steps meet. L-BFGS only changes how the iterates are found: the gradient, its gap estimate and the
certificate that stops the solve are the Newton part's (linear_newton.py: newton_gradient).

On T = [W | b] (K, d + 1) in the solver's precision: the gradient in closed form (one pass over
X), the direction by the two-loop recursion over the last _HISTORY curvature pairs
(s, y) = (T' - T, g' - g), an Armijo backtracking search along it (linear_newton.py: line_search,
through armijo.backtrack) whose full step's scores the next iterate reuses. A pair with
y . s <= 0 says nothing about the curvature (the objective is convex, so only rounding gives one)
and is skipped. The memory is part of the solver's checkpoint: a resumed solve takes the
uninterrupted one's steps, bit for bit.
"""
import math

import torch

from derivtrain.data import sparse
from derivtrain.logging import log
from derivtrain.trainer.damped_cholesky import damped_cholesky
from derivtrain.trainer.linear_newton import line_search, newton_gradient

_HISTORY = 10  # curvature pairs kept (scikit-learn's and scipy's default; 5-40 took 68-59 steps on digits)
# certify once the gap estimate is at tol (Newton's 4x: L-BFGS's gradients zigzag, and each dip below 4 tol
# paid a certificate whose bias balancing is a Newton solve of its own: digits softmax 17 -> 2 certificates)
WORTH = 1.0
# the rule (choose): measured on one thread, CPU seconds of whole fits (scripts/bench_second_order.py --lbfgs)
_LOOSEST_NEWTON = 1e-3  # optim.tol below this: Newton (100k x 50 softmax to 1e-4: Newton 0.65 s, L-BFGS 0.85 s)
_ROWS_PER_PARAMETER = 64  # fewer rows a parameter: Newton (digits softmax, 2.8 a parameter: 67 L-BFGS steps)


class LBFGSSteps:
    """L-BFGS's part of an iteration, with NewtonSteps' interface: state(), scores(T),
    observe(T, smooth) -> the gap estimate, step(...) -> (moved, T)."""

    worth = WORTH

    def __init__(self, system, problem, T, saved: dict | None = None, check=None, history: int = _HISTORY):
        """T: the first iterate (what the saved tensors must match); saved: a resumed solve's solver
        state (state() below), else None; check(name, tensor, like): the tensor, refused unless it has
        like's shape and dtype (SolverCheckpoints.check_tensor)."""
        self.system, self.problem, self.history = system, problem, history
        self.gradient, self.next_scores, self.estimate = None, None, math.inf
        self.pairs = []  # (s, y, 1 / y.s), oldest first
        # the last step and the gradient it left from: a pair once the next gradient is known
        self.last_step = self.last_gradient = None
        self.metric = None  # the Cholesky factor of the first iterate's Hessian, shared by the classes (_metric)
        if saved:
            self._restore(saved, check or (lambda name, tensor, like: tensor), T)

    def state(self) -> dict:
        """The memory, the pending step and the metric (a resumed solve takes the same steps)."""
        return {"lbfgs_s": [s for s, _, _ in self.pairs], "lbfgs_y": [y for _, y, _ in self.pairs],
                "lbfgs_step": self.last_step, "lbfgs_gradient": self.last_gradient, "lbfgs_metric": self.metric}

    def _restore(self, saved: dict, check, T) -> None:
        """A checkpoint of the Newton part (no lbfgs_ keys) starts with no memory, the metric from its T."""
        for k, (s, y) in enumerate(zip(saved.get("lbfgs_s") or [], saved.get("lbfgs_y") or [])):
            s, y = check(f"lbfgs_s[{k}]", s, T), check(f"lbfgs_y[{k}]", y, T)
            self.pairs.append((s, y, 1.0 / _dot(y, s)))  # as _remember computes it: the same bits
        if saved.get("lbfgs_step") is not None:
            self.last_step = check("lbfgs_step", saved["lbfgs_step"], T)
            self.last_gradient = check("lbfgs_gradient", saved.get("lbfgs_gradient"), T)
        if saved.get("lbfgs_metric") is not None:
            self.metric = check("lbfgs_metric", saved["lbfgs_metric"], T.new_empty(T.shape[1], T.shape[1]))

    def scores(self, T):
        z, self.next_scores = self.next_scores, None
        return self.system.scores(T) if z is None else z

    def observe(self, T, smooth) -> float:
        self.gradient, self.estimate = newton_gradient(self.system, self.problem, T, smooth)
        if self.metric is None:
            self.metric = self._metric(T, smooth)
        if self.last_step is not None:
            self._remember(self.last_step, self.gradient - self.last_gradient)
            self.last_step = self.last_gradient = None
        return self.estimate

    def _remember(self, s, y) -> None:
        ys = _dot(y, s)
        if ys > 0.0 and math.isfinite(ys):
            self.pairs = (self.pairs + [(s, y, 1.0 / ys)])[-self.history:]

    def _metric(self, T, smooth):
        """L-BFGS's starting inverse Hessian, factored once: X^T diag(d) X + the penalty's curvature,
        d the rows' curvature averaged over the classes, at the first iterate. Correlated columns
        are what plain L-BFGS (a multiple of I) crawls along: 100k x 50 (AR(0.8) columns) softmax to
        1e-3 took 52 steps from I, 11 from this; with one score column it is Newton's first H."""
        D = smooth.D if smooth.D.dim() == 2 else smooth.D.diagonal(dim1=1, dim2=2)
        _, extra = self.problem.penalty.smooth_part(T[:, :-1])
        M = self.system.reduce.all_sum(sparse.gram(self.system.X, D.mean(dim=1)))
        M.diagonal()[:-1] += extra.mean(dim=0)
        return damped_cholesky(M)

    def step(self, T, z, y, c, smooth, primal, reduce) -> tuple:
        """One L-BFGS step from T; where the search finds no decrease along the memory's direction,
        the memory is dropped and the metric's own step tried before the solve stops there."""
        for _ in range(2 if self.pairs else 1):
            direction = self._direction(self.gradient)
            slope = _dot(self.gradient, direction)
            t = 0.0
            if slope < 0.0 and math.isfinite(slope):
                t, self.next_scores = line_search(self.system, self.problem, T, z, y, c, direction, slope, primal,
                                                  reduce)
            if t > 0.0:
                moved = T + direction if t == 1.0 else T + t * direction
                self.last_step, self.last_gradient = moved - T, self.gradient
                return True, moved
            self.pairs = []
        return False, T

    def _direction(self, g):
        """-H g by the two-loop recursion (Nocedal and Wright, Algorithm 7.4), H0 = gamma M^-1 with
        gamma = s.y / y.M^-1 y of the newest pair (1 without one: the metric's own step)."""
        q, alphas = g.clone(), []
        for s, y, rho in reversed(self.pairs):
            a = rho * _dot(s, q)
            q.add_(y, alpha=-a)
            alphas.append(a)
        q = self._h0(q)
        if self.pairs:
            s, y, rho = self.pairs[-1]
            q.mul_(1.0 / (rho * _dot(y, self._h0(y))))
        for (s, y, rho), a in zip(self.pairs, reversed(alphas)):
            q.add_(s, alpha=a - rho * _dot(y, q))
        return q.neg_()

    def _h0(self, q):
        return torch.cholesky_solve(q.T, self.metric).T.contiguous()


def _dot(a, b) -> float:
    return torch.dot(a.reshape(-1), b.reshape(-1)).item()


def choose(ctx, problem) -> str:
    """'lbfgs' or 'newton' for a smooth problem's steps, said in the run's log with the reason.
    L-BFGS where its steps are cheaper and still few: coupled score columns (the softmax, whose
    Newton step is CG over K (K + 1) / 2 blocks' products), many rows a parameter (a pass costs
    what the steps save; few rows, and the certificate's ||g_W||^2 / (2 alpha) <= tol |P| takes
    L-BFGS many more steps than Newton) and optim.tol of at least 1e-3 (past it, Newton's
    quadratic convergence wins). optim.hessian=dense|cg asks for Newton; a warm start (a
    regularization path's next point) is near its optimum, where Newton takes a step or two."""
    if ctx.warm_start is not None:
        return "newton"
    X, optim = ctx.data.train.X, ctx.optim
    size = problem.linear.out_features * (problem.linear.in_features + 1)
    if optim.hessian != "auto":
        why = f"optim.hessian={optim.hessian} asks for it"
    elif sparse.is_sparse(X) or not problem.loss.coupled or problem.linear.out_features < 2:
        why = "sparse rows" if sparse.is_sparse(X) else "independent score columns: H is K blocks, one product each"
    elif optim.tol < _LOOSEST_NEWTON:
        why = f"optim.tol={optim.tol:g} < {_LOOSEST_NEWTON:g}: quadratic convergence pays"
    elif X.shape[0] < _ROWS_PER_PARAMETER * size:
        why = f"{X.shape[0]} rows < {_ROWS_PER_PARAMETER} x {size} parameters: L-BFGS would take many more steps"
    else:
        log.info("certified solver: L-BFGS steps (softmax, %d rows >= %d x %d parameters, optim.tol=%g >= %g)",
                 X.shape[0], _ROWS_PER_PARAMETER, size, optim.tol, _LOOSEST_NEWTON)
        return "lbfgs"
    log.info("certified solver: Newton steps (%s)", why)
    return "newton"
