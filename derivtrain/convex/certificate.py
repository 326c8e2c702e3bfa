"""certify(objective, X, targets): the duality-gap bound on how far a linear model is from optimal.

All arithmetic in float64: a gap of 1e-6 of the objective is far below float32's rounding of a
sum over many rows. X may be dense or sparse (a CSR tensor: read a block of rows at a time, never
densified). `reduce` sums over rows that other ranks hold (trainer=ddp: derivtrain/trainer/
distributed.py's all_sum; None: this process's rows are all the rows).

Certificates of optimality for linear models, from the Fenchel dual of the objective.

A linear model's regularized objective, on training rows x_i with weights c_i (summing to 1:
the mean, or scikit-learn's sample/class weights normalized), is

    P(W, b) = sum_i c_i l_i(z_i) + g(W),        z_i = W x_i + b   (K scores per row)

with a convex loss l_i (the row's target is folded in) and a convex penalty g on the weights,
the bias unpenalized. Writing each loss through its convex conjugate, l_i(z) = max_t t.z - l_i*(t),
and minimizing over W and b gives the dual: for any dual variables theta_i with

    sum_i c_i theta_i = 0          (what minimizing over the unpenalized bias requires)

    D(theta) = -sum_i c_i l_i*(theta_i) - g*(-sum_i c_i theta_i x_i^T)   <=   min P   <=   P(W, b)

so P(W, b) - D(theta) bounds how far the current weights are from the optimum, and
(P - D) / |P| bounds the relative gap (P - P*) / |P|. The bound is exact at the optimum with the
optimal theta, which for a smooth loss is its derivative at the optimal scores. We take theta from
the derivative of the loss (smoothed at the kinks of the hinge family: derivtrain/convex/smoothing.py),
scale rows toward 0 to meet the bias constraint (derivtrain/convex/bias.py) and, for the L1
penalty, to make g* finite (derivtrain/convex/penalty_dual.py).

    certify(objective, X, targets) -> Certificate(primal, dual, relative_gap) or None
    has_dual(objective)            -> whether certify can bound this objective
    linear_problem(objective)      -> the objective as scores, datafit and penalty dual (or None)

The certified solver (derivtrain/trainer/certified.py) minimizes smoothed objectives with Newton's
method and stops when this bound is at most optim.tol.
"""
import math
from dataclasses import dataclass, field
from functools import partial
from typing import Optional

import torch

from derivtrain.data.shards import OneProcess
from derivtrain.convex.bias import balance_rows
from derivtrain.convex.datafit import ConvexDatafit
from derivtrain.convex.golden import best_on_interval
from derivtrain.convex.hinge_duals import hinge_dual_parts, hinge_rounding_sum
from derivtrain.convex.passes import backproject, scores
from derivtrain.convex.penalty import ElementwiseDual
from derivtrain.convex.penalty_dual import penalty_dual
from derivtrain.convex.rowwise import rowsum, rowwise
from derivtrain.threads import one_thread

# barrier widths tried for a kinked loss when no solver gave its own dual point (one pass over X for all)
_MU_CANDIDATES = (1e-1, 1e-2, 1e-3, 1e-4)
_FEASIBLE = 1e-9  # the bias constraint's relative residual up to which a dual point counts as feasible


@dataclass
class Certificate:
    primal: float  # P(W, b): the regularized objective at the current weights
    dual: float  # D(theta) <= min P
    error: float = 0.0  # a bound on the rounding of P - D (rounding_error): part of the bound, never hidden
    # certify's: the scores X W^T + b (n, K) in float64 that P was computed from (the run's final
    # metrics of the training rows reuse them: derivtrain/trainer/fitting.py); None elsewhere
    scores: Optional[torch.Tensor] = field(default=None, repr=False, compare=False)

    @property
    def relative_gap(self) -> float:
        """(P - D + rounding) / |P|, an upper bound on (P - P*) / |P|."""
        gap = max(self.primal - self.dual, 0.0) + self.error
        return gap / max(abs(self.primal), torch.finfo(torch.float64).tiny) if math.isfinite(gap) else math.inf


