"""fit_certified(): the convex linear models solved to a certified optimum (optim=auto, certified).

Two second-order methods over the whole training set, both stopped by the same proof:

  smooth loss, L2 penalty (logistic, squared error, Poisson, squared hinge):
      Newton's method (derivtrain/trainer/linear_newton.py, the step optim=newton takes on these
      problems too): H d = -g with H = X^T D X + alpha I (D from the loss's backward pass,
      differentiated again), a backtracking (Armijo) line search; quadratic convergence.
  a kink anywhere (hinge family, L1 penalty):
      a primal-dual interior-point method (derivtrain/trainer/interior_point.py): Mehrotra's
      predictor-corrector, the same linear system as Newton's, ~15-30 iterations.

Every iteration computes the duality gap of the TRUE objective from the iterate's dual point
(derivtrain/convex), and the run stops as soon as (P - D) / |P| <= optim.tol: a proof that the
objective is within tol of its minimum, not an estimate. trainer.max_epochs caps the iterations
(each is a few passes over the data).
"""
import math

import torch

from derivtrain.data import sparse
from derivtrain.convex.plan import method as solver_method
from derivtrain.convex.certificate import Certificate, linear_problem
from derivtrain.convex.certificate import dual_value, rounding_error, row_weights
from derivtrain.threads import threads_for
from derivtrain.trainer.fitting import FitContext, FitResult, finish, set_linear_weights
from derivtrain.trainer.interior_point import InteriorPoint
from derivtrain.trainer.lbfgs_steps import LBFGSSteps, choose
from derivtrain.trainer.linear_newton import parts
from derivtrain.trainer.linear_system import LinearSystem
from derivtrain.trainer.newton_steps import NewtonSteps
from derivtrain.trainer.precision_floor import Floor
from derivtrain.trainer.stop_rules import epoch_cap
from derivtrain.trainer.solver_checkpoints import SolverCheckpoints
from derivtrain.trainer.smooth_part import smooth_part

_ONE_THREAD_BELOW = 1 << 24
_WORTH_CERTIFYING = 2.0  # certify once the interior-point gap estimate is within this factor of tol
_NEWTON_WORTH = 4.0  # Newton's (from its gradient): up to ~2x the certificate's gap (multinomial, 100k rows)


def fit_certified(ctx: FitContext) -> FitResult:
    # most of an iteration is elementwise work on n-sized vectors: below ~16M numbers one thread
    # is as fast, and far faster when the machine's cores are busy (derivtrain/threads.py)
    # a small fit's time is the per-op overhead of a few thousand small tensor ops, and autograd's
    # bookkeeping is a good part of it: off (no_grad), and for a kinked loss, which needs no derivative
    # from autograd at all, inference mode (breast_cancer SVM fit: 15.5 -> 11.0 -> 7.2 ms); a smooth
    # loss's derivatives come from autograd (smooth_part), whose inputs cannot be inference tensors
    problem = linear_problem(ctx.objective)
    smooth_loss = problem.loss.pieces() is None
    with threads_for(ctx.data.train.X.shape[0] * ctx.data.train.X.shape[1], small=_ONE_THREAD_BELOW), \
            (torch.no_grad() if smooth_loss else torch.inference_mode()):
        return _fit_certified(ctx, problem, smooth_loss)


