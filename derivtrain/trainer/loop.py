"""fit(): the gradient loop (optim=sgd|adam|adamw|lbfgs). Plain PyTorch; the only host syncs are at
the logging interval.

Per step: zero_grad(set_to_none) -> objective (forward) -> backward (the chain rule, through the
custom Functions' hand-written derivatives) -> optional clipping -> optimizer step. Minibatches of
model=svm take the objective's value and gradients by hand instead of through a graph
(derivtrain/losses/linear_svm_rows.py: the graph costs more than the step's arithmetic).
The loop's phases are the methods of GradientLoop: set-up (__init__), resume, step, the logging
point, the end of an epoch, save; `fit` runs them and ends with the shared `finish`.
"""
from contextlib import nullcontext
from functools import partial

import torch

from derivtrain.data.mapped import rows_in_memory
from derivtrain.data.sparse import stored_numbers
from derivtrain.errors import UserError
from derivtrain.logging import Progress, log
from derivtrain.threads import SMALL, threads_for, threads_for_rows
from derivtrain.trainer.auto_batch import auto_batch_size
from derivtrain.trainer.batches import Batches
from derivtrain.trainer.checkpoint import restore_rng, rng_state
from derivtrain.trainer.chunked_batches import ChunkedBatches
from derivtrain.trainer.cuda_graph import GraphedStep
from derivtrain.trainer.early_stopping import EarlyStopping
from derivtrain.trainer.epoch_end import EpochEnd
from derivtrain.trainer.fitting import FitContext, FitResult, finish
from derivtrain.trainer.guard import NonFiniteGuard, TrainingDiverged
from derivtrain.trainer.interrupt import StopRequests, TrainingInterrupted
from derivtrain.trainer.lr_range import check_range_test, default_lr
from derivtrain.trainer.metrics import batch_log_likelihood, grad_norm, has_log_likelihood
from derivtrain.trainer.optimizers import build_optimizer, build_scheduler
from derivtrain.trainer.sharded_batches import ShardedBatches
from derivtrain.trainer.stop_rules import Stationarity, epoch_cap, gradient_tol, min_rel_delta, patience, say_stop
from derivtrain.trainer.schedule import default_log_interval


def fit(ctx: FitContext) -> FitResult:
    train = ctx.data.train
    batch_size, _ = auto_batch_size(ctx.optim, ctx.trainer, ctx.objective, train.total_rows,
                                    isinstance(train.X, torch.Tensor))
    # small batches: the run on one thread, its few large passes (validation, the final metrics) too;
    # where the run may use more and the rows are beyond a cache (a gather is reads of memory), a
    # second thread gathers the next batch while this one steps (derivtrain/trainer/batches.py)
    gather_ahead = (torch.get_num_threads() > 1 and isinstance(train.X, torch.Tensor)
                    and stored_numbers(train.X) >= SMALL)
    with threads_for_rows(train.X, batch_size or train.total_rows):
        loop = GradientLoop(ctx, gather_ahead)
        loop.resume()
        with nullcontext(ctx.stop) if ctx.stop is not None else StopRequests() as stop_requests:
            try:
                loop.train(stop_requests)
            except TrainingDiverged as exc:  # keep only checkpoints whose weights were seen to give a finite loss
                kept = ctx.checkpoints.discard_from(max(loop.guard.last_finite, loop.start_step + 1))
                raise exc.keeping(f"the last checkpoint whose loss was finite (step {kept}) is kept"
                                  if kept is not None else "no checkpoint had a finite loss yet, so none is kept"
                                  ) from None
        return loop.finish()


