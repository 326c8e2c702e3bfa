"""Checkpoints of the full-batch solvers (the certified solver, Newton, EM) that resume bit for bit.

A solver's iterate alone does not say where it is: the interior point also carries its slacks and
multipliers and the best dual bound so far, Newton its parameters in the solver's precision (the
model keeps float32), EM its restart, its log-likelihood history and the best restart so far.
Each solver hands that over as `solver` (plain tensors, numbers and lists); a checkpoint holds it
with `next`, the iteration the resumed run evaluates first, and `step`, the last iteration whose
points are logged (the resumed run's TensorBoard file drops what the killed run logged after it,
and logs nothing up to it again). A checkpoint is written after every
trainer.checkpoint_every_n_epochs iterations and after a Ctrl-C or SIGTERM, between two iterations.
"""
import torch

from derivtrain.errors import UserError
from derivtrain.trainer.interrupt import TrainingInterrupted


def first_step_logged_again(state) -> int:
    """Where a resumed run's TensorBoard file starts dropping the checkpointed run's points: after the
    checkpoint's step, as a solver with its state goes on there; from the start where a solver's
    checkpoint holds no state (the end of a solve that keeps none, or an older one), as that solver
    starts over and logs every point again (else a run killed before its metrics showed them twice)."""
    starts_over = state.get("fitted_by") is not None and not isinstance(state.get("solver"), dict)
    return 0 if starts_over else int(state["step"]) + 1


class SolverCheckpoints:
    def __init__(self, ctx, fitted_by: str):
        self.ctx, self.fitted_by = ctx, fitted_by
        self.every = ctx.trainer.checkpoint_every_n_epochs
        state = ctx.resume_state
        saved = state.get("solver") if state is not None else None
        # a checkpoint without solver state (an older one): the solver goes on from the weights alone
        self.solver = saved if isinstance(saved, dict) else None
        self.logged = int(state["step"]) if self.solver is not None else -1
        self.next = self._next() if self.solver is not None else None

    def _next(self) -> int:
        value = self.solver.get("next")
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            self.refuse(f"its solver state has no iteration to go on from (next={value!r})")
        return value

    def refuse(self, why: str):
        raise UserError(f"trainer.resume={self.ctx.trainer.resume}: {why}; resume from a checkpoint this "
                        "version of derivtrain wrote, or start a new run")

    def logs(self, step: int) -> bool:
        """Whether iteration `step`'s points go to the logger: not those the resumed run had logged."""
        return step > self.logged

    def due(self, done: int) -> bool:
        """After `done` iterations: a checkpoint now (the periodic one, or a stop was requested)."""
        return bool(self.every and done % self.every == 0) or self._stop_signal() is not None

    def save(self, step: int, solver: dict, model: dict | None = None) -> None:
        """The checkpoint (logged up to iteration `step`); after a stop request, then stop."""
        signal_name = self._stop_signal()
        self.ctx.checkpoints.save(model=model if model is not None else self.ctx.model.state_dict(), epoch=step,
                                  step=step, fitted_by=self.fitted_by, converged=False, solver=solver)
        if signal_name is not None:
            raise TrainingInterrupted(f"{signal_name} after iteration {step}")

    def _stop_signal(self):
        return self.ctx.stop.signal_name if self.ctx.stop is not None else None

    def tensor(self, name: str, like: torch.Tensor) -> torch.Tensor:
        """The saved tensor `name`, checked to be what this run's solver holds there (shape, dtype)."""
        saved = self.solver.get(name)
        return self.check_tensor(name, saved, like)

    def check_tensor(self, name: str, saved, like: torch.Tensor) -> torch.Tensor:
        if not isinstance(saved, torch.Tensor) or saved.shape != like.shape or saved.dtype != like.dtype:
            shown = (f"{tuple(saved.shape)} {saved.dtype}" if isinstance(saved, torch.Tensor) else type(saved).__name__)
            self.refuse(f"its solver state '{name}' is {shown}, where this run's solver holds "
                        f"{tuple(like.shape)} {like.dtype}")
        return saved.to(like.device)
