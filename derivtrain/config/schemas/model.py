"""The `model`, `loss` and `regularizer` groups: their schemas and the checks of their values.

What only the classes can tell (a plugin model's contract, whether a solver suits the model) is
checked after these, once the classes are imported (derivtrain/contracts.py, config/solver.py).
"""
from dataclasses import dataclass, field
from typing import Any, List, Optional

from omegaconf import MISSING

from derivtrain.choices import MULTICLASS, MULTICLASS_VARIANTS
from derivtrain.config.values import positive
from derivtrain.errors import ConfigError, choice_error


@dataclass
class LinearModelSchema:
    _target_: str = "derivtrain.models.linear.LinearRegression"


@dataclass
class LogisticModelSchema:
    _target_: str = "derivtrain.models.logistic.LogisticRegression"


@dataclass
class SVMModelSchema:
    _target_: str = "derivtrain.models.svm.LinearSVM"
    multiclass: str = "ovr"  # ovr | crammer_singer | weston_watkins (loss=hinge follows it)
    C: Optional[float] = None  # scikit-learn's C; sets alpha = 1/(C n_train) instead of regularizer.strength
    alpha: Optional[float] = None  # the L2 strength for this model, instead of regularizer.strength


@dataclass
class MLPModelSchema:
    _target_: str = "derivtrain.models.mlp.MLP"
    hidden_sizes: List[int] = field(default_factory=lambda: [64])
    activation: str = "relu"
    dropout: float = 0.0


@dataclass
class GaussianMixtureSchema:
    _target_: str = "derivtrain.models.gmm.GaussianMixture"
    n_components: int = 3
    covariance_type: str = "full"  # full | diag | spherical
    reg_covar: float = 1e-6  # EM adds it to covariance diagonals; gradient fits keep det >= reg_covar^d


@dataclass
class GaussianModelSchema:
    _target_: str = "derivtrain.models.gaussian.MultivariateGaussian"
    reg_covar: float = 1e-6


@dataclass
class PoissonModelSchema:
    _target_: str = "derivtrain.models.poisson.PoissonRegression"


@dataclass
class LossSchema:
    _target_: str = MISSING


@dataclass
class HingeLossSchema(LossSchema):
    _target_: str = "derivtrain.losses.hinge.HingeLoss"
    multiclass: str = "ovr"  # ovr | crammer_singer | weston_watkins
    class_weight: Optional[List[float]] = None  # one per class, in class order


@dataclass
class MulticlassHingeLossSchema(LossSchema):
    _target_: str = "derivtrain.losses.hinge.MulticlassHingeLoss"
    multiclass: str = "crammer_singer"  # crammer_singer | weston_watkins (follows model.multiclass)
    class_weight: Optional[List[float]] = None


@dataclass
class RegularizerSchema:
    _target_: str = MISSING
    strength: float = 0.0
    # a regularization path (derivtrain/path/): null = off | auto (path_points strengths down path_decades
    # from the one that zeroes every weight, L1/elastic net, or a data-scaled one, L2) | [strengths...]
    path: Optional[Any] = None
    path_points: int = 30
    path_decades: float = 4.0
    path_rule: str = "min"  # min: the best mean validation metric | 1se: the strongest within one standard error


@dataclass
class ElasticNetSchema(RegularizerSchema):
    _target_: str = "derivtrain.losses.elastic_net.ElasticNetPenalty"
    l1_ratio: float = 0.5  # 1 = L1, 0 = L2


MODEL_SCHEMAS = {"linear": LinearModelSchema, "logistic": LogisticModelSchema, "svm": SVMModelSchema,
                 "mlp": MLPModelSchema, "gmm": GaussianMixtureSchema, "gaussian": GaussianModelSchema,
                 "poisson": PoissonModelSchema}
LOSS_SCHEMAS = {"loss": LossSchema, "hinge": HingeLossSchema, "multiclass_hinge": MulticlassHingeLossSchema}
REGULARIZER_SCHEMAS = {"regularizer": RegularizerSchema, "elastic_net": ElasticNetSchema}


def check_regularizer(r) -> None:
    positive("regularizer.strength", r.strength, allow_zero=True)
    if "l1_ratio" in r and not 0 <= r.l1_ratio <= 1:
        raise ConfigError(f"regularizer.l1_ratio={r.l1_ratio} must be in [0, 1] (1 = L1, 0 = L2)")


def check_svm_and_hinge(cfg) -> None:
    """model.multiclass, model.C / model.alpha and the hinge losses' multiclass settings agree."""
    model, loss = cfg.model, cfg.loss
    if "multiclass" in model and model.multiclass not in MULTICLASS:
        raise choice_error("model.multiclass", model.multiclass, MULTICLASS)
    # one key: where the model has `multiclass`, the loss's follows it (conf/loss/*hinge.yaml)
    key = "model.multiclass" if "multiclass" in model else "loss.multiclass"
    if "multiclass" in model and "multiclass" in loss and loss.multiclass != model.multiclass:
        raise ConfigError(f"loss.multiclass={loss.multiclass} but model.multiclass={model.multiclass}; "
                          f"set model.multiclass={loss.multiclass} (the loss follows it)")
    if "multiclass" in loss and loss.multiclass not in MULTICLASS:
        raise choice_error(key, loss.multiclass, MULTICLASS)
    if str(loss.get("_target_")).endswith("MulticlassHingeLoss") and loss.multiclass not in MULTICLASS_VARIANTS:
        raise ConfigError(f"loss=multiclass_hinge is {' or '.join(MULTICLASS_VARIANTS)}, but {key}={loss.multiclass}; "
                          f"set {key}=crammer_singer (or use loss=hinge for {loss.multiclass})")
    if str(loss.get("_target_")).endswith("SquaredHingeLoss") and loss.get("multiclass", "ovr") != "ovr":
        raise ConfigError(f"loss=squared_hinge is one-vs-rest only, but multiclass={loss.multiclass}; "
                          f"use model.multiclass=ovr, or loss=hinge for {loss.multiclass}")
    if model.get("C") is not None and model.get("alpha") is not None:
        raise ConfigError(f"model.C={model.C} and model.alpha={model.alpha} both set the L2 strength "
                          "(alpha = 1/(C n_train)); set one of them")
    positive("model.C", model.get("C"))
    positive("model.alpha", model.get("alpha"), allow_zero=True)
    if model.get("C") is not None and str(cfg.regularizer.get("_target_")).endswith("NoPenalty"):
        raise ConfigError("model.C sets the strength of a penalty, but regularizer=none; "
                          "use regularizer=l2 (the SVM's) or drop model.C")
