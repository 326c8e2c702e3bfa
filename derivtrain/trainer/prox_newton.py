"""fit_prox_newton(): a smooth loss under an L1 or elastic-net penalty (lasso, L1-logistic,
L1-Poisson, L1 squared or smooth hinge, Huber + L1), its score columns independent (binary,
regression, one-vs-rest), stopped by the same certificate as fit_certified.

The interior-point method (derivtrain/trainer/interior_point.py) treats |w_j| as two linear pieces
and takes ~15-30 Newton-sized steps whatever the data. Proximal Newton (glum's IRLS with
coordinate descent, skglm's ProxNewton) keeps the L1 term exact and models the smooth part to
second order: at T = [w | b]

    T <- argmin_U  g.(U - T) + 1/2 (U - T)^T H (U - T) + alpha r ||U_w||_1,
    H = X_aug^T diag(D) X_aug + alpha (1 - r) I_w

then a backtracking line search on the true objective. Each step models only a working set of
features (derivtrain/trainer/working_set.py): the non-zero weights and the zero ones that most
violate their optimality condition, chosen again at every iterate from its full gradient X^T G; the
direction is zero off the set, so H is X_S^T D X_S over its columns alone (20k x 2k tf-idf rows,
L1 logistic: sets of 10-18 columns, where the whole H cost 0.12 s a step). Each iteration is one
pass for X^T G, the set's Hessian block (derivtrain/trainer/prox_model.py) and a small L1 quadratic
solved to rounding (derivtrain/trainer/l1_quadratic.py); the scores are carried, z + t dz. A
quadratic loss (lasso) is its own model: its Hessian is formed once, and from zero with few
features the first step lands on the optimum. Smooth losses take ~5-10 steps (quadratic
convergence once the support is found). With K one-vs-rest columns H is block diagonal and the
L1 separates: K small problems a step. Where the loss has no curvature (Huber, the smooth hinge
on their straight parts, so at the start w = 0 for every row of a smooth hinge) H is singular and
its model unbounded: H + mu I is solved instead, Levenberg-Marquardt's damping, mu raised tenfold
while no step decreases the objective and lowered after every full step (0 once H factors on its
own again).

Every iterate's duality gap is computed from its own dual point, the loss's derivative
(derivtrain/convex), over every feature whatever the working set; the fit stops once it is
<= optim.tol, as the certified solver does. With the bias settled to rounding first (O(n), no
pass over X) the gradient pass gives the certificate's V too (derivtrain/trainer/
gradient_certificate.py), so every iterate is certified for O(n) more; where it cannot be (float32
arithmetic, a bias that did not settle) a certificate makes its own pass once the step's predicted
decrease says tol may be met.

Picked by optim=auto (derivtrain/trainer/fitters.py) for independent columns, d + 1 <= optim.max_dense
or rows on the CPU (wider ones: each working set at most optim.max_dense - 1 features, suits);
everything else under L1 (the softmax, wide rows on a GPU) stays with the interior-point method. Under trainer=ddp every sum over
rows (H, g, the objective, the certificate) is summed over the ranks, so every rank takes the same
steps. A resumed run goes on with the certified solver (this one keeps no solver state: its
whole solve is a few passes).
"""
import math

import torch

from derivtrain.data import sparse
from derivtrain.convex.certificate import Certificate, linear_problem
from derivtrain.convex.certificate import dual_value, rounding_error, row_weights
from derivtrain.logging import log
from derivtrain.threads import threads_for
from derivtrain.trainer.armijo import backtrack
from derivtrain.trainer.fitting import FitContext, FitResult, finish, set_linear_weights
from derivtrain.trainer.gradient_certificate import gradient_certificate, settle_bias
from derivtrain.trainer.precision_floor import Floor
# the damping's constants and tests: derivtrain/path/prox_path.py reads them from here
from derivtrain.trainer.prox_model import FIRST_DAMPING, LAST_DAMPING, ProxModel, curvature_scale, curved  # noqa: F401
from derivtrain.trainer.smooth_part import smooth_part
from derivtrain.trainer.stop_rules import epoch_cap
from derivtrain.trainer.working_set import Columns, choose

