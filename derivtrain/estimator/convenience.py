"""Estimators for one model each, with scikit-learn's parameter names where they mean the same.

    SVM(C=1.0, multiclass="ovr")                   model=svm: hinge + L2       (LinearSVC's C and multi_class)
    Logistic(C=1.0)                                model=logistic: log-loss + L2 (LogisticRegression's C)
    Linear(alpha=1e-4)                             model=linear: squared error + L2 (derivtrain's alpha)
    Poisson(alpha=1.0)                             model=poisson: Poisson deviance + L2 (PoissonRegressor's alpha)
    MLP(hidden_sizes=(64,), task="classification") model=mlp: cross-entropy, or squared error for regression
    GMM(n_components=1, covariance_type="full")    model=gmm: EM (GaussianMixture's names)

C and alpha. derivtrain minimizes the mean loss + alpha/2 ||w||^2 (alpha = regularizer.strength);
scikit-learn's LinearSVC and LogisticRegression minimize 1/2 ||w||^2 + C sum_i loss_i. Dividing the
latter by C n gives the former with alpha = 1 / (C n) (with sample weights w_i: the weighted mean and
alpha = 1 / (C sum_i w_i)), so C here means exactly what it means there (one difference: derivtrain
never penalizes the bias, LinearSVC does). PoissonRegressor's objective is derivtrain's, so its
alpha is ours. Ridge minimizes ||y - Xw||^2 + alpha_ridge ||w||^2, which is derivtrain's Linear with
alpha = 2 alpha_ridge / n; Linear's alpha is derivtrain's, not Ridge's.
Every other derivtrain setting is a `<group>__<key>` parameter, as for Estimator.
"""
from sklearn.utils.validation import check_is_fitted

from derivtrain.estimator.base import Estimator
from derivtrain.estimator.configs import InvalidParameterError, Recipe
from derivtrain.errors import did_you_mean


class _OneModel(Estimator):
    """An Estimator whose model option is fixed (`_model`) and some of whose config keys have
    scikit-learn's names (`_keys`: parameter -> config key)."""

    _model: str = ""
    _keys: dict = {}

    def _recipe(self, params: dict) -> Recipe:
        if params.get("model") not in (None, self._model):
            raise InvalidParameterError(f"{type(self).__name__} is model={self._model}; for model="
                                        f"{params['model']!r} use derivtrain.Estimator(model=...)")
        recipe = super()._recipe(params)
        recipe.choices["model"] = self._model
        for name, key in self._keys.items():
            recipe.set(name, key, params[name])
        return recipe


def _with_C(recipe: Recipe, C) -> Recipe:
    also = [recipe.names[k] for k in ("regularizer.strength", "model.C", "model.alpha") if k in recipe.values]
    if C is not None and also:
        raise InvalidParameterError(f"C and {also[0]} both set the L2 strength (alpha = 1 / (C n)); "
                                    f"set one of them (C=None keeps {also[0]})")
    recipe.C = C
    return recipe


class SVM(_OneModel):
    """Linear SVM (hinge + L2), solved to a certified optimum. C: LinearSVC's; multiclass: ovr |
    crammer_singer | weston_watkins (LinearSVC's multi_class, plus Weston-Watkins)."""

    _model, _keys = "svm", {"multiclass": "model.multiclass"}

    def __init__(self, C=1.0, *, multiclass="ovr", class_weight=None, standardize=True, log_dir=None,
                 verbose=0, **params):
        self.C, self.multiclass = C, multiclass
        self.class_weight, self.standardize, self.log_dir, self.verbose = class_weight, standardize, log_dir, verbose
        self._config_params = dict(params)

    def _recipe(self, params: dict) -> Recipe:
        return _with_C(super()._recipe(params), params["C"])


