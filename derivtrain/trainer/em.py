"""fit_em(): expectation-maximization for mixture models (optim=em), full batch, with restarts.

Not a gradient loop: each iteration is the model's closed-form E-step (responsibilities, by
log-sum-exp) and M-step (weighted means and covariances). The log-likelihood never decreases;
EM stops when it gains less than optim.tol in one iteration (scikit-learn's test), or after
optim.max_iter iterations. EM finds a local maximum only, so optim.n_init restarts, each from
its own k-means++ start, keep the best.

The convergence test reads the log-likelihood on the host once per iteration. That is a sync per
iteration, which the gradient loop avoids; EM runs a few dozen iterations, each a full pass over
the data, so one scalar per iteration costs nothing measurable.
"""
import math

import torch

from derivtrain.logging import log
from derivtrain.trainer.fitting import FitContext, FitResult, finish
from derivtrain.trainer.solver_checkpoints import SolverCheckpoints


def run_em(model, Z: torch.Tensor, max_iter: int, tol: float, on_iteration=None, weight=None, history=(),
           after_step=None):
    """EM from the model's current parameters: (log-likelihood per iteration, converged).

    Iteration i evaluates the current parameters (E-step) and, unless they have converged,
    moves them to the M-step's maximizer. The values are mean log-likelihoods in the model's
    (standardized) space. `weight`: per-row sample weights (n,), or None; a row of weight w counts
    as w copies of it: the M-step sees responsibilities times weights, the test a weighted mean.
    `history`: the values of the iterations a resumed run has done (the parameters are theirs);
    `after_step(i, history)`: after iteration i's M-step (where a checkpoint resumes exactly).
    """
    history = list(history)
    previous = history[-1] if history else -math.inf
    while len(history) < max_iter:
        resp, mean_ll = model.e_step(Z, weight)
        value = mean_ll.item()  # the convergence test's one host sync per iteration
        history.append(value)
        if on_iteration is not None:
            on_iteration(len(history), value)
        if not math.isfinite(value):
            break
        if abs(value - previous) < tol:
            return history, True
        previous = value
        model.m_step(Z, resp if weight is None else resp * weight.to(resp.dtype))
        if after_step is not None:
            after_step(len(history), history)
    return history, False


def fit_em(ctx: FitContext) -> FitResult:
    model, optim_cfg = ctx.model, ctx.optim
    Z = ctx.data.train.X
    # the user's space: the standardization's Jacobian turns standardized log-densities into raw ones
    offset = model.log_det_jacobian().item()
    generator = torch.Generator(device=Z.device).manual_seed(ctx.trainer.seed)
    saves = SolverCheckpoints(ctx, "em")
    restarts = _Restarts(ctx, saves, generator, offset)
    # a checkpoint without solver state (an older one) goes on from its parameters, as one start
    starts = 1 if ctx.resume_state is not None and saves.solver is None else optim_cfg.n_init
    for start in range(restarts.first, starts):
        done = restarts.begin(start, Z)

        def on_iteration(i, value, start=start):
            if start != restarts.first or saves.logs(i):  # a resumed start's points up to its checkpoint are logged
                ctx.logger.log_scalars({f"em/log_likelihood/init_{start}": value + offset}, i)

        def after_step(i, history, start=start):
            if saves.due(i):  # every trainer.checkpoint_every_n_epochs iterations, and on Ctrl-C/SIGTERM
                saves.save(i, restarts.state(start, history))

        history, converged = run_em(model, Z, optim_cfg.max_iter, optim_cfg.tol, on_iteration, ctx.data.train.weight,
                                    done, after_step)
        log.info("EM start %d: %d iterations, log-likelihood %.4f%s", start, len(history),
                 history[-1] + offset, "" if converged else " (not converged: raise optim.max_iter)")
        restarts.end(history, converged)

    _, history, converged, state = restarts.best
    model.load_state_dict(state)
    for i, value in enumerate(history, start=1):  # the kept start's curve, under the common tag
        ctx.logger.log_scalars({"train/log_likelihood": value + offset}, i)
    result = FitResult(epochs=len(history), steps=len(history), converged=converged,
                       metrics={"train/n_init": starts})
    return finish(ctx, result, state=dict(fitted_by="em", converged=converged))


class _Restarts:
    """The restarts so far: the best one (final log-likelihood, history, converged, parameters), every
    finished one's history, and what a checkpoint in the middle of one holds to resume it exactly."""

    def __init__(self, ctx, saves, generator, offset: float):
        self.ctx, self.saves, self.generator = ctx, saves, generator
        self.first, self.best, self.finished, self.resumed = 0, None, [], None
        if saves.solver is not None:
            self._restore(saves, offset)

    def _restore(self, saves, offset: float) -> None:
        solver = saves.solver
        try:
            self.first, self.resumed = int(solver["start"]), [float(v) for v in solver["history"]]
            self.finished = [[float(v) for v in h] for h in solver["finished"]]
            best = solver["best"]
            if best is not None:
                model = self.ctx.model.state_dict()
                parameters = {k: saves.check_tensor(f"best.{k}", best["parameters"].get(k), v)
                              for k, v in model.items()}
                self.best = (float(best["final"]), [float(v) for v in best["history"]], bool(best["converged"]),
                             parameters)
            self.generator.set_state(solver["generator"])
        except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as exc:
            saves.refuse(f"its EM state does not fit this run ({type(exc).__name__}: {exc})")
        if len(self.resumed) + 1 != saves.next or len(self.finished) != self.first:
            saves.refuse("its EM state is inconsistent (history, iteration and restarts disagree)")
        # the resumed run's event file drops every point after the checkpoint's step, the finished
        # restarts' too: they are logged again, so TensorBoard keeps the whole of each curve
        for start, history in enumerate(self.finished):
            for i, value in enumerate(history, start=1):
                if saves.logs(i):
                    self.ctx.logger.log_scalars({f"em/log_likelihood/init_{start}": value + offset}, i)

    def begin(self, start: int, Z) -> list:
        """Set the model up for restart `start`: the history it has done (empty for a new one)."""
        model, state = self.ctx.model, self.ctx.resume_state
        if state is not None and start == self.first:
            model.load_state_dict(state["model"])  # continue from the checkpoint's parameters
            return list(self.resumed or [])
        model.initialize(Z, self.generator, self.ctx.optim.init)
        return []

    def end(self, history: list, converged: bool) -> None:
        final = history[-1] if math.isfinite(history[-1]) else -math.inf  # a failed start never wins
        if self.best is None or final > self.best[0]:
            self.best = (final, history, converged, {k: v.clone() for k, v in self.ctx.model.state_dict().items()})
        self.finished.append(history)

    def state(self, start: int, history: list) -> dict:
        best = None if self.best is None else dict(zip(("final", "history", "converged", "parameters"), self.best))
        return {"next": len(history) + 1, "start": start, "history": list(history), "finished": self.finished,
                "best": best, "generator": self.generator.get_state()}
