"""Estimators that choose their own strength by K-fold cross-validation along a certified path.

    LogisticCV(Cs=30, cv=5)     LogisticRegressionCV's names: Cs (a count or the C values), cv,
                                scoring, refit; penalty "l2" | "l1" | "elasticnet" with l1_ratio
    SVMCV(Cs=30, cv=5)          the linear SVM (multiclass ovr | crammer_singer | weston_watkins)
    LinearCV(alphas=30, cv=5)   least squares; alphas (LassoCV's name) in derivtrain's units,
                                penalty "l2" | "l1" | "elasticnet"

Cs as a count: that many strengths on derivtrain's data-scaled grid (derivtrain/path/grid.py: from
the strength that zeroes every weight, L1, or where every weight is ~0.1, L2, down path_decades=4
decades), not LogisticRegressionCV's fixed 1e-4..1e4. As values: C means what it means for
derivtrain.Logistic, alpha = 1 / (C n), with n the rows of each fit (a fold's training rows, then
all rows for the refit), as LogisticRegressionCV's folds do. After fit: C_ (or alpha_), Cs_ /
alphas_ (strongest penalty first), scores_ (cv, points), coefs_path_ (points, outputs, features: the folds' mean
weights, standardized units), and what every derivtrain estimator has.
"""
import numpy as np

from derivtrain.estimator.configs import InvalidParameterError, Recipe
from derivtrain.estimator.convenience import SVM, Linear, Logistic, _OneModel
from derivtrain.errors import UserError

_PENALTIES = {"l2": "l2", "l1": "l1", "elasticnet": "elastic_net"}
_RULES = ("min", "1se")


class _PathCV:
    """fit: the folds' paths, the choice, the refit (derivtrain/estimator/path_fitting.py)."""

    _grid_name = "Cs"

    def _cv_recipe(self, recipe: Recipe, params: dict) -> Recipe:
        penalty = params.get("penalty", "l2")
        if penalty not in _PENALTIES:
            raise InvalidParameterError(f"penalty={penalty!r} must be one of {', '.join(map(repr, _PENALTIES))}")
        recipe.choices["regularizer"] = _PENALTIES[penalty]
        if penalty == "elasticnet":
            recipe.set("l1_ratio", "regularizer.l1_ratio", params["l1_ratio"])
        if params["rule"] not in _RULES:
            raise InvalidParameterError(f"rule={params['rule']!r} must be 'min' or '1se'")
        recipe.C = None
        return recipe

    def fit(self, X, y, sample_weight=None):
        import derivtrain.estimator.configs as configs
        from derivtrain.estimator.arrays import check_sample_weight
        from derivtrain.estimator.path_fitting import check_cv, check_scoring, fit_cv_path

        cfg, recipe, data = self._fit_inputs(X, y, sample_weight)  # X, y and the weights checked
        weight = check_sample_weight(sample_weight, _num_rows(X))
        kept = np.ones(_num_rows(X), dtype=bool) if weight is None else np.asarray(weight > 0)
        folds = check_cv(self.cv, y, kept)
        scoring = check_scoring(self.scoring, configs.task_of(cfg))
        rows = float(data.train.weight.sum()) if data.train.weight is not None else float(len(data.train))
        try:
            model, result, path = fit_cv_path(cfg, data, self._grid(rows), folds, scoring, self.rule,
                                              bool(self.refit), bool(self.verbose))
        except UserError as exc:
            raise InvalidParameterError(configs.estimator_names(str(exc), recipe)) from None
        self.alphas_, self.scores_, self.coefs_path_ = path.strengths, path.scores, path.coefs
        self.alpha_ = float(result.metrics["path/strength"])
        if self._grid_name == "Cs":  # the refit's alphas, so C_ is one of Cs_ exactly as given
            self.Cs_, self.C_ = 1.0 / (path.strengths * rows), 1.0 / (self.alpha_ * rows)
        return self._fitted(model, result)

    def _grid(self, rows: float):
        values = getattr(self, self._grid_name)
        if isinstance(values, (int, np.integer)) and not isinstance(values, bool):
            if values < 2:
                raise InvalidParameterError(f"{self._grid_name}={values} must be >= 2 (points of the path)")
            return _auto_grid(int(values))
        values = np.asarray(values, dtype=np.float64).ravel() if np.ndim(values) else np.array([])
        if not len(values) or not np.all(np.isfinite(values)) or np.any(values <= 0):
            raise InvalidParameterError(f"{self._grid_name}={getattr(self, self._grid_name)!r} must be a count "
                                        "or a non-empty list of numbers > 0")
        if self._grid_name != "Cs":
            return lambda objective, data, unit: sorted(map(float, set(values)), reverse=True)
        return _CGrid(sorted(set(map(float, values))))