class Logistic(_OneModel):
    """Logistic regression (binary or multinomial), certified optimum; predict_proba. C: LogisticRegression's."""

    _model = "logistic"

    def __init__(self, C=1.0, *, class_weight=None, standardize=True, log_dir=None, verbose=0, **params):
        self.C = C
        self.class_weight, self.standardize, self.log_dir, self.verbose = class_weight, standardize, log_dir, verbose
        self._config_params = dict(params)

    def _recipe(self, params: dict) -> Recipe:
        return _with_C(super()._recipe(params), params["C"])


class Linear(_OneModel):
    """Linear regression: mean squared error + alpha/2 ||w||^2 (derivtrain's alpha; Ridge's is alpha n / 2)."""

    _model, _keys = "linear", {"alpha": "regularizer.strength"}

    def __init__(self, alpha=1e-4, *, standardize=True, log_dir=None, verbose=0, **params):
        self.alpha = alpha
        self.standardize, self.log_dir, self.verbose = standardize, log_dir, verbose
        self._config_params = dict(params)


class Poisson(_OneModel):
    """Poisson regression for counts (log link); alpha is PoissonRegressor's. predict: expected counts."""

    _model, _keys = "poisson", {"alpha": "regularizer.strength"}

    def __init__(self, alpha=1.0, *, standardize=True, log_dir=None, verbose=0, **params):
        self.alpha = alpha
        self.standardize, self.log_dir, self.verbose = standardize, log_dir, verbose
        self._config_params = dict(params)


_TASK_LOSSES = {"classification": "cross_entropy", "regression": "mse"}


class MLP(_OneModel):
    """Multi-layer perceptron (Adam by default): task="classification" (cross-entropy; predict_proba)
    or "regression" (squared error). hidden_sizes: one width per hidden layer."""

    _model, _keys = "mlp", {"hidden_sizes": "model.hidden_sizes"}

    def __init__(self, hidden_sizes=(64,), *, task="classification", class_weight=None, standardize=True,
                 log_dir=None, verbose=0, **params):
        self.hidden_sizes, self.task = hidden_sizes, task
        self.class_weight, self.standardize, self.log_dir, self.verbose = class_weight, standardize, log_dir, verbose
        self._config_params = dict(params)

    def _recipe(self, params: dict) -> Recipe:
        task = params["task"]
        if task not in _TASK_LOSSES:
            raise InvalidParameterError(f"task={task!r} is not valid; {did_you_mean(task, _TASK_LOSSES)}")
        if params.get("loss") is not None:
            raise InvalidParameterError("task and loss both choose the loss; set task (or use "
                                        "derivtrain.Estimator(model='mlp', loss=...))")
        return super()._recipe({**params, "loss": _TASK_LOSSES[task]})


class GMM(_OneModel):
    """Gaussian mixture fitted by EM; GaussianMixture's n_components and covariance_type (full | diag |
    spherical). predict: the most likely component; predict_proba: responsibilities; score: mean
    log-likelihood per row."""

    _model = "gmm"
    _keys = {"n_components": "model.n_components", "covariance_type": "model.covariance_type"}

    def __init__(self, n_components=1, *, covariance_type="full", standardize=True, log_dir=None, verbose=0,
                 **params):
        self.n_components, self.covariance_type = n_components, covariance_type
        self.standardize, self.log_dir, self.verbose = standardize, log_dir, verbose
        self._config_params = dict(params)

    def bic(self, X) -> float:
        """Bayesian information criterion on X (lower is better)."""
        X = self._rows(X)
        return self.model_.bic(X)

    def aic(self, X) -> float:
        """Akaike information criterion on X (lower is better)."""
        X = self._rows(X)
        return self.model_.aic(X)

    def sample(self, n_samples=1, seed=None):
        """(X, components): rows drawn from the fitted mixture, in raw feature units."""
        check_is_fitted(self)
        return self.model_.sample(n_samples, seed)

    @property
    def weights_(self):
        return self.model_.weights_.numpy()

    @property
    def means_(self):
        return self.model_.means_.numpy()

    @property
    def covariances_(self):
        """(K, d, d) in raw feature units, whatever covariance_type."""
        return self.model_.covariances_.numpy()
