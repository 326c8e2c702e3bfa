"""The scikit-learn checks a derivtrain estimator cannot pass as shipped, each with its reason.

scikit-learn (1.6 on) takes these from the caller: `check_estimator(est,
expected_failed_checks=expected_failed_checks(est))`, or `parametrize_with_checks(estimators,
expected_failed_checks=expected_failed_checks)`. Every other check of the suite passes with the
classes' default parameters (tests/test_estimator_checks.py).
"""

_WEIGHTS_VS_REPEATS = ("check_sample_weight_equivalence_on_dense_data",
                       "check_sample_weight_equivalence_on_sparse_data")

_INTERIOR_POINT = (
    "the hinge loss is solved by an interior-point method with one barrier term per row: weighted and repeated "
    "rows reach the same optimum along different paths, so the two fits agree to the certified optim.tol (1e-4 by "
    "default), not to this check's rtol=1e-7 (with optim__tol=1e-10 they do), as for scikit-learn's LinearSVC")
_MIXTURE = (
    "EM starts a mixture of several components from k-means++ seeds drawn among the rows: repeating rows changes "
    "the draw, and the fit can end in another local optimum (the components' labels swapped); "
    "tests/test_estimator_weights.py checks weighted EM against repeated rows from one start")
_TASK_FROM_Y = (
    "no loss is named and the model names one natural loss per task (model='mlp'): fit on continuous values trains "
    "a regressor with squared error, as the CLI does on a regression data set (derivtrain/estimator/natural_loss.py), "
    "where this check wants a classifier to refuse them; loss='cross_entropy' (or derivtrain.MLP) refuses them")


def expected_failed_checks(estimator) -> dict:
    """{check name: reason} for this estimator with its current parameters ({} if none fail)."""
    from derivtrain.estimator.configs import target

    cfg = estimator._config()
    if hasattr(target(cfg.model), "m_step") and cfg.model.get("n_components", 1) > 1:  # a mixture
        return {"check_sample_weight_equivalence_on_dense_data": _MIXTURE}
    if cfg.optim.name in ("auto", "certified") and _interior_point(cfg) and cfg.optim.tol > 1e-10:
        return dict.fromkeys(_WEIGHTS_VS_REPEATS, _INTERIOR_POINT)
    if task_follows_y(estimator._recipe(estimator.get_params(deep=False)), cfg):
        return {"check_classifiers_regression_target": _TASK_FROM_Y}
    return {}


def task_follows_y(recipe, cfg) -> bool:
    """A classifier as configured that fit turns into a regressor on continuous y."""
    from derivtrain.estimator.configs import target, task_of
    from derivtrain.estimator.natural_loss import follows_y

    natural = getattr(target(cfg.model), "natural_losses", {})
    return follows_y(recipe) and task_of(cfg) == "classification" and "regression" in natural


def _interior_point(cfg) -> bool:
    """Whether the certified solver takes its interior-point method: a kink in the loss (the hinge
    family) or in the penalty (L1, elastic net); derivtrain/trainer/certified.py."""
    from derivtrain.config.precision import kinked

    return kinked(cfg)
