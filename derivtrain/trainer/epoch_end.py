"""What the gradient loop does between epochs: validation, the schedule, histograms, the
sharpness diagnostic, periodic checkpoints, and the optimality certificate that can stop a run.

Every periodic job runs on a count budget (derivtrain/trainer/schedule.py): validation at most 30
times a run, histograms at most 10 times, certificate checks on a geometric schedule within 4% of the
loop's time (their measured cost). Validation runs exactly every val_every_n_epochs when early
stopping or a plateau schedule reads it; where nothing reads it (its curves alone) the run's final
numbers end the curves at the last step, and its interval is stretched to keep it within 4% of the
loop's time unless the run's validations take under 50 ms in all (validation rows of 2^20 numbers
or more; smaller ones keep the count schedule alone, the same points on any machine). A full-batch
epoch is one pass over the training rows and a validation one over the validation rows, a quarter
as many at an 80/20 split: measured on 875k x 100 training rows (python scripts/bench_cli_scale.py
--cases full), 30 epochs of optim=sgd validated every epoch spent 0.18 s of a 1.06 s fit
validating (17%; 4.9% of the 3.6 s run). A short run's validations cost far less than 50 ms
(breast_cancer: well under 1 ms each), so its curve keeps every point.
"""
import math

import torch

from derivtrain.data.mapped import rows_in_memory
from derivtrain.data.sparse import stored_numbers
from derivtrain.threads import SMALL
from derivtrain.trainer.curvature import objective_sharpness, sharpness_tag
from derivtrain.trainer.metrics import evaluate, grad_norm
from derivtrain.trainer.schedule import Geometric, MeasuredInterval, TimeShare, thinned_interval

MAX_VALIDATIONS, MAX_HISTOGRAMS = 30, 10  # a run's validations where no decision reads them; its histograms
# certificate checks: at most this share of the loop's time (DESIGN.md: a periodic job over 5% is a
# bug); before the first is measured, a check is taken to cost this many epochs (python
# scripts/bench_certificate.py, 875k x 100 rows: 233 ms, 3.5 epochs of minibatches of 4096 and
# 7.3 of full batch, whose fused epoch reads X once; 8, the larger rounded up. With the hinge's dual
# points compiled, stop 44: 105 ms, 1.6 and 4.1 epochs; 6.1 where the loops are not built. Stop 45, the
# compiled loops on both threads: 59-79 ms, 0.8-1.1 and 3.0-3.7 epochs (the epoch faster too): 8 stays)
CHECK_SHARE, FIRST_CHECK_IN_EPOCHS = 0.04, 8.0
# validations no decision reads: at most this share of the loop's time, unless all of a run's take less
# than VAL_FREE seconds (schedule.py: MeasuredInterval)
VAL_SHARE, VAL_FREE = 0.04, 0.05
# ... and only on validation rows of this many numbers or more: smaller ones cost a millisecond or two
# each, and a busy machine (a test suite on both cores) took 21 of them past VAL_FREE, thinning a curve
# that an idle one keeps whole; below it the count schedule alone, the same points on every machine
VAL_TIMED_FROM = SMALL


