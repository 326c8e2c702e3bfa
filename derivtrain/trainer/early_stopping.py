"""Stop when a monitored validation metric has not improved for `patience` validations, and keep
the weights of the best validation so the run ends on them (`restore_best`): the last epochs
before a stop are by definition no better than the best, often worse (an overfitting network).

An improvement counts when it beats the best so far by more than min_delta (absolute) and
min_rel_delta x |best| (relative, scikit-learn's MLP `tol`: a loss that creeps down by 0.01 %
an epoch is done, whatever its units). As in scikit-learn, a smaller gain still moves the best
(and its weights): the run ends on the best weights seen, and patience counts from the last gain
that mattered."""
import math

HIGHER_IS_BETTER = ("accuracy", "f1_macro", "r2", "log_likelihood")


class EarlyStopping:
    def __init__(self, monitor: str, patience: int, mode: str = "auto", min_delta: float = 0.0,
                 restore_best: bool = False, min_rel_delta: float = 0.0):
        self.monitor, self.patience, self.min_delta, self.min_rel_delta = monitor, patience, min_delta, min_rel_delta
        if mode == "auto":
            mode = "max" if monitor.split("/")[-1] in HIGHER_IS_BETTER else "min"
        self.sign = 1.0 if mode == "min" else -1.0  # compare sign * value, lower is better
        self.best = math.inf
        self.bad_rounds = 0
        self.restore_best = restore_best and patience > 0
        self.best_weights, self.best_epoch = None, None

    def update(self, metrics: dict, model=None, epoch: int = 0) -> bool:
        """Record one validation (and the model's weights, if they are the best so far); True when
        training should stop."""
        if self.monitor not in metrics:
            from derivtrain.errors import ConfigError

            raise ConfigError(f"trainer.early_stopping.monitor={self.monitor} is not a logged metric; "
                              f"choices: {', '.join(sorted(metrics))}")
        value = self.sign * metrics[self.monitor]
        margin = max(self.min_delta, self.min_rel_delta * abs(self.best)) if math.isfinite(self.best) else 0.0
        self.bad_rounds = 0 if value < self.best - margin else self.bad_rounds + 1
        if value < self.best:
            self.best = value
            if self.restore_best and model is not None:
                # a copy, not a reference: the optimizer updates the parameters in place
                self.best_weights = {k: v.detach().clone() for k, v in model.state_dict().items()}
                self.best_epoch = epoch
        return self.patience > 0 and self.bad_rounds >= self.patience

    def restore(self, model, last_epoch: int):
        """Put the best validation's weights back (if later ones are not them); the epoch they are from."""
        if self.best_weights is None or self.best_epoch == last_epoch:
            return None
        model.load_state_dict(self.best_weights)
        return self.best_epoch

    def state_dict(self) -> dict:
        return {"best": self.best, "bad_rounds": self.bad_rounds, "best_weights": self.best_weights,
                "best_epoch": self.best_epoch}

    def load_state_dict(self, state: dict) -> None:
        self.best, self.bad_rounds = state["best"], state["bad_rounds"]
        # checkpoints written before restore_best existed carry no weights: the next best sets them
        self.best_weights, self.best_epoch = state.get("best_weights"), state.get("best_epoch")