def rounding_error(problem: "LinearProblem", z, y, c, reduce=None, W=None, theta=None, losses=None) -> float:
    """A bound on the float64 rounding of P - D at scores z: each row's loss, its conjugate and the
    dual point's inner products are computed from numbers of size |l_i| + |l'_i| (|z_i| + |y_i|),
    each to a few units of roundoff. It matters where those sizes dwarf P: regression targets
    around 1e7 fitted to a residual of 0.1 (P - D cancels to ~1e-9 of P there, and a bound that
    left it out would report 0). The penalty's own rounding is a few units of |penalty|. W: a
    solver's iterate, where the model's weights are not yet set. theta: a smooth loss's derivative
    at z where the caller has it (a path's Newton step), instead of a backward pass for it; losses:
    the rows' losses at z, where the caller has them."""
    reduce = reduce or OneProcess()
    total = hinge_rounding_sum(problem, z, y, c, reduce) if theta is None else None  # the binary hinge: compiled
    if total is None:
        given = {"losses": losses, "theta": None if theta is None else theta.to(torch.float64)}
        names = [name for name, value in given.items() if value is not None]
        rows = (z.to(torch.float64), y, c.to(torch.float64)) + tuple(given[name] for name in names)

        def terms(z, y, c, *extra):
            return _rounding_terms(problem.loss, z, y, c, **dict(zip(names, extra)))

        total = reduce.all_sum(rowsum(terms, *rows))  # in blocks of rows: rowwise.py
    W = problem.linear.weight.detach() if W is None else W  # W: a solver's iterate, not yet the model's
    penalty = problem.penalty.value(W.to(torch.float64))
    return 8 * torch.finfo(torch.float64).eps * float(total + penalty.abs())


def _rounding_terms(loss, z, y, c, losses=None, theta=None) -> torch.Tensor:
    """sum_i c_i (|l_i| + |l'_i| (1 + |z_i| + |y_i|)) over a block of rows (rounding_error)."""
    values = (loss.values(z, y) if losses is None else losses).abs()
    if loss.nonsmooth:  # slope <= 1 per score where the loss is > 0; 0 off the kink where it is 0,
        # and a row within rounding of its kink has a barrier derivative of O(1) at width 1e-12
        near = _kink_slopes(loss, z, y).abs().sum(dim=1)
        slope = torch.where(values > 0, loss.slope_bound(z, y).to(values.dtype), near)
    else:
        slope = (dual_point(loss, z, y, 0.0) if theta is None else theta).abs().sum(dim=1)
    size = z.abs().sum(dim=1) + (y.abs().reshape(len(y), -1).sum(dim=1) if y.is_floating_point() else 0.0)
    return c @ (values + slope * (1.0 + size))


@dataclass
class LinearProblem:
    """A linear model's objective taken apart: scores z = X W^T + b, loss, penalty."""

    loss: ConvexDatafit  # derivtrain/convex/datafit.py
    penalty: ElementwiseDual  # or any penalty keeping derivtrain/convex/penalty.py's contract
    linear: torch.nn.Linear  # the model's own layer: weight (K, d), bias (K,)


def linear_problem(objective) -> Optional[LinearProblem]:
    """The objective's LinearProblem, or None where derivtrain/convex/plan.py says it cannot be
    certified (the pre-flight asked the same function of the config's classes)."""
    from derivtrain.convex.plan import objective_certifiable

    if not objective_certifiable(objective):
        return None
    model = objective.model
    datafit = objective.loss.convex_dual(model.linear.out_features)
    penalty = penalty_dual(objective.penalty, tuple(model.linear.weight.shape))
    if datafit is None or penalty is None:
        return None
    return LinearProblem(datafit, penalty, model.linear)


def has_dual(objective) -> bool:
    return linear_problem(objective) is not None


def supports(model_cls, loss_cls, penalty_cls, strength: float, reduction: str = "mean") -> bool:
    """The same question from classes, for the pre-flight config check (nothing instantiated)."""
    from derivtrain.convex.plan import certifiable

    return certifiable(model_cls, loss_cls, penalty_cls, strength, reduction)


def row_weights(score_loss: ConvexDatafit, y: torch.Tensor, n: int, device,
                sample_weight: Optional[torch.Tensor] = None, reduce=None) -> torch.Tensor:
    """c_i: the loss's class weight of the row (or 1) times its sample weight (the data's Split.weight,
    or 1), normalized to sum to 1 (the weighted mean) over every rank's rows."""
    reduce = reduce or OneProcess()
    weights = score_loss.row_weights(y)
    if sample_weight is not None:
        sample_weight = sample_weight.to(device=device, dtype=torch.float64)
        weights = sample_weight if weights is None else weights * sample_weight
    if weights is None:
        total = reduce.all_sum(torch.tensor(float(n), dtype=torch.float64, device=device))
        return torch.full((n,), 1.0, dtype=torch.float64, device=device) / total
    return weights / reduce.all_sum(weights.sum())


