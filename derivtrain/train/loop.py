"""fit(): the training loop. Plain PyTorch; the only host syncs are at the logging interval.

Per step: zero_grad(set_to_none) -> objective (forward) -> backward (the chain rule, through the
custom Functions' hand-written derivatives) -> optional clipping -> optimizer step.
"""
from contextlib import nullcontext
from dataclasses import dataclass, field

import torch

from derivtrain.data.mapped import rows_in_memory
from derivtrain.hessian import objective_sharpness
from derivtrain.logging import Progress, log
from derivtrain.train.batches import Batches
from derivtrain.train.chunked_batches import ChunkedBatches
from derivtrain.train.cuda_graph import GraphedStep
from derivtrain.train.distributed import SingleProcess
from derivtrain.train.checkpoint import restore_rng, rng_state, save_checkpoint
from derivtrain.train.early_stopping import EarlyStopping
from derivtrain.train.guard import NonFiniteGuard
from derivtrain.train.interrupt import StopRequests, TrainingInterrupted
from derivtrain.train.metrics import batch_log_likelihood, evaluate, has_log_likelihood
from derivtrain.train.optimizers import build_optimizer, build_scheduler


@dataclass
class FitResult:
    epochs: int
    steps: int
    stopped_early: bool
    metrics: dict = field(default_factory=dict)  # train/* and val/* after the last epoch


def _grad_norm(params) -> torch.Tensor:
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return torch.zeros(())
    return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))


