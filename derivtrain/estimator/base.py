"""derivtrain.Estimator: the CLI's models, losses, penalties and solvers as a scikit-learn estimator.

    Estimator(model="svm", regularizer__strength=1e-3, optim__tol=1e-6, trainer__max_epochs=200)

The parameters are the CLI's config groups: `model`, `loss`, `regularizer` and `optim` choose an
option (plugins' too: model="rff_svm", loss="smooth_hinge"; None = the model's own choice), and
`<group>__<key>` sets one key of the trainer, logger, diagnostics or a chosen option (scikit-learn's
nested-name convention, so GridSearchCV over "regularizer__strength", or "est__regularizer__strength"
inside a Pipeline, works). get_params lists what was given; set_params accepts any such name.

What fit does is what `python -m derivtrain` does with its training rows: standardize with their
mean and scale (standardize=False: not), build the model inside its objective and solve it with
the fitter optim picks (optim=auto: the certified solver for svm/logistic/linear/poisson). The
objective is derivtrain's: the (weighted) mean loss + alpha/2 ||w||^2 with alpha = regularizer.strength;
scikit-learn's C (SVM, Logistic) is alpha = 1 / (C sum of row weights), 1 / (C n) without weights.
"""
import functools
import inspect

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted, validate_data

import derivtrain.estimator.arrays as arrays
import derivtrain.estimator.configs as configs
import derivtrain.estimator.scoring as scoring
from derivtrain.errors import UserError
from derivtrain.estimator.configs import CHOICE_GROUPS, InvalidParameterError, Recipe, config_key
from derivtrain.estimator.natural_loss import with_natural_loss
from derivtrain.threads import threads_for


@functools.lru_cache(maxsize=None)
def _signature_names(cls) -> list:
    """The constructor's own parameter names (inspect.signature costs ~0.2 ms; get_params is called often)."""
    return [p.name for p in inspect.signature(cls.__init__).parameters.values()
            if p.name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]


