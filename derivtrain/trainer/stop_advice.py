"""What ended a fit that did not meet its tolerance, and what to change, in the caller's own keys.

A fitter says why it stopped (FitResult.stopped_by); the advice names only keys the entry point
accepts: `trainer.max_epochs` on the command line, `trainer__max_epochs` for an estimator, and
`optim.max_iter` only where the chosen optim has one (an estimator with optim="adam" has none,
and rejects `optim__max_iter`).
"""
from derivtrain.trainer.stop_rules import epoch_cap


def _key(name: str, estimator: bool) -> str:
    return name.replace(".", "__") if estimator else name


def _value(optim, trainer, name: str):
    group, _, key = name.partition(".")
    return (optim if group == "optim" else trainer).get(key)


def _option(name: str, value: str, estimator: bool) -> str:
    return f"{name}={value!r}" if estimator else f"{name}={value}"


def stop_advice(optim, trainer, stopped_by, gap: float, estimator: bool = False, cap: int | None = None) -> str:
    """'<what stopped>; <what to change>' for a fit whose certified gap is above its tolerance
    (optim and trainer: the run's config groups; cap: the fitter's own iteration cap, FitResult.cap)."""
    k = lambda name: _key(name, estimator)  # noqa: E731
    tol = k("optim.tol")
    if stopped_by == "iteration_cap":
        solver = "Newton's method" if optim.name == "newton" else "the certified solver"
        name = "optim.max_iter" if optim.name == "newton" else "trainer.max_epochs"
        if name == "optim.max_iter":
            value = _value(optim, trainer, name)
        else:
            value = cap if cap is not None else epoch_cap(trainer, optim)
        return f"{solver} reached its iteration cap ({k(name)}={value}); raise {k(name)}"
    if stopped_by == "rounding_floor":
        more = f" or {k('optim.dtype')}=float64" if optim.get("dtype") == "float32" else ""
        return (f"the certified solver stopped at its rounding floor (no step improves the gap below {gap:.2g}); "
                f"set {tol}>={gap:.2g}, what this problem can certify{more}")
    if stopped_by == "line_search":
        return (f"Newton's line search found no decrease (the objective's rounding exceeds the decrease "
                f"left); set {tol}>={gap:.2g}, or {_option('optim', 'auto', estimator)} (a certified solver)")
    if stopped_by == "certificate":  # the solver's own (iterate's) gap met tol; the model's rounded weights do not
        more = f"; {k('optim.dtype')}=float64 computes the iterate in float64" if optim.get("dtype") == "float32" else ""
        return (f"the solver's certificate met its tolerance on its own iterate, but the model's weights, measured "
                f"again in float64, are {gap:.2g} from optimal: their rounding decides; set {tol}>={gap:.2g}{more}")
    if stopped_by == "early_stopping":
        return (f"early stopping ended the run ({k('trainer.early_stopping.patience')}="
                f"{trainer.early_stopping.patience}); raise it, or use {_option('optim', 'auto', estimator)} "
                "without minibatches (a certified solver)")
    if stopped_by == "stationarity":
        return (f"the gradient loop stopped on stationarity ({k('trainer.gradient_tol')}={trainer.get('gradient_tol')}"
                f" or its default); lower it, or use {_option('optim', 'auto', estimator)} (a certified solver)")
    return _epoch_cap(optim, trainer, k, estimator)


def _epoch_cap(optim, trainer, k, estimator: bool) -> str:
    """The gradient loop ran all its epochs (or a fitter that does not say why it stopped)."""
    cap = trainer.get("max_epochs")  # null: 1000 or 100, as the run had validation rows (trainer/stop_rules.py)
    epochs = f"the gradient loop reached its epoch cap ({k('trainer.max_epochs')}={'null' if cap is None else cap})"
    if optim.name == "auto" and trainer.get("batch_size") is not None:
        return (f"{epochs}; drop {k('trainer.batch_size')} (optim=auto then picks the certified solver), or raise "
                f"{k('trainer.max_epochs')}")
    lr = f" and lower {k('optim.lr')}" if "lr" in optim else ""
    return (f"{epochs}; use {_option('optim', 'auto', estimator)} (a solver that stops on a certificate), "
            f"or raise {k('trainer.max_epochs')}{lr}")


def negative_r2_advice(optim, stopped_by, r2: float, estimator: bool = False) -> str:
    """One line for a regression whose validation R^2 is below 0 (worse than predicting the mean)."""
    k = lambda name: _key(name, estimator)  # noqa: E731
    what = f"val/r2={r2:.3g} < 0: the model predicts the validation rows worse than their mean would"
    if stopped_by == "line_search":
        return f"{what}; its solver stopped early (no decrease found): use {_option('optim', 'auto', estimator)}"
    if stopped_by == "epoch_cap" and optim.name != "auto":
        return (f"{what}; the gradient loop ran out of epochs: use {_option('optim', 'auto', estimator)} (a found "
                f"learning rate, stopped when done), or raise {k('trainer.max_epochs')}")
    return (f"{what}; try a simpler model (model=linear) or a stronger {k('regularizer.strength')}, and check "
            f"that the target is the column you meant")