class _CGrid:
    """C values as strengths, strongest penalty (smallest C) first: alpha = 1 / (C n) with n the
    rows (their weights' sum) of the fit at hand, each fold's own, as LogisticRegressionCV's folds."""

    def __init__(self, Cs: list):
        self.Cs = Cs

    def __call__(self, objective, data, unit) -> list:
        return self.per_fold(data)

    def per_fold(self, data) -> list:
        weight = data.train.weight
        rows = float(weight.sum()) if weight is not None else float(len(data.train))
        return [1.0 / (C * rows) for C in self.Cs]


def _num_rows(X) -> int:
    from sklearn.utils.validation import _num_samples

    return _num_samples(X)


def _auto_grid(points: int):
    def grid(objective, data, unit):
        from derivtrain.path.grid import largest_strength

        top = largest_strength(objective, data) / unit  # the user's units (scaled targets: grid.py)
        return [float(a) for a in np.geomspace(top, top * 1e-4, points)]
    return grid


class LogisticCV(_PathCV, Logistic):
    """Logistic regression whose C is chosen by K-fold cross-validation along a certified path."""

    def __init__(self, Cs=30, *, cv=5, penalty="l2", l1_ratio=0.5, scoring=None, refit=True, rule="min",
                 class_weight=None, standardize=True, log_dir=None, verbose=0, **params):
        self.Cs, self.cv, self.penalty, self.l1_ratio, self.scoring, self.refit, self.rule = \
            Cs, cv, penalty, l1_ratio, scoring, refit, rule
        self.class_weight, self.standardize, self.log_dir, self.verbose = class_weight, standardize, log_dir, verbose
        self._config_params = dict(params)

    def _recipe(self, params: dict) -> Recipe:
        return self._cv_recipe(_OneModel._recipe(self, params), params)  # no C: the path sets the strength


class SVMCV(_PathCV, SVM):
    """The linear SVM whose C is chosen by K-fold cross-validation along a certified path."""

    def __init__(self, Cs=30, *, cv=5, multiclass="ovr", scoring=None, refit=True, rule="min", class_weight=None,
                 standardize=True, log_dir=None, verbose=0, **params):
        self.Cs, self.cv, self.multiclass, self.scoring, self.refit, self.rule = Cs, cv, multiclass, scoring, refit, rule
        self.class_weight, self.standardize, self.log_dir, self.verbose = class_weight, standardize, log_dir, verbose
        self._config_params = dict(params)

    def _recipe(self, params: dict) -> Recipe:
        return self._cv_recipe(_OneModel._recipe(self, params), {"penalty": "l2", **params})


class LinearCV(_PathCV, Linear):
    """Least squares whose alpha (derivtrain's) is chosen by K-fold cross-validation along a certified
    path; penalty="l1" is the lasso (LassoCV), "elasticnet" ElasticNetCV."""

    _grid_name, _keys = "alphas", {}  # alpha is not a parameter: the path sets it

    def __init__(self, alphas=30, *, cv=5, penalty="l2", l1_ratio=0.5, scoring=None, refit=True, rule="min",
                 standardize=True, log_dir=None, verbose=0, **params):
        self.alphas, self.cv, self.penalty, self.l1_ratio, self.scoring, self.refit, self.rule = \
            alphas, cv, penalty, l1_ratio, scoring, refit, rule
        self.standardize, self.log_dir, self.verbose = standardize, log_dir, verbose
        self._config_params = dict(params)

    def _recipe(self, params: dict) -> Recipe:
        return self._cv_recipe(super()._recipe(params), params)
