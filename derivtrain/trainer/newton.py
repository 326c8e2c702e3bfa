"""fit_newton(): Newton's method on the full training objective (optim=newton).

Each iteration solves H d = -g for the Newton direction, where g and H are the gradient and the
Hessian of the objective (loss + penalty), both from autograd: the gradient is built with
create_graph=True, so differentiating it again gives Hessian rows (dense) or Hessian-vector
products (Newton-CG). For logistic and Poisson regression this is IRLS: H = X^T W X / n + strength I
with W the variance of each row's prediction, formed here by autograd instead of by hand.

A backtracking line search (Armijo) keeps every step a descent step far from the optimum;
near it the full step is taken and convergence is quadratic. The test is the Newton decrement:
lambda^2 / 2 = -g.d / 2 estimates how far the objective is above its minimum, independently of
how the parameters are scaled. Where the objective has a convex dual (linear models with a convex
loss and penalty, derivtrain/convex) the run stops on the certified relative gap <= optim.tol;
elsewhere once lambda^2 / 2 <= optim.tol * |f|. It stops without stepping further.

Newton iterates a few dozen times at most, each iteration a full pass (or, for the dense Hessian,
one backward pass per parameter), so reading a few scalars on the host per iteration (the
objective for the line search, the decrement for the test) costs nothing measurable.
"""
import torch

from derivtrain.logging import log
from derivtrain.models.base import FLOAT64_STATISTICS
from derivtrain.trainer.damped_cholesky import newton_direction_of
from derivtrain.trainer.fitting import FitContext, FitResult, finish
from derivtrain.trainer.metrics import batch_log_likelihood, has_log_likelihood
from derivtrain.trainer.solver_checkpoints import SolverCheckpoints

_ARMIJO = 1e-4  # sufficient decrease: accept a step that achieves this fraction of the predicted one
_MAX_HALVINGS = 40
_MAX_CG_STEPS = 250


def _flat(tensors) -> torch.Tensor:
    return torch.cat([t.reshape(-1) for t in tensors])


def dense_hessian(flat_grad: torch.Tensor, params) -> torch.Tensor:
    """The Hessian, one row per backward pass through the gradient's graph.

    Row by row rather than vmapped (is_grads_batched): the objective contains custom autograd
    Functions, which need not have vmap rules.
    """
    rows = [_flat(torch.autograd.grad(flat_grad[i], params, retain_graph=True, materialize_grads=True))
            for i in range(flat_grad.numel())]
    return torch.stack(rows)


def solve_damped(H: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """-H^-1 g, H damped where it is not positive definite (derivtrain/trainer/damped_cholesky.py)."""
    return newton_direction_of(H, g)


def conjugate_gradient(hvp, g: torch.Tensor) -> torch.Tensor:
    """Truncated CG for H d = -g (Newton-CG): only Hessian-vector products, never H itself.

    Stops at the forcing tolerance min(0.5, sqrt(|g|)) |g| (superlinear convergence, Nocedal and
    Wright, alg. 7.1) or on negative curvature, where the direction so far is still a descent one.
    """
    d = torch.zeros_like(g)
    r = -g.clone()
    p = r.clone()
    rs = r @ r
    tolerance = min(0.5, rs.sqrt().sqrt().item()) * rs.sqrt().item()
    for i in range(min(_MAX_CG_STEPS, g.numel())):
        Hp = hvp(p)
        curvature = p @ Hp
        if curvature.item() <= 0:
            return d if i > 0 else -g
        alpha = rs / curvature
        d.add_(alpha * p)
        r.sub_(alpha * Hp)
        rs_next = r @ r
        if rs_next.sqrt().item() <= tolerance:
            break
        p = r + (rs_next / rs) * p
        rs = rs_next
    return d


def newton_direction(f: torch.Tensor, params, dense: bool, total=lambda t: t):
    """(gradient, Newton direction) of the objective value `f` at the current parameters. `total`
    sums over ranks (trainer=ddp: f is this rank's weighted share; its gradient, Hessian and
    Hessian-vector products are summed, one all-reduce each)."""
    g_local = _flat(torch.autograd.grad(f, params, create_graph=True))  # a graph: differentiated again
    g = total(g_local.detach())
    if dense:
        return g, solve_damped(total(dense_hessian(g_local, params)), g)

    def hvp(v):
        return total(_flat(torch.autograd.grad(g_local, params, grad_outputs=v, retain_graph=True,
                                               materialize_grads=True)))

    return g, conjugate_gradient(hvp, g)


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
    weight = ctx.data.train.weight  # per-row sample weights (derivtrain.Estimator), or None
    params = [p for p in model.parameters() if p.requires_grad]
    saves = SolverCheckpoints(ctx, "newton")
    if saves.solver is not None:  # the parameters in the solver's precision (the model's are rounded)
        _restore_params(saves, params)
    dense = optim_cfg.hessian == "dense" or (optim_cfg.hessian == "auto"
                                             and sum(p.numel() for p in params) <= optim_cfg.max_dense)
    stop = _StoppingTest(objective, X, targets, optim_cfg.tol, weight, ctx.distributed, floor)
    share = len(ctx.data.train) / ctx.data.train.total_rows  # trainer=ddp: this rank's rows' part of the mean
    total = ctx.distributed.all_sum

    def value() -> torch.Tensor:
        f = objective(X, targets, sample_weight=weight)
        return f * share if share != 1 else f

    steps, converged, stopped_by = saves.next or 0, False, None
    while True:
        f = value()
        g, direction = newton_direction(f, params, dense, total)
        slope = (g @ direction).item()  # -lambda^2: lambda is the Newton decrement
        f0, predicted_decrease = total(f.detach()).item(), -slope / 2  # lambda^2 / 2, the estimated f - min f
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
        if steps >= optim_cfg.max_iter:
            stopped_by = "iteration_cap"
            break
        step_size = _line_search(params, direction, lambda: total(value()), f0, slope)
        if step_size == 0.0:  # no decrease along a descent direction: rounding decides, stop here
            stopped_by = "line_search"
            break
        ctx.logger.log_scalars({"newton/step_size": step_size}, steps)
        steps += 1
        if saves.due(steps):  # every trainer.checkpoint_every_n_epochs iterations, and on Ctrl-C/SIGTERM
            saves.save(steps - 1, _solver_state(steps, params), model=_in_dtype(model.state_dict(), working))
    _say_stop(stop, stopped_by, steps, predicted_decrease, optim_cfg.max_iter, floor, f0)
    solver = _solver_state(steps, params)
    model.to(working)
    return finish(ctx, FitResult(epochs=steps, steps=steps, converged=converged, stopped_by=stopped_by,
                                 tol=stop.tol),
                  state=dict(fitted_by="newton", converged=converged, solver=solver))


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


@torch.no_grad()
def _line_search(params, direction: torch.Tensor, value, f0: float, slope: float) -> float:
    """Backtracking from the full Newton step until the Armijo condition holds; moves the
    parameters there and returns the step size (0.0, parameters unchanged, if none decreases f)."""
    start = [p.detach().clone() for p in params]
    pieces = direction.split([p.numel() for p in params])
    t = 1.0
    for _ in range(_MAX_HALVINGS):
        for p, p0, d in zip(params, start, pieces):
            p.copy_(p0 + t * d.view_as(p))
        f = value().item()
        if f <= f0 + _ARMIJO * t * slope:
            return t
        t *= 0.5
    for p, p0 in zip(params, start):
        p.copy_(p0)
    return 0.0
