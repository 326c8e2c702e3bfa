"""fit_newton(): Newton's method on the full training objective (optim=newton).

Each iteration solves H d = -g for the Newton direction, where g and H are the gradient and the
Hessian of the objective (loss + penalty). Two ways to get them, one loop around both:

  a linear model with a smooth convex loss and penalty (logistic, squared error, Poisson, squared
      hinge under L2: what the certified solver solves by Newton's method): H = X^T D X + alpha I,
      one product per block, and the step of derivtrain/trainer/linear_newton.py, the certified
      solver's own;
  anything else twice differentiable (an MLP, a plugin's model or loss, no penalty): g and H from
      autograd, H's rows (dense) or Hessian-vector products (Newton-CG)
      (derivtrain/trainer/autograd_newton.py).

A backtracking line search (Armijo, derivtrain/trainer/armijo.py) keeps every step a descent step
far from the optimum; near it the full step is taken and convergence is quadratic. The test is
the Newton decrement: lambda^2 / 2 = -g.d / 2 estimates how far the objective is above its
minimum, independently of how the parameters are scaled. Where the objective has a convex dual
(linear models with a convex loss and penalty, derivtrain/convex) the run stops on the certified
relative gap <= optim.tol; elsewhere once lambda^2 / 2 <= optim.tol * |f|. It stops without
stepping further.

Newton iterates a few dozen times at most, each iteration a full pass (or, for the dense Hessian
from autograd, one backward pass per parameter), so reading a few scalars on the host per
iteration (the objective for the line search, the decrement for the test) costs nothing measurable.
"""
import torch

from derivtrain.logging import log
from derivtrain.models.base import FLOAT64_STATISTICS
from derivtrain.trainer.autograd_newton import AutogradNewton
from derivtrain.trainer.fitting import FitContext, FitResult, finish
from derivtrain.trainer.metrics import batch_log_likelihood, has_log_likelihood
from derivtrain.trainer.solver_checkpoints import SolverCheckpoints


def fit_newton(ctx: FitContext) -> FitResult:
    objective, optim_cfg, model = ctx.objective, ctx.optim, ctx.model
    if ctx.resume_state is not None:
        model.load_state_dict(ctx.resume_state["model"])
    working = model.weight_dtype  # the model's own dtype (float64: a linear model on the CPU, config/precision.py)
    floor = _floor(ctx)  # optim.tol raised to what the weights' and rows' rounding can certify (or None)
    model.to(getattr(torch, optim_cfg.dtype))
    X = ctx.data.train.X.to(model.weight_dtype)
    targets = ctx.targets(ctx.data.train)
    targets = targets.to(X.dtype) if targets.is_floating_point() else targets
    params = [p for p in model.parameters() if p.requires_grad]
    saves = SolverCheckpoints(ctx, "newton")
    if saves.solver is not None:  # the parameters in the solver's precision (the model's are rounded)
        _restore_params(saves, params)
    stop = _StoppingTest(objective, X, targets, optim_cfg.tol, ctx.data.train.weight, ctx.distributed, floor)
    stepper = _stepper(ctx, X, targets, params)
    steps, converged, stopped_by, f0, predicted_decrease = _iterate(ctx, stepper, stop, saves, X, targets, params,
                                                                    working)
    _say_stop(stop, stopped_by, steps, predicted_decrease, optim_cfg.max_iter, floor, f0)
    solver = _solver_state(steps, params)
    model.to(working)
    return finish(ctx, FitResult(epochs=steps, steps=steps, converged=converged, stopped_by=stopped_by,
                                 tol=stop.tol),
                  state=dict(fitted_by="newton", converged=converged, solver=solver))