class EpochEnd:
    def __init__(self, ctx, loop):
        from derivtrain.convex.certificate import has_dual

        self.ctx, self.loop = ctx, loop
        trainer, epochs = ctx.trainer, loop.max_epochs
        self.val_targets = ctx.targets(ctx.data.val) if ctx.data.val is not None else None
        val_every = trainer.val_every_n_epochs if self.val_targets is not None else 0
        self.plateau = isinstance(loop.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)
        exact = bool(loop.stopper.patience) or self.plateau  # decisions read every validation
        self.val_every = val_every if exact else thinned_interval(val_every, epochs, MAX_VALIDATIONS)
        self.val_read = exact
        self.val_step = None  # the step of the last validation logged
        self.hist_every = thinned_interval(getattr(ctx.logger, "histogram_every_n_epochs", 0), epochs,
                                           MAX_HISTOGRAMS)
        diagnostics = ctx.diagnostics
        self.hessian_every = diagnostics.hessian_every_n_epochs if diagnostics is not None else 0
        self.ckpt_every = trainer.checkpoint_every_n_epochs
        self.certified = has_dual(ctx.objective) and isinstance(ctx.data.train.X, torch.Tensor)
        self.checks, self.check_time = Geometric(), TimeShare(CHECK_SHARE, FIRST_CHECK_IN_EPOCHS)
        timed = ctx.data.val is not None and stored_numbers(ctx.data.val.X) >= VAL_TIMED_FROM
        self.val_time = MeasuredInterval(self.val_every, epochs, VAL_SHARE, VAL_FREE if timed else math.inf)
        self.epochs_seen = 0  # by this process (a resumed loop's time starts with it)
        self.val_metrics, self.stop_reason, self.converged, self.gap_step = {}, None, None, None
        self.stopped_by = "epoch_cap"  # until a test below says otherwise (FitResult.stopped_by)

    def __call__(self, epoch: int, loss) -> bool:
        """After the epoch's last step; True to stop training."""
        loop, logger, step = self.loop, self.ctx.logger, self.loop.step_count
        stop, self.epochs_seen = False, self.epochs_seen + 1
        if self._validation_due(epoch):
            self.val_metrics = self.val_time.measure(epoch, self.epochs_seen, lambda: self._validate(step))
            loop.shown.update({k: v for k, v in self.val_metrics.items() if k in ("val/loss", "val/accuracy", "val/r2")})
            if loop.stopper.update(self.val_metrics, loop.model, epoch):
                stop, self.stopped_by = True, "early_stopping"
                stopper = loop.stopper
                margin = f" by more than {stopper.min_rel_delta:g} of its best" if stopper.min_rel_delta else ""
                self.stop_reason = (f"{stopper.monitor} did not improve{margin} for {stopper.patience} "
                                    f"validations (early stopping)")
        if loop.stationarity.tol and not stop and loop.stationarity.reached(grad_norm(loop.params).item()):
            stop, self.stopped_by, self.stop_reason = True, "stationarity", loop.stationarity.reason()
        if self.plateau:
            loop.scheduler.step(self.val_metrics.get("val/loss", loss.item() if loss is not None else 0.0))
        elif loop.scheduler is not None:
            loop.scheduler.step()
        if self.hist_every and epoch % self.hist_every == 0:
            logger.log_histograms(loop.model, step)
        if self.hessian_every and epoch % self.hessian_every == 0:
            self._log_sharpness(step)
        if (self.certified and self.checks.due(epoch)
                and self.check_time.allows(self.epochs_seen)
                and self.check_time.measure(lambda: self._certified_optimal(step))):
            stop, self.stopped_by = True, "certificate"
            self.stop_reason = f"the optimality gap is below optim.tol={self.ctx.optim.tol} (certificate)"
        if self.ckpt_every and epoch % self.ckpt_every == 0:
            loop.save()
        return stop

    def _validation_due(self, epoch: int) -> bool:
        """On the count schedule; where no decision reads it, stretched to its share of the time."""
        if self.val_read:
            return bool(self.val_every) and epoch % self.val_every == 0
        return self.val_time.due(epoch)

    def _validate(self, step: int) -> dict:
        metrics = evaluate(self.ctx.objective, self.ctx.data.val, self.val_targets, "val", self.ctx.data.spec.n_classes)
        self.ctx.logger.log_scalars(metrics, step)
        self.val_step = step
        return metrics

    @torch.no_grad()
    def _certified_optimal(self, step: int) -> bool:
        """A duality-gap certificate of the current weights (a pass over the training rows)."""
        from derivtrain.convex.certificate import certify

        train = self.ctx.data.train
        certificate = certify(self.ctx.objective, train.X, self.loop.batches.targets, sample_weight=train.weight,
                              reduce=self.ctx.distributed)
        self.ctx.logger.log_scalars({"train/optimality_gap": certificate.relative_gap}, step)
        self.gap_step = step  # the gap curve's last point: the run's final certificate may end it (loop.finish)
        self.converged = certificate.relative_gap <= self.ctx.optim.tol
        return self.converged

    def _log_sharpness(self, step: int) -> None:
        diagnostics, objective = self.ctx.diagnostics, self.ctx.objective
        X_sample = rows_in_memory(self.ctx.data.train.X, diagnostics.hessian_max_samples)
        targets = self.loop.batches.targets[:len(X_sample)]
        value = objective_sharpness(objective, X_sample, targets, diagnostics.hessian_iterations,
                                    diagnostics.hessian_method)
        self.ctx.logger.log_scalars({sharpness_tag(objective, diagnostics.hessian_method): value}, step)
