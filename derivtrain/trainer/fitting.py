"""The contract every fitter keeps: what it is given (FitContext), what it returns (FitResult),
and the one `finish` they all end with.

A fitter is a function `fit(ctx) -> FitResult` (the gradient loop, Newton's method, EM, the
certified linear solver; derivtrain/trainer/fitters.py picks one). It moves the model's parameters
and says how it stopped; `finish` then writes the final checkpoint and measures the result the
same way for every fitter: the data loss and metrics on the training and validation rows, the
regularized objective `train/objective`, and for convex models the certified bound
`train/optimality_gap` with `train/converged` (the bound is at most optim.tol).
"""
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import torch

from derivtrain.logging import log
from derivtrain.trainer.checkpoint import discard_from, save_checkpoint
from derivtrain.trainer.distributed import SingleProcess
from derivtrain.trainer.metrics import evaluate


@dataclass
class Checkpointer:
    """Where checkpoints go and what every one of them carries besides the fitter's own state."""

    path: Optional[Path]  # None: keep nothing on disk (scikit-learn estimators)
    extra: dict = field(default_factory=dict)
    keep: int = 2
    is_main: bool = True  # under data parallelism only rank 0 writes
    # the logger's flush: the points logged so far reach the disk before the checkpoint that a resumed
    # run goes on from (its TensorBoard file drops only what was logged after that checkpoint's step)
    flush_log: Optional[Callable[[], None]] = None

    def save(self, **content) -> None:
        if self.path is not None and self.is_main:
            if self.flush_log is not None:
                self.flush_log()
            save_checkpoint(self.path, keep=self.keep, **content, **self.extra)

    def discard_from(self, first_bad_step: int) -> Optional[int]:
        """After a divergence: drop the checkpoints whose weights may not give a finite loss; the step
        of the newest one kept (None: none is)."""
        if self.path is not None and self.is_main and self.path.parent.is_dir():
            return discard_from(self.path, first_bad_step)
        return None


@dataclass
class FitContext:
    objective: Any  # derivtrain.losses.Objective: model, loss, penalty
    data: Any  # derivtrain.data.Data
    optim: Any  # the optim config node
    trainer: Any  # the trainer config node
    logger: Any
    checkpoints: Checkpointer
    resume_state: Optional[dict] = None
    distributed: Any = field(default_factory=SingleProcess)
    diagnostics: Any = None
    stop: Any = None  # StopRequests (trainer/interrupt.py): None = the gradient loop installs its own
    # the certified solver's first iterate [W | b] (derivtrain/path/: each strength starts from the last one's
    # solution); None = from zero
    warm_start: Any = None
    encoded: dict = field(default_factory=dict, repr=False)  # targets(split), computed once per split

    @property
    def model(self):
        return self.objective.model

    def targets(self, split):
        """A split's labels as the loss wants them (signs, indices, values). Encoded once per split: a
        fit asks for the training rows' up to four times (batches, final metrics, certificate)."""
        loss = self.objective.loss
        held = self.encoded.get(id(split))
        if held is None or held[0] is not split or held[1] is not loss:  # (a copy by dataclasses.replace shares it)
            held = self.encoded[id(split)] = (split, loss, loss.encode_targets(split.y, self.data.spec.n_outputs))
        return held[2]


@dataclass
class FitResult:
    epochs: int
    steps: int
    stopped_early: bool = False
    converged: Optional[bool] = None  # the fitter's own test (None: it has none)
    metrics: dict = field(default_factory=dict)  # train/* and val/* after the last epoch
    certificate: Any = None  # a fitter's own duality certificate (its dual bound outlives the weights' rounding)
    # what ended the fit: "certificate" (the gap met tol), "iteration_cap" (a solver's trainer.max_epochs
    # or optim.max_iter), "epoch_cap" (the gradient loop's trainer.max_epochs), "rounding_floor",
    # "line_search" (no step decreased the objective), "early_stopping"; None: the fitter does not say
    stopped_by: Optional[str] = None
    tol: Optional[float] = None  # the tolerance the fitter used, where it raised optim.tol to its precision's floor
    cap: Optional[int] = None  # the iteration cap the fitter used, where trainer.max_epochs=null means its own


def set_linear_weights(linear, T: torch.Tensor) -> None:
    """A linear layer's weight and bias from a solver's iterate T = [W | b] (in the layer's dtype)."""
    with torch.no_grad():
        linear.weight.copy_(T[:, :-1].to(linear.weight.dtype))
        linear.bias.copy_(T[:, -1].to(linear.bias.dtype))


