"""Stop when a monitored validation metric has not improved for `patience` validations."""
import math

HIGHER_IS_BETTER = ("accuracy", "f1_macro", "r2", "log_likelihood")


class EarlyStopping:
    def __init__(self, monitor: str, patience: int, mode: str = "auto", min_delta: float = 0.0):
        self.monitor, self.patience, self.min_delta = monitor, patience, min_delta
        if mode == "auto":
            mode = "max" if monitor.split("/")[-1] in HIGHER_IS_BETTER else "min"
        self.sign = 1.0 if mode == "min" else -1.0  # compare sign * value, lower is better
        self.best = math.inf
        self.bad_rounds = 0

    def update(self, metrics: dict) -> bool:
        """Record one validation; True when training should stop."""
        if self.monitor not in metrics:
            from derivtrain.errors import ConfigError

            raise ConfigError(f"trainer.early_stopping.monitor={self.monitor} is not a logged metric; "
                              f"choices: {', '.join(sorted(metrics))}")
        value = self.sign * metrics[self.monitor]
        if value < self.best - self.min_delta:
            self.best, self.bad_rounds = value, 0
        else:
            self.bad_rounds += 1
        return self.patience > 0 and self.bad_rounds >= self.patience

    def state_dict(self) -> dict:
        return {"best": self.best, "bad_rounds": self.bad_rounds}

    def load_state_dict(self, state: dict) -> None:
        self.best, self.bad_rounds = state["best"], state["bad_rounds"]