def _fit_certified(ctx: FitContext, problem, smooth_loss: bool) -> FitResult:
    dtype = getattr(torch, ctx.optim.dtype)
    X = sparse.astype(ctx.data.train.X, dtype)  # dense, or sparse rows (CSR) kept sparse
    reduce = ctx.distributed  # trainer=ddp: sums over the rows every rank holds (one process: identity)
    system = LinearSystem(sparse.with_ones_column(X), problem.linear.out_features, ctx.optim.max_dense,
                          ctx.optim.hessian, reduce)
    y = problem.loss.prepare(ctx.targets(ctx.data.train))
    y = y.to(dtype) if y.is_floating_point() else y
    c = row_weights(problem.loss, y, len(X), X.device, ctx.data.train.weight, reduce).to(dtype)
    saves = SolverCheckpoints(ctx, "certified")
    T = _start(ctx, problem, dtype, saves)
    method = InteriorPoint(problem, system, y, c, T, reduce) if solver_method(problem) == "interior_point" else None

    watch, gaps = _Validation(ctx, problem), _Gaps(ctx, problem, X, y, c)
    floor, kept = Floor(ctx, problem, X, y, c, reduce), _BestIterate()
    (iteration, gaps.best), converged, stopped_by = _resume_point(saves, method, kept), False, None
    newton = _newton_part(ctx, problem, system, saves, T) if method is None else None
    carried = gaps.best  # the best bound before iterate `iteration` was evaluated: what resumes it
    while True:
        T = method.T if method is not None else T
        z = newton.scores(T) if method is None else system.scores(T)
        smooth = smooth_part(problem.loss, z, y, c) if smooth_loss else None
        loss, penalty = parts(problem, z, y, c, T, reduce)
        primal = loss + penalty
        kept.offer(T, primal)
        units = ctx.objective.units  # scaled targets: logged in the data's units, as metrics.json
        scalars = {"train/objective": primal * units, "train/loss": loss * units,
                   **(watch(T) if saves.logs(iteration) else {})}
        last = iteration >= epoch_cap(ctx.trainer, ctx.optim)
        # each method knows its own estimate of the gap (the interior point's complementarity, Newton's
        # from its gradient); the certificate, a pass over X and a small solve, decides once it says tol may be met
        estimate = method.observe(z) if method is not None else newton.observe(T, smooth)
        decides = last or estimate <= _worth(method, newton) * floor.tol * abs(primal)
        if decides or (gaps.every_iteration and saves.logs(iteration)):
            theta = method.dual_point(smooth) if method is not None else smooth.theta
            scalars["train/optimality_gap"] = gaps.add(primal, theta, decides, z, T)
            converged = decides and gaps.gap <= floor.at(gaps.here)
        if method is not None:
            scalars["certified/complementarity"] = estimate / max(abs(primal), 1e-300)
        if saves.logs(iteration):  # a resumed solve's first iterate was logged before the stop
            ctx.logger.log_scalars(scalars, iteration)
        if converged or last:
            stopped_by = "certificate" if converged else "iteration_cap"
            break
        iteration, carried = iteration + 1, gaps.best
        moved, T = _advance(method, newton, problem, T, z, y, c, smooth, primal, reduce)
        if not moved:
            stopped_by = "rounding_floor" if method is not None else "line_search"
            break
        if saves.due(iteration):  # every trainer.checkpoint_every_n_epochs iterations, and on Ctrl-C/SIGTERM
            saves.save(iteration - 1, _solver_state(problem, iteration, T, method if method is not None else newton, gaps.best, kept))
    if gaps.best is None or (method is None and not decides):  # the last iterate was not certified: now
        converged, stopped_by = gaps.certify_last(primal, method, smooth, z, T, floor, stopped_by)
    solver = _solver_state(problem, iteration, T, method if method is not None else newton, carried, kept)
    set_linear_weights(problem.linear, kept.T if kept.T is not None else (T if method is None else method.T))
    floor.announce()
    result = FitResult(epochs=iteration, steps=iteration, converged=converged, certificate=gaps.best,
                       stopped_by=stopped_by, tol=floor.tol)
    return finish(ctx, result, state=dict(fitted_by="certified", converged=converged, solver=solver))


def _newton_part(ctx, problem, system, saves, T):
    """The smooth problem's steps: Newton's, or L-BFGS's where its cheaper steps reach optim.tol
    sooner (derivtrain/trainer/lbfgs_steps.py: choose, which says in the log which and why)."""
    if choose(ctx, problem) == "lbfgs":
        return LBFGSSteps(system, problem, T, saves.solver, saves.check_tensor)
    return NewtonSteps(system, problem, saves.solver)


def _worth(method, newton) -> float:
    """Within what factor of tol the method's gap estimate makes a certificate worth its pass
    (L-BFGS sets its own: derivtrain/trainer/lbfgs_steps.py, WORTH)."""
    return _WORTH_CERTIFYING if method is not None else getattr(newton, "worth", _NEWTON_WORTH)


def _advance(method, newton, problem, T, z, y, c, smooth, primal, reduce):
    """(whether the iterate moved, the Newton iterate T). A system that no longer factors (not
    finite, not positive definite even damped) is rounding's verdict, not a crash: the fit stops
    there on its best iterate, as when no step improves."""
    try:
        if method is not None:
            return method.step(smooth) > 0.0, T
        return newton.step(T, z, y, c, smooth, primal, reduce)
    except (FloatingPointError, torch.linalg.LinAlgError):
        return False, T


class _Gaps:
    """The iterates' certificates, kept twice: `best` holds the best dual point of the iterations
    that decide the stop (and resume: the solver state carries it), `shown` of every certificate
    computed. A logger that draws curves gets the gap every iteration (how a user sees the solver
    converge: ~1-2 ms an iteration on breast_cancer, as much as a step); the stop reads `best`
    alone, so a run's result is the same under logger=none. Under trainer=ddp a certificate is a
    collective every rank joins and only rank 0 logs: there the deciding iterations alone."""

    def __init__(self, ctx, problem, X, y, c):
        self.problem, self.X, self.y, self.c, self.reduce = problem, X, y, c, ctx.distributed
        self.every_iteration = getattr(ctx.logger, "draws_curves", True) and ctx.distributed.world_size == 1
        self.best = self.shown = self.here = None
        self.gap = math.inf  # here's relative gap: the iterate with best's dual, at the last deciding iteration

    def add(self, primal: float, theta, decides: bool, z, T) -> float:
        """The certificate of the iterate with dual point theta and scores z; the curve's gap (1.0
        while unbounded). A bound on the rounding of P - D is part of every gap, never hidden
        (derivtrain/convex/certificate.py: rounding_error)."""
        error = rounding_error(self.problem, z, self.y, self.c, self.reduce, T[:, :-1])
        dual = dual_value(self.problem, theta, self.c, self.X, self.y, self.reduce)
        certificate = Certificate(primal, dual, error)
        self.shown = _better(_better(self.shown, self.best), certificate)
        if decides:
            self.best = _better(self.best, certificate)
            self.here = Certificate(primal, self.best.dual, error)
            self.gap = self.here.relative_gap
        gap = Certificate(primal, self.shown.dual, error).relative_gap
        return gap if math.isfinite(gap) else 1.0  # no dual point yet: the bound says nothing


    def certify_last(self, primal: float, method, smooth, z, T, floor, stopped_by) -> tuple:
        """(converged, stopped_by) once the iterate the fit stopped on is certified."""
        self.add(primal, method.dual_point(smooth) if method is not None else smooth.theta, True, z, T)
        converged = self.gap <= floor.at(self.here)
        return converged, ("certificate" if converged else stopped_by)