_MAX_HALVINGS = 50
_WORTH_CERTIFYING = 10.0  # certify once the step's predicted decrease is within this factor of tol
_ONE_THREAD_BELOW = 1 << 24  # as fit_certified: elementwise work on n-vectors, faster on one thread


def suits(objective, data, optim, working_sets: bool = False) -> bool:
    """Whether this solver takes the problem: a smooth loss, an L1 part, score columns that do not
    interact (not the softmax), one column's Hessian of at most optim.max_dense parameters, rows in memory (under trainer=ddp, each rank's
    own: every sum over rows is summed over the ranks, so each takes the same steps).
    working_sets (a one-point fit, fitters.py): rows on the CPU, where each step's Hessian spans a
    working set of at most optim.max_dense - 1 features (working_set.py), take wider problems too
    (the path's solver, derivtrain/path/prox_path.py, forms every feature's Hessian: not there).
    20k x 5,000 tf-idf rows, L1 logistic to 1e-3: the interior point's CG steps 18.9 s."""
    problem = linear_problem(objective)
    if problem is None or not isinstance(data.train.X, torch.Tensor):
        return False
    from derivtrain.convex.kinked_units import AbsolutePieces

    pieces = problem.penalty.pieces()  # the penalty's kinked part: |w| pieces with their costs, or None
    return (problem.loss.pieces() is None and pieces is not None and isinstance(pieces[0], AbsolutePieces)
            and not problem.loss.coupled and (problem.linear.in_features + 1 <= optim.max_dense
                                              or working_sets and data.train.X.device.type == "cpu"))


def fit_prox_newton(ctx: FitContext) -> FitResult:
    problem = linear_problem(ctx.objective)
    X = ctx.data.train.X
    with threads_for(X.shape[0] * X.shape[1], small=_ONE_THREAD_BELOW), torch.no_grad():
        return _fit(ctx, problem)


def _fit(ctx, problem) -> FitResult:
    dtype = torch.float64 if ctx.data.train.X.device.type == "cpu" else getattr(torch, ctx.optim.dtype)
    X = sparse.astype(ctx.data.train.X, dtype)  # the bias apart: no [X | 1] copy of the rows
    y = problem.loss.prepare(ctx.targets(ctx.data.train))
    y = y.to(dtype) if y.is_floating_point() else y
    c = row_weights(problem.loss, y, X.shape[0], X.device, ctx.data.train.weight, ctx.distributed).to(dtype)
    reduce = ctx.distributed  # trainer=ddp: sums over every rank's rows (one process: the identity)
    columns = Columns(X)
    floor, model = Floor(ctx, problem, X, y, c, reduce), ProxModel(problem, columns, reduce, c, X.shape[1])
    T = torch.zeros(problem.linear.out_features, X.shape[1] + 1, dtype=dtype, device=X.device)
    if ctx.warm_start is not None:  # a regularization path's previous point (derivtrain/path/solve.py)
        T = ctx.warm_start.to(dtype=dtype, device=X.device).reshape(T.shape).clone()
    z = _scores(X, T)  # then carried: z + t dz after each step, dz from the working set's columns
    best, here, converged, stopped_by, iteration = -math.inf, None, False, None, 0
    cap = epoch_cap(ctx.trainer, ctx.optim)  # trainer.max_epochs, or a solver's default
    while True:
        T, z, smooth, XtG = _measure(problem, columns, reduce, T, z, y, c)
        primal = _total(reduce, smooth.value) + float(problem.penalty.value(T[:, :-1]))
        # the bias made exact, X^T G is the certificate's V too: a certificate at every iterate for
        # O(n) more (derivtrain/trainer/gradient_certificate.py); else one pass of its own, paid only
        # where the step's predicted decrease says tol may be met
        quick = _quick_certificate(problem, reduce, primal, smooth, XtG, z, y, c, T)
        if quick is not None:
            best, here = max(best, quick.dual), quick
            if _met(ctx, floor, here, best, iteration):
                converged, stopped_by = True, "certificate"
                break
        sets = choose(T[:, :-1].cpu().numpy(), XtG.cpu().numpy(), model.lam[:, :-1], ctx.optim.max_dense - 1) \
            if columns.selectable else [None] * T.shape[0]
        step, dz, decrease = model.step(T, smooth, XtG, sets)
        last = iteration >= cap
        if quick is None and (-decrease <= _WORTH_CERTIFYING * floor.tol * abs(primal) or last):
            best, here = _certify(ctx, problem, X, y, c, z, T, smooth, primal, best)
            if _met(ctx, floor, here, best, iteration):
                converged, stopped_by = True, "certificate"
                break
        # scaled targets: logged in the data's units, as metrics.json
        ctx.logger.log_scalars({"train/objective": primal * getattr(ctx.objective, "units", 1.0)}, iteration)
        if last:
            stopped_by = "iteration_cap"
            break
        while True:  # no decrease along a step of the undamped model: damp it more (below)
            t = _line_search(problem, T, z, y, c, step, dz, primal, decrease, reduce) if decrease < 0 else 0.0
            if t > 0.0 or not model.damp_more():
                break
            step, dz, decrease = model.step(T, smooth, XtG, sets)
        if t == 0.0:
            stopped_by = "line_search"
            break
        model.after(t)
        T, z, iteration = T + t * step, z + t * dz, iteration + 1
    if here is None:  # stopped before any certificate: the last iterate's
        best, here = _certify(ctx, problem, X, y, c, z, T, smooth, primal, best)
    set_linear_weights(problem.linear, T)
    floor.announce()
    log.info("proximal Newton: %s after %d steps (gap %.2g)", stopped_by, iteration, here.relative_gap)
    result = FitResult(epochs=iteration, steps=iteration, converged=converged, certificate=here,
                       stopped_by=stopped_by, tol=floor.tol)
    return finish(ctx, result, state=dict(fitted_by="prox_newton", converged=converged))


