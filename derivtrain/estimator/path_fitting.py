"""One cross-validated path fit for the *CV estimators (derivtrain/estimator/cross_validation.py):
derivtrain/path/ on in-memory rows, no run folder.

The folds split the given rows (stratified by class for classifiers), each fold's path is solved
with warm starts and certified per point, the strength is chosen on the folds' mean score, and
refit=True solves that strength on every row, started from the folds' mean solution there;
refit=False keeps that mean (scikit-learn's LogisticRegressionCV's meaning).
"""
from dataclasses import dataclass, replace

import numpy as np
import torch

from derivtrain.estimator.configs import InvalidParameterError
from derivtrain.estimator.fitting import _centre_biases, _quiet, build_objective
from derivtrain.logging import NullLogger
from derivtrain.threads import threads_for

# scikit-learn scoring names -> the validation metric derivtrain reports (derivtrain/trainer/metrics.py)
SCORINGS = {"accuracy": "val/accuracy", "f1_macro": "val/f1_macro", "neg_log_loss": "val/loss",
            "r2": "val/r2", "neg_mean_squared_error": "val/mse"}
_LOWER_IS_BETTER = ("val/loss", "val/mse")


@dataclass
class PathFit:
    strengths: np.ndarray  # the path's, strongest first
    scores: np.ndarray  # (folds, points): each fold's validation score
    index: int  # the chosen point
    coefs: np.ndarray  # (points, outputs, features): the folds' mean weights at each strength (standardized units)


def fit_cv_path(cfg, data, grid, folds, scoring: str, rule: str, refit: bool, verbose: bool):
    """(model, FitResult, PathFit). grid(objective, data, unit) -> the strengths, strongest first (a list,
    or for C values a function of each fold's Data); folds: a count, or (training, validation) pairs."""
    from derivtrain.path.choose import choose
    from derivtrain.path.folds import cross_validate
    from derivtrain.path.grid import strength_unit
    from derivtrain.path.phase import finish_at
    from derivtrain.path.solve import solve_path
    from derivtrain.trainer.fitting import make_context

    key = SCORINGS[scoring]
    with _quiet(verbose), threads_for(data.train.X.numel()):
        objective = build_objective(cfg, data)
        unit = strength_unit(objective, float(cfg.regularizer.strength))  # scaled targets' fitted units
        ctx = make_context(cfg, objective, data, NullLogger())
        strengths = grid(objective, data, unit)
        count, splits = (folds, None) if isinstance(folds, int) else (len(folds), folds)
        per_fold = grid.per_fold if hasattr(grid, "per_fold") else strengths
        scores, _, fold_points = cross_validate(ctx, per_fold, count, cfg.trainer.seed, lambda metrics: key, splits,
                                                unit)
        if key in _LOWER_IS_BETTER:  # scikit-learn's neg_* scorers: higher is better, always
            scores = -scores
        choice = choose(scores, True, rule)
        average = _fold_average(fold_points, choice.index)
        # refit: the chosen strength on every row, from the folds' mean solution there (each fold saw
        # (K-1)/K of the rows: a start one or two Newton steps from the refit's optimum)
        points = solve_path(ctx, [strengths[choice.index]], unit, start=average.weights) if refit else [average]
        result = finish_at(ctx, points, replace(choice, index=0), key)
    _centre_biases(objective)  # one canonical optimum, as every derivtrain estimator's fit ends
    # in y's units per standardized feature (scaled regression targets: the fitted weights times the scale)
    weights = np.stack([[point.weights[:, :-1].numpy() for point in path] for path in fold_points])  # (K, P, ...)
    coefs = weights.mean(axis=0) * float(getattr(data, "target_scale", 1.0))
    return objective.model, result, PathFit(np.asarray(strengths), scores, choice.index, coefs)


def _fold_average(fold_points: list, index: int):
    """The folds' points at `index`, their weights averaged (their gaps are the folds' own)."""
    points = [path[index] for path in fold_points]
    average = torch.stack([p.weights for p in points]).mean(dim=0)
    return replace(points[0], weights=average, converged=all(p.converged for p in points),
                   gap=max(p.gap for p in points), certificate=None)


def check_cv(cv, y, kept):
    """A count of folds (>= 2, at most a fold per row), or scikit-learn's other cv forms: a splitter
    (an object with split(X, y)) or an iterable of (training rows, validation rows) pairs, which
    become pairs of positions among the `kept` rows (rows of weight 0 are dropped before fitting)."""
    n_rows = int(kept.sum())
    if isinstance(cv, (int, np.integer)) and not isinstance(cv, bool):
        if cv < 2:
            raise InvalidParameterError(f"cv={cv!r} must be >= 2 (the number of folds)")
        if cv > n_rows:
            raise InvalidParameterError(f"cv={cv} folds need at least {cv} rows; got n_samples={n_rows}")
        return int(cv)
    try:
        pairs = list(cv.split(np.zeros((len(kept), 1)), y) if hasattr(cv, "split") else cv)
        position = np.cumsum(kept) - 1
        splits = [tuple(position[np.asarray(rows, dtype=np.int64)[kept[rows]]] for rows in pair) for pair in pairs]
    except (TypeError, ValueError, IndexError) as exc:
        raise InvalidParameterError(f"cv={cv!r} must be a number of folds, a splitter or (train, validation) "
                                    f"index pairs ({exc})") from None
    if len(splits) < 1 or any(len(a) == 0 or len(b) == 0 for a, b in splits):
        raise InvalidParameterError("cv: every fold needs training and validation rows of weight > 0")
    return splits


def check_scoring(scoring, task: str) -> str:
    default = "accuracy" if task == "classification" else "r2"
    scoring = default if scoring is None else scoring
    usable = [s for s in SCORINGS if (s in ("accuracy", "f1_macro", "neg_log_loss")) == (task == "classification")]
    if scoring not in usable:
        raise InvalidParameterError(f"scoring={scoring!r} is not valid for this {task} model; choose one of "
                                    f"{', '.join(map(repr, usable))} (None: {default!r})")
    return scoring