def dual_value(problem: LinearProblem, theta, c, X, y, reduce=None) -> float:
    """D(theta) after making theta feasible (bias constraint, then the penalty's domain), in float64
    whatever the iterate's dtype: a float32 dual value rounds up to above P* (a gap of 0 reported
    where the true one is 4e-9)."""
    return dual_values(problem, [theta], c, X, y, reduce)[0]


def dual_values(problem: LinearProblem, thetas: list, c, X, y, reduce=None) -> list:
    """D(theta) of each dual point (float64, as dual_value), made feasible; their X^T (c theta) in one
    pass over X (a check of four barrier widths reads X once, not four times)."""
    reduce = reduce or OneProcess()
    c = c.to(torch.float64)
    y = y.to(torch.float64) if y.is_floating_point() else y
    balanced = [balance_rows(theta.to(torch.float64), c, reduce) for theta in thetas]
    feasible = [theta for theta, residual in balanced if residual <= _FEASIBLE]
    if not feasible:
        return [-math.inf] * len(thetas)
    K = thetas[0].shape[1]
    # G^T = [(c theta)^T for each], (len(feasible) K, n): each written as rows (for K = 1 contiguous ones)
    weighted = c.new_empty(len(feasible) * K, len(c))
    for i, theta in enumerate(feasible):
        torch.mul(theta.T, c, out=weighted[i * K:(i + 1) * K])
    stacked = -reduce.all_sum(backproject(weighted, X))
    values = iter([_value(problem, theta, stacked[i * K:(i + 1) * K], c, y, reduce)
                   for i, theta in enumerate(feasible)])
    return [next(values) if residual <= _FEASIBLE else -math.inf for _, residual in balanced]


def _value(problem: LinearProblem, theta, V, c, y, reduce, loss_part: Optional[float] = None) -> float:
    """D(theta) of a bias-feasible theta, V = -X^T (c theta), scaled into the penalty's domain.
    loss_part: the kinked loss's conjugate sum at theta where the caller has it (theta then unread)."""
    scale = problem.penalty.feasible_scale(V)
    if not problem.loss.nonsmooth or not problem.loss.conjugate_linear:
        # a smooth loss's derivative at the weights is already the dual point; a kinked loss without a
        # closed form for the best scale takes the feasible one
        loss_part = reduce.all_sum(_conjugate_sum(problem.loss, theta, y, c, scale))
        return (-loss_part - problem.penalty.conjugate(scale * V)).item()
    if loss_part is None:
        loss_part = reduce.all_sum(_conjugate_sum(problem.loss, theta, y, c)).item()
    # the hinge family's conjugates are linear on their domain: D(s theta) = -s L - g*(s V), concave
    # in s, and each value costs only the (K, d) penalty term: search s in [0, scale] for the best
    def value(s: float) -> float:
        return -s * loss_part - problem.penalty.conjugate(s * V).item()

    if problem.penalty.quadratic:  # L2: g*(s V) = s^2 g*(V), the best s in closed form
        quadratic = problem.penalty.conjugate(V).item()
        best = min(scale, max(0.0, -loss_part / (2 * quadratic))) if quadratic > 0 else scale
        return max(value(scale), value(best))
    return max(value(scale), value(best_on_interval(value, scale)))


def _conjugate_sum(loss, theta, y, c, scale=1.0) -> torch.Tensor:
    """sum_i c_i l_i*(scale theta_i), a block of rows at a time (derivtrain/convex/rowwise.py)."""
    return rowsum(lambda th, yy, cc: cc @ loss.conjugate(scale * th if scale != 1.0 else th, yy), theta, y, c)