def _better(kept, certificate):
    """The one with the higher dual value (the tighter bound); either may be None."""
    if kept is None or certificate is None:
        return certificate if kept is None else kept
    return certificate if certificate.dual > kept.dual else kept


def _solver_state(problem, next_iteration: int, T, method, best, kept) -> dict:
    """What resumes the solve exactly (derivtrain/trainer/solver_checkpoints.py): the iterate in the
    solver's precision, the interior point's slacks and multipliers (`method`: it, or
    NewtonSteps, whose choice of step is kept), the best dual bound so far,
    the least-objective iterate so far. The model's weights are set to the iterate too: a
    checkpoint's model is the iterate, rounded."""
    T = method.T if isinstance(method, InteriorPoint) else T
    set_linear_weights(problem.linear, T)
    kept_state = {} if kept.T is None else {"kept_T": kept.T, "kept_primal": kept.primal}
    return {"next": next_iteration, "T": T, "best": None if best is None else [best.primal, best.dual],
            **kept_state, **method.state()}


def _resume_point(saves, method, kept) -> tuple:
    """(first iteration, best certificate so far): a new solve's, or a resumed one's (its interior
    point's slacks and multipliers and its least-objective iterate restored)."""
    if saves.solver is None:
        return 0, None
    if method is not None:
        method.restore(saves.solver, saves.check_tensor)
    if "kept_T" in saves.solver:
        kept.T = saves.check_tensor("kept_T", saves.solver["kept_T"], saves.solver["T"])  # T: checked by _start
        kept.primal = float(saves.solver.get("kept_primal", math.inf))
    return saves.next, _saved_best(saves)


def _saved_best(saves):
    best = saves.solver.get("best")
    if best is None:
        return None
    if not (isinstance(best, (list, tuple)) and len(best) == 2 and all(isinstance(v, float) for v in best)):
        saves.refuse(f"its solver state 'best' is {best!r}, not [primal, dual]")
    return Certificate(*best)


class _BestIterate:
    """The iterate of least objective so far (a copy: the solver updates its own in place). The
    fit ends on it, not on the last: an interior-point step taken below the rounding floor can
    raise P, and a tighter optim.tol must never give a worse model."""

    def __init__(self):
        self.T, self.primal = None, math.inf

    def offer(self, T, primal: float) -> None:
        if primal < self.primal:
            self.T, self.primal = T.clone(), primal


def _start(ctx, problem, dtype, saves) -> torch.Tensor:
    """From zero (the usual start of a convex solver, and deterministic), a resumed run's iterate
    (its weights alone when the checkpoint has no solver state), or a path's warm start."""
    linear = problem.linear
    if ctx.warm_start is not None:
        return ctx.warm_start.to(dtype=dtype, device=linear.weight.device).clone()
    zeros = torch.zeros(linear.out_features, linear.in_features + 1, dtype=dtype, device=linear.weight.device)
    if saves.solver is not None:
        ctx.model.load_state_dict(ctx.resume_state["model"])
        return saves.tensor("T", zeros)
    if ctx.resume_state is not None:
        ctx.model.load_state_dict(ctx.resume_state["model"])
        return torch.cat([linear.weight, linear.bias[:, None]], dim=1).detach().to(dtype)
    return zeros


class _Validation:
    """The validation metrics of each iterate, for the dashboard's "is it learning?" curves (a pass
    over the validation rows, small beside an iteration's passes over the training rows)."""

    def __init__(self, ctx, problem):
        self.ctx, self.linear = ctx, problem.linear
        self.targets = ctx.targets(ctx.data.val) if ctx.data.val is not None and ctx.trainer.val_every_n_epochs else None

    def __call__(self, T) -> dict:
        if self.targets is None:
            return {}
        from derivtrain.trainer.metrics import evaluate

        set_linear_weights(self.linear, T)
        return evaluate(self.ctx.objective, self.ctx.data.val, self.targets, "val", self.ctx.data.spec.n_classes)

