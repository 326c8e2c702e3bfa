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


def expected_failed_checks(estimator) -> dict:
    """{check name: reason} for this estimator with its current parameters ({} if none fail)."""
    from derivtrain.estimator.configs import target

    cfg = estimator._config()
    if hasattr(target(cfg.model), "m_step") and cfg.model.get("n_components", 1) > 1:  # a mixture
        return {"check_sample_weight_equivalence_on_dense_data": _MIXTURE}
    if cfg.optim.name in ("auto", "certified") and _interior_point(cfg) and cfg.optim.tol > 1e-10:
        return dict.fromkeys(_WEIGHTS_VS_REPEATS, _INTERIOR_POINT)
    return {}


def _interior_point(cfg) -> bool:
    """Whether the certified solver takes its interior-point method: a kink in the loss (the hinge
    family) or in the penalty (L1, elastic net); derivtrain/trainer/certified.py."""
    from derivtrain.config.precision import kinked

    return kinked(cfg)