def _measure(problem, columns, reduce, T, z, y, c):
    """(T, z, the smooth part, X^T G) at the iterate, its bias settled first."""
    smooth = smooth_part(problem.loss, z, y, c)
    T, z, smooth = settle_bias(problem.loss, z, y, c, T, smooth, reduce)
    return T, z, smooth, reduce.all_sum(columns.backproject(smooth.G))


def _quick_certificate(problem, reduce, primal, smooth, XtG, z, y, c, T):
    """The certificate read off X^T G (derivtrain/trainer/gradient_certificate.py), or None where it
    cannot be (a bias not settled to rounding, float32 arithmetic)."""
    return gradient_certificate(problem, primal, smooth, XtG, z, y, c, T[:, :-1], reduce)


def _met(ctx, floor, here, best, iteration) -> bool:
    """Whether the certificate (with the best dual bound so far) meets the tolerance; logged."""
    here.dual = best
    ctx.logger.log_scalars({"train/optimality_gap": _shown(here)}, iteration)
    return here.relative_gap <= floor.at(here)


def _certify(ctx, problem, X, y, c, z, T, smooth, primal, best):
    """(the best dual bound so far, the iterate's certificate with it)."""
    best = max(best, dual_value(problem, smooth.theta, c, X, y, ctx.distributed))
    return best, Certificate(primal, best, rounding_error(problem, z, y, c, ctx.distributed, T[:, :-1]))


def _shown(certificate) -> float:
    gap = certificate.relative_gap
    return gap if math.isfinite(gap) else 1.0


def _scores(X, T) -> torch.Tensor:
    if not bool(T[:, :-1].any()):  # the usual start, w = 0: no pass over X
        return T[:, -1].expand(X.shape[0], T.shape[0]).clone()
    return sparse.times_transposed(X, T[:, :-1]) + T[:, -1]


def _line_search(problem, T, z, y, c, direction, dz, primal: float, decrease: float, reduce) -> float:
    """The Armijo step along the proximal Newton direction, `decrease` (its model's, L1 change
    included) in the slope's place; 0.0 when none decreases the objective. The scores move
    linearly in T (dz): a trial costs O(n), not a pass over X."""
    def value_at(t: float) -> float:
        loss = float(reduce.all_sum((c * problem.loss.values(z + t * dz, y)).sum()))
        return loss + float(problem.penalty.value((T + t * direction)[:, :-1]))

    return backtrack(value_at, primal, decrease, _MAX_HALVINGS)


def _total(reduce, value: float) -> float:
    return float(reduce.all_sum(torch.tensor(value, dtype=torch.float64)))