def _stepper(ctx, X, targets, params):
    """The linear models' Newton step where the objective is one the certified solver takes by
    Newton's method (the same step: derivtrain/trainer/linear_newton.py), autograd's elsewhere."""
    from derivtrain.convex.certificate import linear_problem
    from derivtrain.trainer.linear_newton import LinearNewton, structured

    problem = linear_problem(ctx.objective)
    if structured(problem, X):
        return LinearNewton(ctx, problem, X)
    optim_cfg, objective, weight = ctx.optim, ctx.objective, ctx.data.train.weight
    dense = optim_cfg.hessian == "dense" or (optim_cfg.hessian == "auto"
                                             and sum(p.numel() for p in params) <= optim_cfg.max_dense)
    share = len(ctx.data.train) / ctx.data.train.total_rows  # trainer=ddp: this rank's rows' part of the mean

    def value() -> torch.Tensor:
        f = objective(X, targets, sample_weight=weight)
        return f * share if share != 1 else f

    return AutogradNewton(params, value, dense, ctx.distributed.all_sum)


def _iterate(ctx, stepper, stop, saves, X, targets, params, working) -> tuple:
    """Newton's iterations from the start (or the resumed iterate) to the stop: (steps, converged,
    stopped_by, the last objective, its predicted decrease)."""
    objective, model = ctx.objective, ctx.model
    steps, converged, stopped_by = saves.next or 0, False, None
    while True:
        f0, slope = stepper.evaluate()  # slope = g.d = -lambda^2: lambda is the Newton decrement
        predicted_decrease = -slope / 2  # lambda^2 / 2, the estimated f - min f
        converged = stop.done(f0, predicted_decrease)
        # the data loss too, the curve a dashboard opens on (the objective less its penalty, as the loop logs it)
        units = objective.units  # scaled targets: logged in the data's units, as metrics.json
        scalars = {"train/loss": (f0 - objective.penalty_value()) * units, "train/objective": f0 * units,
                   "newton/predicted_decrease": predicted_decrease, **stop.scalars()}
        if stop.likelihood:
            scalars["train/log_likelihood"] = batch_log_likelihood(objective, X, targets).item()
        if saves.logs(steps):  # a resumed run's first iterate was logged before the stop
            ctx.logger.log_scalars(scalars, steps)
        if converged:
            stopped_by = "certificate"
            break
        if steps >= ctx.optim.max_iter:
            stopped_by = "iteration_cap"
            break
        step_size = stepper.move(slope)
        if step_size == 0.0:  # no decrease along a descent direction: rounding decides, stop here
            stopped_by = "line_search"
            break
        ctx.logger.log_scalars({"newton/step_size": step_size}, steps)
        steps += 1
        if saves.due(steps):  # every trainer.checkpoint_every_n_epochs iterations, and on Ctrl-C/SIGTERM
            saves.save(steps - 1, _solver_state(steps, params), model=_in_dtype(model.state_dict(), working))
    return steps, converged, stopped_by, f0, predicted_decrease


def _solver_state(next_iteration: int, params) -> dict:
    """What resumes Newton exactly: the parameters in the solver's precision (optim.dtype)."""
    return {"next": next_iteration, "params": [p.detach().clone() for p in params]}


def _restore_params(saves, params) -> None:
    saved = saves.solver.get("params")
    if not isinstance(saved, (list, tuple)) or len(saved) != len(params):
        saves.refuse(f"its solver state holds {len(saved) if isinstance(saved, (list, tuple)) else 'no'} "
                     f"parameter tensors, where this model has {len(params)}")
    with torch.no_grad():
        for i, (p, value) in enumerate(zip(params, saved)):
            p.copy_(saves.check_tensor(f"params[{i}]", value, p.detach()))


def _in_dtype(state: dict, dtype) -> dict:
    """The model's state as the model keeps it: its weights in `dtype`, its float64 statistics of
    the raw features as they are (derivtrain/models/base.py)."""
    return {k: v.to(dtype) if v.is_floating_point() and k not in FLOAT64_STATISTICS else v
            for k, v in state.items()}