def finish(ctx: FitContext, result: FitResult, state: Optional[dict] = None) -> FitResult:
    """Final checkpoint (with the fitter's `state`), then the measurements every run reports."""
    ctx.checkpoints.save(model=ctx.model.state_dict(), epoch=result.epochs, step=result.steps,
                         **(state or {}))
    data, n_classes = ctx.data, ctx.data.spec.n_classes
    certificate = final_certificate(ctx, result)
    metrics = evaluate(ctx.objective, data.train, ctx.targets(data.train), "train", n_classes,
                       scores=_outputs(ctx.model, certificate))
    if data.val is not None:
        metrics.update(evaluate(ctx.objective, data.val, ctx.targets(data.val), "val", n_classes))
    metrics.update(result.metrics)
    metrics.update(objective_report(ctx, metrics["train/loss"], result, certificate))
    metrics.update({"train/steps": result.steps, "train/epochs": result.epochs})
    if metrics.get("val/r2", 0.0) < 0:  # not an error, but nobody should read past it
        from derivtrain.trainer.stop_advice import negative_r2_advice

        log.warning(negative_r2_advice(ctx.optim, result.stopped_by, metrics["val/r2"]))
    result.metrics = metrics
    return result


def _tol(ctx: FitContext, result: FitResult):
    """The tolerance the fitter used: optim.tol, or the floor its precision can certify if higher."""
    return result.tol if result.tol is not None else ctx.optim.get("tol")


@torch.no_grad()
def final_certificate(ctx: FitContext, result: FitResult):
    """The certificate of the model's own (float32) weights on the training rows, or None (no dual,
    or rows not in memory). A fitter's certificate contributes its dual value, a lower bound on the
    optimum whatever weights it came from."""
    from derivtrain.convex.certificate import certify  # the duality code loads only when a run ends

    known = result.certificate.dual if result.certificate is not None else None
    return certify(ctx.objective, ctx.data.train.X, ctx.targets(ctx.data.train), dual=known,
                   sample_weight=ctx.data.train.weight, reduce=ctx.distributed, enough=_tol(ctx, result))


def _outputs(model, certificate):
    """The model's outputs on the training rows from the certificate's float64 scores (rounded once
    to the model's dtype), where its forward is the plain affine map; else None. One pass over X
    fewer: measured on 875k x 100 float32 rows, the forward pass took 28 ms of a 0.19 s report."""
    from derivtrain.models.base import LinearModel

    if certificate is None or certificate.scores is None or type(model).forward is not LinearModel.forward:
        return None
    return model.scores_of(certificate.scores.to(model.linear.weight.dtype))


@torch.no_grad()
def objective_report(ctx: FitContext, train_loss: float, result: FitResult, certificate) -> dict:
    """train/objective, and for convex linear models (a `certificate`: final_certificate's) the
    certified gap and whether it meets tol."""
    objective = ctx.objective
    # train_loss is in the data's units already (evaluate); the penalty and the certificate's primal
    # are the fitted problem's, s^k times smaller when the targets are fitted scaled (the relative
    # gap is the same: derivtrain/losses/targets.py)
    units = objective.units
    report = {"train/objective": train_loss + objective.penalty_value() * units}
    tol = _tol(ctx, result)
    fitter_converged = result.converged
    if certificate is not None:
        report["train/objective"] = certificate.primal * units
        report["train/optimality_gap"] = certificate.relative_gap
        report["train/converged"] = bool(tol is not None and certificate.relative_gap <= tol)
        if not report["train/converged"] and tol is not None:
            from derivtrain.trainer.stop_advice import stop_advice

            advice = stop_advice(ctx.optim, ctx.trainer, result.stopped_by, certificate.relative_gap, cap=result.cap)
            # a bound: a gradient method's last iterate may be far nearer (README, "The certificate")
            log.warning("not converged: the certified bound on the optimality gap is %.2g > optim.tol=%.2g; %s",
                        certificate.relative_gap, tol, advice)
    elif fitter_converged is not None:
        report["train/converged"] = fitter_converged
    return report


def make_context(cfg, objective, data, logger, checkpoint_path=None, resume_state=None, distributed=None,
                 checkpoint_extra=None) -> FitContext:
    """A FitContext from a composed config (what run() builds; for scripts and tests)."""
    checkpoints = Checkpointer(None if checkpoint_path is None else Path(checkpoint_path), checkpoint_extra or {},
                               keep=cfg.trainer.keep_checkpoints, flush_log=getattr(logger, "flush", None))
    return FitContext(objective, data, cfg.optim, cfg.trainer, logger, checkpoints, resume_state=resume_state,
                      distributed=distributed or SingleProcess(), diagnostics=cfg.get("diagnostics"))
