"""The `analysis` group (sensitivity analysis after training, derivtrain/sensitivity/): its
schemas, the method names and the checks of its values. Plain Python, so validation stays cheap.

Checked here (before any tensor is built): names, ranges and shapes of values. Checked against the
data and the model in derivtrain/sensitivity/analysis.py:make_analysis (still before training):
class labels, baseline length, and whether Captum's DeepLift can handle the model.
"""
from dataclasses import dataclass, field
from typing import Any, List, Optional

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

@dataclass
class AnalysisSchema:
    """Sensitivity analysis on the test split after training (derivtrain/sensitivity/)."""
    method: str = "none"
    target: Any = "predicted"  # predicted | true | a class label: whose class score is explained
    baseline: Any = "mean"  # mean (zeros in standardized space) | zero (raw zeros) | [one raw value per feature]
    max_samples: Optional[int] = None  # explain the first N test rows (the split is shuffled); null = all
    batch_size: int = 16384  # rows per forward/backward pass inside a method: bounds memory
    sanity_check: bool = False  # Adebayo et al. 2018: re-run on a model with randomized weights
    sanity_threshold: float = 0.5  # flag a method whose map keeps this rank correlation after randomization
    seed: int = 0  # noise, permutations, coalitions and the randomized model


@dataclass
class IntegratedGradientsSchema(AnalysisSchema):
    method: str = "integrated_gradients"
    n_steps: int = 50  # quadrature points of Captum's rules; exact_piecewise takes one gradient per linear piece
    # auto (exact_piecewise for ReLU MLPs and linear models, else gausslegendre) | exact_piecewise |
    # gausslegendre | riemann_left | riemann_right | riemann_middle | riemann_trapezoid
    integration: str = "auto"


@dataclass
class SmoothGradSchema(AnalysisSchema):
    method: str = "smoothgrad"
    noise_samples: int = 25
    noise_stdev: float = 0.5  # in standard deviations of each feature (the model's input is standardized)


@dataclass
class KernelShapSchema(AnalysisSchema):
    method: str = "kernel_shap"
    max_samples: Optional[int] = 100  # one weighted regression per row: ~30 ms a row on 2 CPU cores (digits)
    n_samples: int = 200  # coalitions evaluated per row


@dataclass
class NoiseTunnelSchema(AnalysisSchema):
    method: str = "noise_tunnel"
    base: str = "integrated_gradients"  # integrated_gradients | saliency | grad_x_input | deeplift (Captum's)
    nt_type: str = "smoothgrad"  # smoothgrad | smoothgrad_sq | vargrad
    noise_samples: int = 10
    noise_stdev: float = 0.5
    n_steps: int = 50
    integration: str = "gausslegendre"


@dataclass
class CompareSchema(AnalysisSchema):
    """Several methods on the same rows, with their rank agreement; every method's keys are here."""
    method: str = "compare"
    methods: List[str] = field(default_factory=lambda: ["saliency", "grad_x_input", "integrated_gradients",
                                                        "deeplift", "feature_ablation", "feature_permutation"])
    n_steps: int = 50
    integration: str = "auto"  # as in IntegratedGradientsSchema; noise_tunnel reads auto as gausslegendre
    noise_samples: int = 25
    noise_stdev: float = 0.5
    n_samples: int = 200
    base: str = "integrated_gradients"
    nt_type: str = "smoothgrad"



SCHEMAS = {"analysis": AnalysisSchema, "integrated_gradients": IntegratedGradientsSchema,
           "smoothgrad": SmoothGradSchema, "kernel_shap": KernelShapSchema, "noise_tunnel": NoiseTunnelSchema,
           "compare": CompareSchema}


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