class Estimator(BaseEstimator):
    """A derivtrain model as a scikit-learn estimator (see the module docstring).

    model, loss, regularizer, optim: option names of the CLI's groups (None: the model's choice).
    standardize: standardize features with the training rows' mean and scale, as the CLI does.
    class_weight: classifiers: "balanced" or {label: weight}; multiplies the rows' sample weights.
    log_dir: a folder for TensorBoard event files (None: nothing is written).
    verbose: 0 prints nothing; 1 shows the progress bar and the `derivtrain` logger's messages.
    **params: `<group>__<key>` config values, e.g. regularizer__strength=1e-3, optim__tol=1e-6.
    """

    def __init__(self, model="svm", *, loss=None, regularizer=None, optim=None, standardize=True,
                 class_weight=None, log_dir=None, verbose=0, **params):
        self.model, self.loss, self.regularizer, self.optim = model, loss, regularizer, optim
        self.standardize, self.class_weight, self.log_dir, self.verbose = standardize, class_weight, log_dir, verbose
        # names outside the signature, kept apart (scikit-learn reads public attributes as parameters);
        # checked against the config at set_params (config keys) and fit (all)
        self._config_params = dict(params)

    # ---- parameters --------------------------------------------------------------------------
    @classmethod
    def _named(cls) -> list:
        return _signature_names(cls)

    def get_params(self, deep=True) -> dict:
        return {**{name: getattr(self, name) for name in self._named()}, **self._config_params}

    def set_params(self, **params):
        """Set named parameters and `<group>__<key>` config values; an unknown config key is a
        ValueError at once, naming the nearest valid one (other names are checked at fit)."""
        named = set(self._named())
        config_names = [n for n in params if n not in named and config_key(n) is not None]
        if config_names:
            self._check_config_names({**self.get_params(deep=False), **params}, config_names)
        for name, value in params.items():
            if name in named:
                setattr(self, name, value)
            else:
                self._config_params[name] = value
        return self

    def _check_config_names(self, params: dict, names: list) -> None:
        """Unknown config keys are a ValueError now; options that do not compose (a bad model=...)
        are left to fit, which says what is wrong with them."""
        try:
            choices = self._recipe(params).choices
            configs.composed(tuple(sorted(choices.items())))
        except InvalidParameterError:
            return
        configs.check_names(choices, names)

    def _recipe(self, params: dict) -> Recipe:
        """Group choices and config values from the parameters (subclasses add their own names)."""
        recipe, named = Recipe(), set(self._named())
        for group in CHOICE_GROUPS:
            option = params.get(group)
            if option is None:
                continue
            if not isinstance(option, str):
                raise InvalidParameterError(f"{group}={option!r} must be the name of a {group} option, "
                                            f"e.g. {group}={'svm' if group == 'model' else 'l2'!r}")
            recipe.choices[group] = option
        for name, value in params.items():
            key = config_key(name)
            if key is not None:
                recipe.set(name, key, value)
            elif name not in named and name not in CHOICE_GROUPS:
                raise configs.unknown_parameter(name, recipe.choices, sorted(named))
        return recipe

    def _config(self):
        return configs.configure(self._recipe(self.get_params(deep=False)), self.log_dir is not None,
                                 bool(self.verbose))

    def _task(self) -> str:
        """What the fitted model does (after fit), else what the parameters configure."""
        return getattr(self, "_fitted_task", None) or configs.task_of(self._config())

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "model_")

    # ---- fit -----------------------------------------------------------------------------------
    def fit(self, X, y=None, sample_weight=None):
        """Train on X (n, d) (numpy, pandas or scipy sparse, densified) and y (ignored by density
        models); sample_weight: one non-negative weight per row."""
        from derivtrain.estimator.fitting import fit_model

        cfg, recipe, data = self._fit_inputs(X, y, sample_weight)
        fitter = configs.plan(recipe, self.log_dir is not None, bool(self.verbose)).fitter  # cached: cfg's plan
        try:
            model, result = fit_model(cfg, data, self._C(recipe), self.log_dir, bool(self.verbose), fitter)
        except UserError as exc:  # the CLI's message (data, model settings), as the ValueError scikit-learn expects
            raise InvalidParameterError(configs.estimator_names(str(exc), recipe)) from None
        return self._fitted(model, result)

    def _fit_inputs(self, X, y, sample_weight):
        """(config, recipe, Data) of a fit: the parameters composed and checked, the rows checked,
        weighted and standardized (sets classes_, n_features_in_)."""
        from derivtrain.config.targets import target_plan_of
        from derivtrain.devices import resolve_device

        recipe = self._recipe(self.get_params(deep=False))
        configure = functools.partial(configs.configure, logging_to=self.log_dir is not None,
                                      verbose=bool(self.verbose))
        recipe, cfg = with_natural_loss(recipe, configure(recipe), y, configure)  # model="mlp" on values: mse
        task = configs.task_of(cfg)
        self._check_settings(task)
        X, y = self._fit_data(X, y, task)
        weight = arrays.check_sample_weight(sample_weight, X.shape[0])
        if weight is not None:
            keep = weight > 0  # a row of weight 0 is a row left out
            X, y, weight = X[keep], None if y is None else y[keep], weight[keep]
        spec, targets, weight = self._targets(X, y, task, weight)
        configs.check_components(cfg, recipe, X.shape[0])
        device = resolve_device(cfg.trainer.device)
        self._fitting_task = task
        return cfg, recipe, arrays.training_data(X, targets, weight, spec, bool(self.standardize), device,
                                                 target_plan_of(cfg, self._C(recipe)))

    def _fitted(self, model, result):
        # predictions in float64 on the CPU: the same on any batch of rows, picklable anywhere
        self.model_ = model.to(device="cpu", dtype=torch.float64).eval()
        self._fitted_task = self.__dict__.pop("_fitting_task")
        self.model_.fold_target_scaling()  # float64: its weights predict in y's units, as scikit-learn's coef_
        self.n_iter_ = result.epochs
        self.metrics_ = {k: v for k, v in result.metrics.items() if k.startswith("train/")}
        return self

    def _C(self, recipe: Recipe):
        C = recipe.C
        if C is not None and not (isinstance(C, (int, float, np.number)) and not isinstance(C, bool)
                                  and np.isfinite(C) and C > 0):
            raise InvalidParameterError(f"C={C!r} must be a number > 0 (alpha = 1 / (C n))")
        return None if C is None else float(C)

    def _check_settings(self, task: str) -> None:
        if not isinstance(self.standardize, (bool, np.bool_)):
            raise InvalidParameterError(f"standardize={self.standardize!r} must be True or False")
        if getattr(self, "class_weight", None) is not None and task != "classification":
            raise InvalidParameterError(f"class_weight weighs the classes of a classifier, but this {task} "
                                        "model has none; drop class_weight")

    def _fit_data(self, X, y, task: str):
        """Checked arrays: X float (sparse densified), y as the task needs; sets n_features_in_."""
        if task == "density":  # a Gaussian of sparse rows means little: asked to densify (TypeError)
            X = validate_data(self, X, accept_sparse=False, dtype=(np.float64, np.float32))
            y = None
        else:
            X, y = validate_data(self, X, y, accept_sparse=True, dtype=(np.float64, np.float32),
                                 y_numeric=task == "regression")
        if task == "classification":
            from sklearn.utils.multiclass import check_classification_targets

            try:
                check_classification_targets(y)
            except ValueError as exc:
                raise ValueError(f"{exc} This estimator's loss trains a classifier; for a regression target "
                                 "choose a regression loss (loss='mse', or MLP(task='regression'))") from None
        return _dense(X), y

    def _targets(self, X, y, task: str, weight):
        """(DataSpec, encoded targets, row weights with the class weights in)."""
        from derivtrain.data.table import DataSpec, generated_names

        names = [str(n) for n in getattr(self, "feature_names_in_", generated_names(X.shape[1]))]
        if task == "classification":
            self.classes_, targets = arrays.encode_labels(y)
            per_class = arrays.class_weights(getattr(self, "class_weight", None), self.classes_, targets, weight)
            if per_class is not None:
                weight = per_class if weight is None else weight * per_class
            classes = [c.item() if hasattr(c, "item") else c for c in self.classes_]
            return DataSpec(task, X.shape[1], classes, names), targets, weight
        self.__dict__.pop("classes_", None)  # a refit as a regressor or density model has none
        targets = np.zeros(X.shape[0]) if y is None else np.asarray(y, dtype=np.float64)
        return DataSpec(task, X.shape[1], [], names), targets, weight

    # ---- predictions ---------------------------------------------------------------------------
    def _rows(self, X) -> torch.Tensor:
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, accept_sparse=self._fitted_task != "density",
                          dtype=(np.float64, np.float32))
        return torch.tensor(_dense(X), dtype=torch.float64)  # a copy: X may be read-only (pandas, memmaps)

    def _has_probabilities(self) -> bool:
        if hasattr(self, "model_"):
            return self._fitted_task == "density" or getattr(self.model_, "probability_link", None) is not None
        cfg = self._config()
        task = configs.task_of(cfg)
        return task == "density" or (task == "classification"
                                     and getattr(configs.target(cfg.loss), "probability_link", None) is not None)

    @available_if(lambda self: self._task() == "classification")
    def decision_function(self, X):
        """Classifiers' scores: one per row (binary: > 0 predicts classes_[1]) or one per class."""
        X = self._rows(X)
        with threads_for(X.numel()):
            return self.model_.decision_function(X).numpy()

    def predict(self, X):
        """Labels (classifiers, from classes_), values (regression; Poisson: expected counts), or
        the most likely component (density models)."""
        X = self._rows(X)
        with threads_for(X.numel()):
            if self._fitted_task != "classification":
                return self.model_.predict(X).numpy()
            scores = self.model_.decision_function(X)
        index = (scores > 0).long() if scores.dim() == 1 else scores.argmax(dim=1)
        return self.classes_[index.numpy()]

    @available_if(lambda self: self._has_probabilities())
    def predict_proba(self, X):
        """Class probabilities (classifiers trained by a likelihood, e.g. cross-entropy), or each
        component's responsibility (density models)."""
        X = self._rows(X)
        with threads_for(X.numel()):
            return self.model_.predict_proba(X).numpy()

    @available_if(lambda self: self._task() == "density")
    def score_samples(self, X):
        """log p(x) per row (density models), in the units of the raw features."""
        X = self._rows(X)
        with threads_for(X.numel()):
            return self.model_.score_samples(X).numpy()

    def score(self, X, y=None, sample_weight=None) -> float:
        """Accuracy (classifiers), R^2 (regression) or the mean log-likelihood (density models)."""
        task = self._task()
        if task == "density":
            return float(np.average(self.score_samples(X), weights=sample_weight))
        return scoring.score(task, y, self.predict(X), sample_weight)

    def __sklearn_tags__(self):
        from sklearn.utils import ClassifierTags, RegressorTags

        tags = super().__sklearn_tags__()
        try:
            cfg = self._config()
        except ValueError:  # parameters fit will reject: the generic tags
            return tags
        task = configs.task_of(cfg)
        tags.input_tags.sparse = task != "density"  # accepted and densified (the model path is dense)
        tags.target_tags.required = task != "density"
        if task == "classification":
            tags.estimator_type, tags.classifier_tags = "classifier", ClassifierTags()
        elif task == "regression":
            tags.estimator_type, tags.regressor_tags = "regressor", RegressorTags()
            from derivtrain.losses.poisson import PoissonLoss

            tags.target_tags.positive_only = issubclass(configs.target(cfg.loss), PoissonLoss)  # counts
        else:
            tags.estimator_type = "density_estimator"
        return tags


def _dense(X):
    """scipy sparse -> dense numpy: derivtrain's models and solvers work on dense rows."""
    return X.toarray() if hasattr(X, "toarray") else X