def fit(objective, data, optim_cfg, trainer_cfg, logger, checkpoint_path, checkpoint_extra: dict,
        resume_state: dict | None = None, diagnostics=None, distributed=None) -> FitResult:
    model = objective.model
    params = [p for p in model.parameters() if p.requires_grad]
    n_outputs, n_classes = data.spec.n_outputs, data.spec.n_classes
    train_targets = objective.loss.encode_targets(data.train.y, n_outputs)
    val_targets = objective.loss.encode_targets(data.val.y, n_outputs) if data.val is not None else None

    optimizer = build_optimizer(params, optim_cfg, capturable=trainer_cfg.cuda_graph)
    scheduler = build_scheduler(optimizer, optim_cfg, trainer_cfg.max_epochs)
    stopper = EarlyStopping(**trainer_cfg.early_stopping)
    shuffle = torch.Generator(device=data.train.X.device).manual_seed(trainer_cfg.seed)
    distributed = distributed or SingleProcess()
    in_memory = isinstance(data.train.X, torch.Tensor)  # else out-of-core rows, read chunk by chunk
    batches = (Batches if in_memory else ChunkedBatches)(data.train.X, train_targets, trainer_cfg.batch_size,
                                                         shuffle, distributed.rank, distributed.world_size,
                                                         trainer_cfg.shuffle)
    # bf16 autocast: matrix products in bfloat16, losses and reductions stay float32 (a disabled
    # torch.autocast still costs ~1.5 us per step to enter, nullcontext ~0.15 us)
    # (a captured graph must not reuse autocast's cast cache across steps)
    autocast = (torch.autocast(data.train.X.device.type, dtype=torch.bfloat16,
                               cache_enabled=not trainer_cfg.cuda_graph) if trainer_cfg.precision == "bf16"
                else nullcontext())
    uses_closure = optim_cfg.name == "lbfgs"  # LBFGS re-evaluates the objective inside step()
    clip = trainer_cfg.gradient_clip_norm
    # config values the loop reads are plain locals: an OmegaConf attribute read costs ~10 us,
    # as much as a small full-batch step's own arithmetic
    max_epochs, log_every = trainer_cfg.max_epochs, trainer_cfg.log_every_n_steps
    val_every = trainer_cfg.val_every_n_epochs if val_targets is not None else 0
    ckpt_every, hist_every = trainer_cfg.checkpoint_every_n_epochs, getattr(logger, "histogram_every_n_epochs", 0)
    hessian_every = diagnostics.hessian_every_n_epochs if diagnostics is not None else 0

    if resume_state is not None and "optimizer" not in resume_state:
        # a checkpoint of EM or Newton's method has no optimizer state: continue from its parameters
        model.load_state_dict(resume_state["model"])
        resume_state = None
    elif resume_state is None and hasattr(model, "initialize"):
        # models that start from the data (mixtures: k-means++) start where EM starts
        # (out-of-core rows: from the first chunk, a random sample of a file saved shuffled)
        start_generator = torch.Generator(device=data.train.X.device).manual_seed(trainer_cfg.seed)
        model.initialize(rows_in_memory(data.train.X), start_generator)
    likelihood = has_log_likelihood(objective)

    epoch = step = skip_batches = 0
    if resume_state is not None:
        model.load_state_dict(resume_state["model"])
        optimizer.load_state_dict(resume_state["optimizer"])
        if scheduler is not None and resume_state.get("scheduler") is not None:
            scheduler.load_state_dict(resume_state["scheduler"])
        stopper.load_state_dict(resume_state["early_stopping"])
        restore_rng(resume_state["rng"], shuffle)
        epoch, step = resume_state["epoch"], resume_state["step"]
        skip_batches = resume_state.get("batch_in_epoch", 0)  # an interrupted epoch goes on where it stopped
        log.info("resumed after epoch %d + %d batches, step %d", epoch, skip_batches, step)

    def save(batches_done: int = 0):
        """Epochs completed, plus batches done in the one in flight (then the shuffle generator is
        saved as it was when that epoch drew its permutation, so resuming redraws the same one)."""
        if not distributed.is_main:  # one writer per run folder
            return
        save_checkpoint(checkpoint_path, keep=trainer_cfg.keep_checkpoints, model=model.state_dict(),
                        optimizer=optimizer.state_dict(),
                        scheduler=scheduler.state_dict() if scheduler is not None else None,
                        early_stopping=stopper.state_dict(), epoch=epoch - (1 if batches_done else 0),
                        batch_in_epoch=batches_done, step=step,
                        rng=rng_state(shuffle, epoch_start_state if batches_done else None), **checkpoint_extra)

    def loss_and_gradients(X, targets, weight=None):
        with autocast:
            loss = objective(X, targets)
        if weight is not None:  # data parallel: this rank's share of the batch (see distributed.py)
            loss = loss * weight
        loss.backward()
        distributed.sync_gradients(params)
        return loss

    def closure():
        optimizer.zero_grad(set_to_none=True)
        return loss_and_gradients(X, targets, weight)

    # trainer.cuda_graph: the whole step replayed from a CUDA graph (derivtrain/train/cuda_graph.py)
    graphed = (GraphedStep(loss_and_gradients, params, optimizer, batches.batch_size, clip,
                           inputs_persist=batches.full_batch) if trainer_cfg.cuda_graph else None)

    progress = Progress(trainer_cfg.max_epochs, epoch, trainer_cfg.progress_bar)
    shown, stopped_early, val_metrics = {}, False, {}
    guard = NonFiniteGuard(trainer_cfg.on_nonfinite, model, data.train.X.device)
    stop_requests = StopRequests()
    model.train()
    with stop_requests:
        while epoch < max_epochs and not stopped_early:
            epoch += 1
            epoch_start_state = shuffle.get_state()
            last_batch = len(batches) - 1
            epoch_batches = batches.epoch(skip=skip_batches)
            for batch_index, (X, targets, weight) in enumerate(epoch_batches, start=skip_batches):
                step += 1
                if graphed is not None:  # forward, backward, clipping and update in one replay
                    loss = graphed(X, targets)
                elif uses_closure:  # the line search must see the whole batch's loss on every rank
                    loss = optimizer.step(lambda: distributed.global_loss(closure()))
                else:
                    loss = closure()
                    if clip:
                        torch.nn.utils.clip_grad_norm_(params, clip, foreach=True)
                    if guard.step_ok(loss, params, step):
                        optimizer.step()
                if step % log_every == 0:  # the only host sync of the step loop
                    # LBFGS's step already returned the whole batch's loss; other steps' loss is this rank's share
                    shown["train/loss"] = (loss if uses_closure else distributed.global_loss(loss)).item()
                    grad_norm = _grad_norm(params).item()
                    guard.check_logged(shown["train/loss"], grad_norm, step)
                    logger.log_scalars({"train/loss": shown["train/loss"], "lr": optimizer.param_groups[0]["lr"],
                                        "grad_norm": grad_norm}, step)
                    if likelihood:  # one more forward, at the logging interval only
                        likelihood_now = batch_log_likelihood(objective, X, targets).item()
                        logger.log_scalars({"train/log_likelihood": likelihood_now}, step)
                if stop_requests.signal_name and batch_index < last_batch:  # stop between two steps
                    save(batches_done=batch_index + 1)
                    raise TrainingInterrupted(f"{stop_requests.signal_name} at epoch {epoch}, step {step}")
            if val_every and epoch % val_every == 0:
                val_metrics = evaluate(objective, data.val, val_targets, "val", n_classes)
                logger.log_scalars(val_metrics, step)
                shown.update({k: v for k, v in val_metrics.items() if k in ("val/loss", "val/accuracy", "val/r2")})
                stopped_early = stopper.update(val_metrics)
            if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                scheduler.step(val_metrics.get("val/loss", loss.item()))
            elif scheduler is not None:
                scheduler.step()
            if hist_every and epoch % hist_every == 0:
                logger.log_histograms(model, step)
            if hessian_every and epoch % hessian_every == 0:  # sharpness: a few Hessian-vector products
                X_sample = rows_in_memory(data.train.X, diagnostics.hessian_max_samples)
                sharpness = objective_sharpness(objective, X_sample, train_targets[:len(X_sample)],
                                                diagnostics.hessian_iterations, diagnostics.hessian_method)
                logger.log_scalars({"diagnostics/hessian_top_eigenvalue": sharpness}, step)
            skip_batches = 0
            if ckpt_every and epoch % ckpt_every == 0:
                save()
            progress.update(epoch, shown)
            if stop_requests.signal_name:  # the epoch's own work is done: stop at its boundary
                save()
                raise TrainingInterrupted(f"{stop_requests.signal_name} after epoch {epoch}, step {step}")
    progress.close()
    if guard.skipped:
        log.warning("skipped %d steps with a non-finite loss or gradient (trainer.on_nonfinite=skip_step)",
                    guard.skipped)
    if stopped_early:
        log.info("early stopping at epoch %d: %s did not improve for %d validations",
                 epoch, stopper.monitor, stopper.patience)
    save()
    metrics = evaluate(objective, data.train, train_targets, "train", n_classes)
    if val_targets is not None:
        metrics.update(evaluate(objective, data.val, val_targets, "val", n_classes))
    metrics.update({"train/steps": step, "train/epochs": epoch})
    return FitResult(epochs=epoch, steps=step, stopped_early=stopped_early, metrics=metrics)