def _kink_slopes(score_loss, z, y) -> torch.Tensor:
    """The barrier-smoothed loss's derivative at width 1e-12 (O(1) within rounding of a kink, ~0
    away from it). The certified solver runs in inference mode, whose tensors autograd cannot
    use: copies made outside it can (a closed-form derivative needs no autograd)."""
    if getattr(score_loss, "smoothed_slope", None) is not None or not z.is_inference():
        return dual_point(score_loss, z, y, 1e-12)
    with torch.inference_mode(False):
        return dual_point(score_loss, z.clone(), y.clone(), 1e-12)


def dual_point(score_loss: ConvexDatafit, z, y, mu: float) -> torch.Tensor:
    """theta_i = d l_mu(z_i) / d z_i: the smoothed loss's derivative, in closed form where the
    datafit gives one (`smoothed_slope`), else by its own backward pass."""
    closed_form = getattr(score_loss, "smoothed_slope", None)
    if closed_form is not None:
        return closed_form(z, y, mu)
    with torch.enable_grad():
        leaf = z.detach().requires_grad_(True)
        (theta,) = torch.autograd.grad(score_loss.smoothed(leaf, y, mu).sum(), leaf)
    return theta


def _primal_parts(problem, X, targets, sample_weight=None, reduce=None):
    """(P at the model's weights, the scores z, targets y, row weights c, each row's loss), all
    float64; z from one pass over X (derivtrain/convex/passes.py)."""
    reduce = reduce or OneProcess()
    W, b = (p.detach().to(torch.float64) for p in (problem.linear.weight, problem.linear.bias))
    z = scores(X, W, b)
    y = problem.loss.prepare(targets)
    c = row_weights(problem.loss, y, len(X), X.device, sample_weight, reduce)
    losses = problem.loss.values(z, y)
    return (reduce.all_sum(c @ losses) + problem.penalty.value(W)).item(), z, y, c, losses


def _primal(problem, X, targets, sample_weight=None, reduce=None):
    """(P at the model's weights, the scores z, targets y, row weights c), all float64."""
    return _primal_parts(problem, X, targets, sample_weight, reduce)[:4]


@torch.no_grad()
def primal_value(objective, X, targets, sample_weight=None, reduce=None) -> float:
    """The regularized objective P at the model's weights on rows X, in float64."""
    with one_thread():
        return _primal(linear_problem(objective), X, targets, sample_weight, reduce or OneProcess())[0]


@torch.no_grad()
def certify(objective, X, targets, mus=None, dual: Optional[float] = None,
            sample_weight: Optional[torch.Tensor] = None, reduce=None,
            enough: Optional[float] = None) -> Optional[Certificate]:
    """The certificate of the objective's current weights on rows X (a tensor), or None when the
    objective has no known dual or X is not in memory. `dual`: a lower bound on the optimum
    already known (a solver's), kept when it beats the ones built here. `sample_weight`: the rows'
    weights (the data's Split.weight), None = equal. `reduce`: sums over the rows other ranks hold
    (trainer=ddp). `enough`: a gap (a solver's tol) that, where the known dual gives it, needs no
    dual point built here (a pass over X saved). Two passes over X (the scores; G^T X for every
    barrier width together), the rest on vectors of n rows, on one thread (convex/passes.py: why)."""
    problem = linear_problem(objective)
    if problem is None or not isinstance(X, torch.Tensor):
        return None
    reduce = reduce or OneProcess()
    with one_thread():
        primal, z, y, c, losses = _primal_parts(problem, X, targets, sample_weight, reduce)
        error = rounding_error(problem, z, y, c, reduce, losses=losses)
        if dual is not None and enough is not None and Certificate(primal, dual, error).relative_gap <= enough:
            return Certificate(primal, dual, error, z)
        candidates = mus if mus is not None else (_MU_CANDIDATES if problem.loss.nonsmooth else (0.0,))
        if dual is not None and problem.loss.nonsmooth:
            candidates = ()  # a solver's dual point beats what the kinks' derivative gives at its weights
        compiled = hinge_dual_parts(problem, candidates, z, y, c, X, reduce)  # the binary hinge: two sweeps
        if compiled is not None:
            V, loss_parts = compiled
            duals = [_value(problem, None, V[i:i + 1], c, y, reduce, part) for i, part in enumerate(loss_parts)]
        else:
            thetas = [rowwise(partial(dual_point, problem.loss, mu=mu), z, y) for mu in candidates]
            duals = dual_values(problem, thetas, c, X, y, reduce)
        return Certificate(primal, max(duals + ([dual] if dual is not None else [])), error, z)
