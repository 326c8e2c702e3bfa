"""The analysis options and their value checks: plain Python, so config validation stays cheap.

Checked here (before any tensor is built): names, ranges and shapes of values. Checked against the
data and the model in make_analysis (still before training): class labels, baseline length, and
whether Captum's DeepLift can handle the model.
"""
from derivtrain.errors import ConfigError, choice_error

# derivtrain's own input-gradient methods (derivtrain/sensitivity/gradients.py)
OWN_METHODS = ("saliency", "grad_x_input", "smoothgrad")
# adapters around Captum (derivtrain/sensitivity/captum_methods.py)
CAPTUM_METHODS = ("integrated_gradients", "deeplift", "feature_ablation", "feature_permutation",
                  "kernel_shap", "noise_tunnel")
METHODS = OWN_METHODS + CAPTUM_METHODS
OPTIONS = ("none", "compare") + METHODS

TARGETS = ("predicted", "true")  # or a class label
BASELINES = ("mean", "zero")  # or a list with one raw value per feature
# Captum's quadrature rules, and derivtrain's exact path integral for ReLU (piecewise-linear) models;
# auto picks the exact one where the model allows it (derivtrain/sensitivity/integrated_gradients.py)
QUADRATURES = ("gausslegendre", "riemann_left", "riemann_right", "riemann_middle", "riemann_trapezoid")
INTEGRATIONS = ("auto", "exact_piecewise") + QUADRATURES
NOISE_TUNNEL_BASES = ("integrated_gradients", "saliency", "grad_x_input", "deeplift")
NT_TYPES = ("smoothgrad", "smoothgrad_sq", "vargrad")


def methods_of(cfg) -> list:
    """The methods an analysis config runs, in order: one, several (compare), or none."""
    if cfg.method == "none":
        return []
    if cfg.method == "compare":
        return [str(m) for m in cfg.methods]
    return [str(cfg.method)]


def check_analysis(cfg) -> None:
    """Values of the `analysis` group that its schema's types cannot check; ConfigError otherwise."""
    if cfg.method not in OPTIONS:
        raise choice_error("analysis.method", cfg.method, OPTIONS)
    if cfg.method == "compare":
        if "methods" not in cfg:
            raise ConfigError("analysis.method=compare needs the compare option: use analysis=compare")
        _check_compare(cfg.methods)
    _at_least("analysis.batch_size", cfg.batch_size, 1)
    if cfg.max_samples is not None:
        _at_least("analysis.max_samples", cfg.max_samples, 2 if "feature_permutation" in methods_of(cfg) else 1,
                  why=" (feature_permutation shuffles a feature across rows)")
    if not -1 <= cfg.sanity_threshold <= 1:
        raise ConfigError(f"analysis.sanity_threshold={cfg.sanity_threshold} must be a rank correlation in [-1, 1]")
    _check_target(cfg.target)
    _check_baseline(cfg.baseline)
    if "n_steps" in cfg:
        _at_least("analysis.n_steps", cfg.n_steps, 1)
        if cfg.integration not in INTEGRATIONS:
            raise choice_error("analysis.integration", cfg.integration, INTEGRATIONS)
        if cfg.integration == "exact_piecewise" and _tunnels_integrated_gradients(cfg):
            raise ConfigError("analysis.integration=exact_piecewise: noise_tunnel runs Captum's integrated "
                              f"gradients, which takes {', '.join(QUADRATURES)} (or auto)")
    if "noise_samples" in cfg:
        _at_least("analysis.noise_samples", cfg.noise_samples, 1)
        if cfg.noise_stdev < 0:
            raise ConfigError(f"analysis.noise_stdev={cfg.noise_stdev} must be >= 0")
    if "n_samples" in cfg:
        # a weighted regression on the features needs more coalitions than unknowns to be determined
        _at_least("analysis.n_samples", cfg.n_samples, 2)
    if "base" in cfg:
        if cfg.base not in NOISE_TUNNEL_BASES:
            raise choice_error("analysis.base", cfg.base, NOISE_TUNNEL_BASES)
        if cfg.nt_type not in NT_TYPES:
            raise choice_error("analysis.nt_type", cfg.nt_type, NT_TYPES)


def _tunnels_integrated_gradients(cfg) -> bool:
    return "noise_tunnel" in methods_of(cfg) and cfg.base == "integrated_gradients"


def check_integration(cfg, model) -> None:
    """analysis.integration=exact_piecewise needs a piecewise-linear model (checked before training)."""
    if "integrated_gradients" not in methods_of(cfg) or "integration" not in cfg:
        return
    from derivtrain.sensitivity.integrated_gradients import resolve_integration

    try:
        resolve_integration(model, cfg.integration, key="analysis.integration")
    except ValueError as error:
        raise ConfigError(str(error)) from None


def _check_compare(methods) -> None:
    if not methods:
        raise ConfigError(f"analysis=compare needs analysis.methods=[...]; choices: {', '.join(METHODS)}")
    for name in methods:
        if name not in METHODS:
            raise choice_error("analysis.methods", name, METHODS)
    repeated = sorted({m for m in methods if list(methods).count(m) > 1})
    if repeated:
        raise ConfigError(f"analysis.methods lists {', '.join(repeated)} more than once")


def _check_target(target) -> None:
    # a class label can only be checked against the data (make_analysis); here: its type
    if not isinstance(target, (str, int)) or isinstance(target, bool):
        raise ConfigError(f"analysis.target={target} is not valid; choices: {', '.join(TARGETS)}, or a class label")


def _check_baseline(baseline) -> None:
    if isinstance(baseline, str):
        if baseline not in BASELINES:
            raise choice_error("analysis.baseline", baseline, BASELINES + ("[v1, v2, ...]",))
        return
    values = list(baseline) if hasattr(baseline, "__iter__") else None
    if values is None or not values or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        raise ConfigError(f"analysis.baseline={baseline} is not valid; choices: mean, zero, "
                          "or a list with one raw value per feature")


def _at_least(key: str, value, low: int, why: str = "") -> None:
    if value < low:
        raise ConfigError(f"{key}={value} must be >= {low}{why}")


def check_against_data(cfg, spec) -> None:
    """Checks that need the data: the class label a target names, the baseline's length."""
    target = cfg.target
    if spec.task == "regression" and target != "predicted":
        raise ConfigError(f"analysis.target={target}: a regression model has one output; use analysis.target=predicted")
    if target not in TARGETS and spec.task == "classification":
        if str(target) not in map(str, spec.classes):
            raise choice_error("analysis.target", target, TARGETS + tuple(map(str, spec.classes)))
    if not isinstance(cfg.baseline, str) and len(cfg.baseline) != spec.n_features:
        raise ConfigError(f"analysis.baseline has {len(cfg.baseline)} values but the data has {spec.n_features} "
                          f"features ({', '.join(spec.feature_names[:5])}{', ...' if spec.n_features > 5 else ''})")