class GradientLoop:
    def __init__(self, ctx: FitContext, gather_ahead: bool = False):
        self.ctx, trainer = ctx, ctx.trainer
        self.objective, self.model, self.distributed = ctx.objective, ctx.model, ctx.distributed
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        X = ctx.data.train.X
        self.optimizer = build_optimizer(self.params, ctx.optim, capturable=trainer.cuda_graph,
                                         compiled=trainer.compile)
        self.shuffle = torch.Generator(device=X.device).manual_seed(trainer.seed)
        in_memory = isinstance(X, torch.Tensor)  # else out-of-core rows, read chunk by chunk
        # trainer.batch_size, or optim=auto's choice for a large table (derivtrain/trainer/auto_batch.py)
        batch_size, why = auto_batch_size(ctx.optim, trainer, self.objective, ctx.data.train.total_rows, in_memory)
        if why:
            log.info(why)
        shard = ctx.data.train.shard  # trainer=ddp: this rank holds only its own rows
        if shard is not None:
            self.batches = ShardedBatches(X, ctx.targets(ctx.data.train), shard.positions, shard.total,
                                          batch_size, self.shuffle, trainer.shuffle)
        else:
            args = (X, ctx.targets(ctx.data.train), batch_size, self.shuffle, self.distributed.rank,
                    self.distributed.world_size, trainer.shuffle, ctx.data.train.weight)
            self.batches = Batches(*args, ahead=gather_ahead) if in_memory else ChunkedBatches(*args)
        es = trainer.early_stopping  # when the loop is done: derivtrain/trainer/stop_rules.py
        full_batch = self.batches.full_batch
        self.stopper = EarlyStopping(es.monitor, patience(trainer, ctx.optim, ctx.data.val is not None, full_batch),
                                     es.mode, es.min_delta, es.get("restore_best", True),
                                     min_rel_delta(trainer, ctx.optim, full_batch))
        self.max_epochs = epoch_cap(trainer, ctx.optim, early_stopping=bool(self.stopper.patience))
        self.scheduler = build_scheduler(self.optimizer, ctx.optim, self.max_epochs)
        # bf16 autocast: matrix products in bfloat16, losses and reductions stay float32 (a disabled
        # torch.autocast still costs ~1.5 us per step to enter, nullcontext ~0.15 us)
        # (a captured graph must not reuse autocast's cast cache across steps)
        self.autocast = (torch.autocast(X.device.type, dtype=torch.bfloat16, cache_enabled=not trainer.cuda_graph)
                         if trainer.precision == "bf16" else nullcontext())
        self.uses_closure = ctx.optim.name == "lbfgs"  # LBFGS re-evaluates the objective inside step()
        # config values the loop reads are plain locals: an OmegaConf attribute read costs ~10 us,
        # as much as a small full-batch step's own arithmetic
        self.clip = trainer.gradient_clip_norm
        self.log_every = trainer.log_every_n_steps or default_log_interval(self.max_epochs, len(self.batches))
        if ctx.optim.get("lr", 0.0) is None and ctx.optim.name != "sgd":  # sgd's null: scaled to the rows
            check_range_test(batch_size, ctx.data.train.total_rows)
        self.stationarity = Stationarity(gradient_tol(trainer, ctx.optim, self.batches.full_batch))
        self.epoch_end = EpochEnd(ctx, self)
        self.fused = self._use_fused_objective(trainer)
        self.by_hand = self._use_by_hand(trainer)
        self.update_threads = partial(threads_for, sum(p.numel() for p in self.params))
        self.graphed = (GraphedStep(self.loss_and_gradients, self.params, self.optimizer, self.batches.batch_size,
                                    self.clip, inputs_persist=self.batches.full_batch) if trainer.cuda_graph else None)
        self.guard = NonFiniteGuard(trainer.on_nonfinite, self.model, X.device)
        self.likelihood = has_log_likelihood(self.objective)
        self.epoch = self.step_count = self.skip_batches = self.start_step = 0
        self.epoch_start_state, self.shown, self.stopped_early = None, {}, False

    # ---- resume ------------------------------------------------------------------------------
    def resume(self) -> None:
        state, model = self.ctx.resume_state, self.model
        if state is not None and "optimizer" not in state:
            # a checkpoint of EM, Newton or the certified solver has no optimizer state: continue from its parameters
            model.load_state_dict(state["model"])
            return
        if state is None:
            if hasattr(model, "initialize"):
                # models that start from the data (mixtures: k-means++) start where EM starts
                # (out-of-core rows: from the first chunk, a random sample of a file saved shuffled)
                start = torch.Generator(device=self.shuffle.device).manual_seed(self.ctx.trainer.seed)
                model.initialize(rows_in_memory(self.ctx.data.train.X), start)
                if self.distributed.world_size > 1:  # each rank started from its own rows: rank 0's start
                    self.distributed.broadcast_parameters(model)
            if self.ctx.optim.get("lr", 0.0) is None:  # lr=null: the rate is found, not guessed
                self.set_lr(*default_lr(self))
            return
        model.load_state_dict(state["model"])
        try:
            self.optimizer.load_state_dict(state["optimizer"])
            if self.scheduler is not None and state.get("scheduler") is not None:
                self.scheduler.load_state_dict(state["scheduler"])
            self.stopper.load_state_dict(state["early_stopping"])
            self.stationarity.load_state_dict(state.get("stationarity"))
            restore_rng(state["rng"], self.shuffle)
            self.epoch, self.step_count = int(state["epoch"]), int(state["step"])
            self.skip_batches = int(state.get("batch_in_epoch", 0))  # an interrupted epoch goes on where it stopped
        except (KeyError, ValueError, TypeError, RuntimeError, IndexError) as exc:
            raise UserError(f"trainer.resume={self.ctx.trainer.resume}: its optimizer, schedule or RNG state does "
                            f"not fit this run ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"
                            ) from None
        self.start_step = self.step_count
        log.info("resumed after epoch %d + %d batches, step %d", self.epoch, self.skip_batches, self.step_count)

    def set_lr(self, lr: float, how: str) -> None:
        """The rate found, for the optimizer and the schedule built before it was known."""
        for group in self.optimizer.param_groups:
            group["lr"] = group["initial_lr"] = lr
        if self.scheduler is not None and hasattr(self.scheduler, "base_lrs"):
            self.scheduler.base_lrs = [lr for _ in self.optimizer.param_groups]
        log.info("learning rate %.2g, %s (optim.lr=null; set optim.lr to choose one)", lr, how)

    # ---- one step ----------------------------------------------------------------------------
    def _use_fused_objective(self, trainer) -> bool:
        """Full batch in float32, rows unweighted: the linear SVM's fused Function
        (derivtrain/losses/linear_svm.py), chosen once here on the rows this process trains on."""
        if (not self.batches.full_batch or trainer.precision != "32"
                or getattr(self.batches, "sample_weight", None) is not None):
            return False
        X, targets, _, _ = next(iter(self.batches.epoch()))  # full batch: no permutation is drawn
        return self.objective.use_full_batch(X, targets)

    def _use_by_hand(self, trainer) -> bool:
        """Minibatches in float32 (dense rows, or CSR rows on the CPU), unweighted, model=svm: the step
        takes the objective's value and gradients in closed form (derivtrain/losses/linear_svm_rows.py),
        no graph."""
        if (self.batches.full_batch or trainer.precision != "32" or trainer.cuda_graph or self.uses_closure
                or getattr(self.batches, "sample_weight", None) is not None):  # (sharded or chunked rows: no weights)
            return False
        # one row, as the batches will be (rows read from disk: the first, read into memory)
        return self.objective.by_hand_on(rows_in_memory(self.ctx.data.train.X, 1))

    def loss_and_gradients(self, X, targets, share=None, sample_weight=None):
        if self.by_hand:
            loss = self.objective.step_by_hand(X, targets)
            if share is not None:  # data parallel: this rank's share of the batch (see distributed.py)
                loss = loss * share
                torch._foreach_mul_([p.grad for p in self.params], share)
        else:
            with self.autocast:
                loss = self.objective.full_batch() if self.fused else self.objective(X, targets, sample_weight)
            if share is not None:
                loss = loss * share
            loss.backward()
        self.distributed.sync_gradients(self.params)
        return loss

    def step(self, X, targets, sample_weight, share) -> torch.Tensor:
        self.step_count += 1
        if self.graphed is not None:  # forward, backward, clipping and update in one replay
            return self.graphed(X, targets)

        def closure():
            self.optimizer.zero_grad(set_to_none=True)
            return self.loss_and_gradients(X, targets, share, sample_weight)

        if self.uses_closure:  # the line search must see the whole batch's loss on every rank
            return self.optimizer.step(lambda: self.distributed.global_loss(closure()))
        loss = closure()
        if self.clip:
            torch.nn.utils.clip_grad_norm_(self.params, self.clip, foreach=True)
        if self.guard.step_ok(loss, self.params, self.step_count):
            with self.update_threads():  # a linear model's update: one thread (a full batch's fused SGD
                self.optimizer.step()  # of 101 weights took 7.5 ms on two busy cores, 0.05 ms on one)
        return loss

    def log_point(self, loss: torch.Tensor, X, targets) -> None:
        """At the logging interval, the only host sync of the step loop: the batch's objective, its
        data loss (`train/loss`, the same number metrics.json reports for the whole split), lr,
        gradient norm."""
        # LBFGS's step already returned the whole batch's loss; other steps' loss is this rank's share
        objective_value = (loss if self.uses_closure else self.distributed.global_loss(loss)).item()
        norm = grad_norm(self.params).item()
        self.guard.check_logged(objective_value, norm, self.step_count)
        units = self.objective.units  # scaled targets: shown in the data's units, as metrics.json
        self.shown["train/loss"] = (objective_value - self.objective.penalty_value()) * units
        scalars = {"train/loss": self.shown["train/loss"], "train/objective": objective_value * units,
                   "lr": self.optimizer.param_groups[0]["lr"], "grad_norm": norm}
        if self.likelihood:  # one more forward, at the logging interval only
            scalars["train/log_likelihood"] = batch_log_likelihood(self.objective, X, targets).item()
        self.ctx.logger.log_scalars(scalars, self.step_count)

    # ---- save --------------------------------------------------------------------------------
    def state(self, batches_done: int = 0) -> dict:
        """What resumes this loop: epochs completed, plus batches done in the one in flight (then the
        shuffle generator is saved as it was when that epoch drew its permutation, so resuming
        redraws the same one)."""
        return dict(optimizer=self.optimizer.state_dict(),
                    scheduler=self.scheduler.state_dict() if self.scheduler is not None else None,
                    early_stopping=self.stopper.state_dict(), stationarity=self.stationarity.state_dict(),
                    batch_in_epoch=batches_done,
                    rng=rng_state(self.shuffle, self.epoch_start_state if batches_done else None))

    def save(self, batches_done: int = 0) -> None:
        self.ctx.checkpoints.save(model=self.model.state_dict(), epoch=self.epoch - (1 if batches_done else 0),
                                  step=self.step_count, **self.state(batches_done))

    # ---- the epochs --------------------------------------------------------------------------
    def train(self, stop_requests: StopRequests) -> None:
        progress = Progress(self.max_epochs, self.epoch, self.ctx.trainer.progress_bar)
        self.model.train()
        while self.epoch < self.max_epochs and not self.stopped_early:
            self.epoch += 1
            self.epoch_start_state = self.shuffle.get_state()
            last_batch = len(self.batches) - 1
            loss = None
            for batch_index, (X, targets, sample_weight, share) in enumerate(
                    self.batches.epoch(skip=self.skip_batches), start=self.skip_batches):
                loss = self.step(X, targets, sample_weight, share)
                if self.step_count % self.log_every == 0:
                    self.log_point(loss, X, targets)
                if stop_requests.signal_name and batch_index < last_batch:  # stop between two steps
                    self.save(batches_done=batch_index + 1)
                    raise TrainingInterrupted(f"{stop_requests.signal_name} at epoch {self.epoch}, "
                                              f"step {self.step_count}")
            self.skip_batches = 0
            self.stopped_early = self.epoch_end(self.epoch, loss)
            progress.update(self.epoch, self.shown)
            if stop_requests.signal_name:  # the epoch's own work is done: stop at its boundary
                self.save()
                raise TrainingInterrupted(f"{stop_requests.signal_name} after epoch {self.epoch}, "
                                          f"step {self.step_count}")
        progress.close()

    def finish(self) -> FitResult:
        steps_here = self.step_count - self.start_step
        if self.guard.skip and steps_here and self.guard.skipped == steps_here:
            raise self.guard.all_skipped(steps_here)
        if self.guard.skipped:
            log.warning("skipped %d steps with a non-finite loss or gradient (trainer.on_nonfinite=skip_step)",
                        self.guard.skipped)
        say_stop(self)
        restored = self.stopper.restore(self.model, self.epoch) if self.stopper.restore_best else None
        if restored is not None:
            log.info("restored the weights of epoch %d, the best %s (trainer.early_stopping.restore_best)",
                     restored, self.stopper.monitor)
        result = FitResult(epochs=self.epoch, steps=self.step_count, stopped_early=self.stopped_early,
                           converged=self.epoch_end.converged, stopped_by=self.epoch_end.stopped_by,
                           metrics={"train/skipped_steps": self.guard.skipped} if self.guard.skip else {})
        result = finish(self.ctx, result, state=self.state())
        self._end_curves(result.metrics)
        return result

    def _end_curves(self, metrics: dict) -> None:
        """The thinned curves end at the last step, on the final numbers the report measured: the
        certificate's gap, and validation where no decision read it (nothing was restored then)."""
        ends, step, epoch_end = {}, self.step_count, self.epoch_end
        gap, last_check = metrics.get("train/optimality_gap"), epoch_end.gap_step
        if gap is not None and last_check is not None and last_check < step:
            ends["train/optimality_gap"] = gap
        if not epoch_end.val_read and epoch_end.val_step is not None and epoch_end.val_step < step:
            ends.update({k: v for k, v in metrics.items() if k in epoch_end.val_metrics})
        if ends:
            self.ctx.logger.log_scalars(ends, step)
