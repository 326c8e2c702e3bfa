"""When the gradient loop is done, not just out of epochs: the two tests and their defaults.

    early stopping  the validation metric has not improved for `patience` validations; the run
                    ends on the best validation's weights (trainer.early_stopping.restore_best)
    stationarity    the full-batch gradient norm has fallen below `gradient_tol` times its value
                    at the first step: a relative test, so it means the same whatever the loss's
                    scale; the gradient is there after every step, so the test costs one norm

`null` (the default) means: on when optim=auto picks the gradient loop, off for a named optimizer
(optim=adam trains for trainer.max_epochs unless told otherwise). On, early stopping waits 20
validations on full batches and 10 on minibatch epochs, where a gain must also beat 1e-4 of the best
to count (scikit-learn's MLP: n_iter_no_change=10, tol=1e-4); stationarity is tested on full batches.
Where the run has no validation rows only stationarity is on. trainer.max_epochs caps both (null:
1000 epochs for the auto gradient loop with validation rows, whose tests are meant to end it; 100
for the rest).
"""
from derivtrain.errors import ConfigError

# trainer.max_epochs=null: a cap the stopping tests are meant to beat (the auto gradient loop with
# validation rows), else the 100 epochs or solver iterations derivtrain always had
AUTO_EPOCH_CAP, EPOCH_CAP = 1000, 100

DEFAULT_PATIENCE = 20  # validations; digits' val/loss still improves after 10 flat ones (test accuracy 0.958 at 10, 0.97 at 20)
# a minibatch epoch is many steps, not one: 10 of them without a real gain (scikit-learn's MLP
# n_iter_no_change) end the default MLP on 100k synthetic rows at epoch 36 instead of 64, same accuracy
MINIBATCH_PATIENCE = 10
DEFAULT_GRADIENT_TOL = 1e-4
# a minibatch epoch is tens to hundreds of steps: a gain below 0.01 % of the loss in one is noise or
# a crawl (scikit-learn's MLP: tol=1e-4). A full-batch epoch is one step, whose small gains add up
# (digits' val/loss needs them to reach accuracy 0.97): there the default is 0.
DEFAULT_MIN_REL_DELTA = 1e-4


def epoch_cap(trainer, optim, early_stopping: bool = False) -> int:
    """trainer.max_epochs, or its default: 1000 for the auto gradient loop that stops on validation,
    else 100 (a solver's iterations; a loop without validation rows, such as an estimator's)."""
    chosen = trainer.get("max_epochs")
    if chosen is not None:
        return int(chosen)
    return AUTO_EPOCH_CAP if optim.name == "auto" and early_stopping else EPOCH_CAP


def patience(trainer, optim, has_validation: bool, full_batch: bool = True) -> int:
    """The patience the run uses (0: no early stopping)."""
    chosen = trainer.early_stopping.patience
    if chosen is not None:
        if chosen and not has_validation:
            raise ConfigError(f"trainer.early_stopping.patience={chosen} needs validation rows, but this run has "
                              "none (data.val_size=0); set data.val_size > 0 or trainer.early_stopping.patience=0")
        return int(chosen)
    auto = optim.name == "auto" and has_validation and trainer.val_every_n_epochs > 0
    if not auto:
        return 0
    return DEFAULT_PATIENCE if full_batch else MINIBATCH_PATIENCE


def min_rel_delta(trainer, optim, full_batch: bool) -> float:
    """The relative margin an improvement of the monitored metric must beat (0: any gain counts)."""
    chosen = trainer.early_stopping.get("min_rel_delta")
    if chosen is not None:
        return float(chosen)
    return DEFAULT_MIN_REL_DELTA if optim.name == "auto" and not full_batch else 0.0


def gradient_tol(trainer, optim, full_batch: bool) -> float:
    """The stationarity tolerance the run uses (0: never stop on it). Minibatch gradients are noisy
    estimates whose norm does not go to zero: the test is for full batches only."""
    chosen = trainer.get("gradient_tol")
    if chosen is not None:
        return float(chosen) if full_batch else 0.0
    return DEFAULT_GRADIENT_TOL if optim.name == "auto" and full_batch else 0.0


class Stationarity:
    """||g_t|| <= tol ||g_0||, the norms measured after each epoch's (full-batch) step."""

    def __init__(self, tol: float):
        self.tol, self.start, self.last = tol, None, None

    def reached(self, norm: float) -> bool:
        if not self.tol:
            return False
        self.last = norm
        if self.start is None:
            self.start = norm
            return False
        return norm <= self.tol * self.start

    def reason(self) -> str:
        return (f"the gradient norm fell to {self.last / self.start:.2g} of its start, below "
                f"trainer.gradient_tol={self.tol:g} (stationary)")

    def state_dict(self) -> dict:
        return {"start": self.start}

    def load_state_dict(self, state) -> None:
        self.start = (state or {}).get("start")


def say_stop(loop) -> None:
    """One line on what ended the loop: the test that fired, or the cap and where the tests stood."""
    from derivtrain.logging import log

    end = loop.epoch_end
    if end.stop_reason:
        log.info("stopped at epoch %d: %s", loop.epoch, end.stop_reason)
        return
    if loop.epoch < loop.max_epochs:
        return  # a resumed run that had already finished its epochs: nothing ran
    where = []
    if loop.stopper.patience:
        where.append(f"{loop.stopper.monitor} last improved {loop.stopper.bad_rounds} validations ago "
                     f"(patience {loop.stopper.patience})")
    if loop.stationarity.tol and loop.stationarity.start:
        where.append(f"gradient norm at {loop.stationarity.last / loop.stationarity.start:.2g} of its start "
                     f"(gradient_tol {loop.stationarity.tol:g})")
    log.info("stopped at the epoch cap trainer.max_epochs=%d%s", loop.max_epochs,
             f": {'; '.join(where)}" if where else " (no other stopping test is on)")