def _say_stop(stop, stopped_by, steps: int, predicted_decrease: float, max_iter: int, floor=None,
              f: float = 0.0) -> None:
    """One line on how Newton stopped (and the raised tol's, if any); for a certified objective the
    verdict is finish's (it measures the model's own weights again), so only the iterate's gap is said here."""
    if floor is not None:
        floor.announce()
    if stopped_by == "certificate" and stop.certified:
        log.info("Newton's method: its iterate's certified gap %.2g met optim.tol=%.2g in %d steps", stop.gap,
                 stop.tol, steps)
    elif stopped_by == "certificate":
        log.info("Newton's method converged in %d steps (predicted decrease %.2g)", steps, predicted_decrease)
    elif not stop.certified and stopped_by == "line_search":
        log.warning("Newton's method stopped without converging after %d steps%s: %s", steps,
                    " (the weights are the starting ones)" if steps == 0 else "", _line_search_cause(predicted_decrease, f))
    elif not stop.certified:
        log.warning("Newton's method stopped without converging: optim.max_iter=%d reached; raise optim.max_iter",
                    max_iter)


def _line_search_cause(predicted_decrease: float, f: float) -> str:
    """Why no step decreased the objective: rounding (the decrease left is below what float64 can
    see), or a Newton step far too long (a Hessian nearly singular where the loss flattens)."""
    if predicted_decrease > 1e-8 * max(abs(f), 1.0):
        return (f"its line search found no decrease although the quadratic model predicts {predicted_decrease:.2g}: "
                "the Hessian is nearly singular here, so the Newton step is far too long (a loss whose curvature "
                "vanishes far from the fit, as log-cosh on large residuals); use optim=auto (L-BFGS) or optim=lbfgs")
    return "its line search found no decrease (the objective's rounding exceeds the decrease left)"


def _floor(ctx):
    """The certified objectives' precision floor (derivtrain/trainer/precision_floor.py), else None."""
    from derivtrain.convex.certificate import linear_problem
    from derivtrain.convex.certificate import row_weights
    from derivtrain.trainer.precision_floor import Floor

    problem = linear_problem(ctx.objective)
    if problem is None or not isinstance(ctx.data.train.X, torch.Tensor):
        return None
    y = problem.loss.prepare(ctx.targets(ctx.data.train))
    c = row_weights(problem.loss, y, len(y), ctx.data.train.X.device, ctx.data.train.weight, ctx.distributed)
    return Floor(ctx, problem, ctx.data.train.X, y, c, ctx.distributed)


class _StoppingTest:
    """Stop on the certified gap where the objective has a convex dual (derivtrain/convex), else
    when the Newton decrement lambda^2 / 2 (the quadratic model's estimate of f - min f) is below
    optim.tol relative to |f|."""

    def __init__(self, objective, X, targets, tol: float, weight=None, reduce=None, floor=None):
        from derivtrain.convex.certificate import has_dual

        self.objective, self.X, self.targets, self.tol = objective, X, targets, tol
        self.floor = floor  # optim.tol raised to what rounding lets this problem certify (precision_floor.py)
        if floor is not None:
            self.tol = floor.tol
        self.weight, self.reduce = weight, reduce
        self.certified = has_dual(objective)
        self.likelihood = has_log_likelihood(objective)
        self.gap = None

    def done(self, f: float, predicted_decrease: float) -> bool:
        if not self.certified:
            return predicted_decrease <= self.tol * max(abs(f), torch.finfo(torch.float64).tiny)
        from derivtrain.convex.certificate import certify

        with torch.no_grad():
            certificate = certify(self.objective, self.X, self.targets, sample_weight=self.weight, reduce=self.reduce)
        self.gap = certificate.relative_gap
        if self.floor is not None:
            self.tol = self.floor.at(certificate)
        return self.gap <= self.tol

    def scalars(self) -> dict:
        return {} if self.gap is None else {"train/optimality_gap": self.gap}
