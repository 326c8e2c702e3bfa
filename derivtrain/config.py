"""Typed schemas for every config group, registered in Hydra's ConfigStore.

Each YAML option names its schema in its defaults list (`/schema/<group>@_here_: <name>`), so Hydra
checks key names and types while composing; `validate` then checks values that types cannot
(ranges, choices, devices) before any tensor is built.
"""
import math
from dataclasses import dataclass, field
from typing import Any, List, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

from derivtrain.choices import MULTICLASS
from derivtrain.config_values import check_values
from derivtrain.errors import ConfigError, choice_error, did_you_mean
from derivtrain.sensitivity.options import check_analysis
from derivtrain.sweep.selection import check_sweep_config


# ---- data -------------------------------------------------------------------------------------
@dataclass
class DataSchema:
    _target_: str = MISSING  # a loader returning a derivtrain.data.Table
    test_size: float = 0.2
    val_size: float = 0.1
    standardize: bool = True
    cv_folds: int = 0  # K-fold cross-validation of the train+val rows (test kept apart); 0 = off
    fold: Optional[int] = None  # with cv_folds: the fold that validates, 0..K-1 (`-m data.cv_folds=K` runs each)


@dataclass
class BundledDataSchema(DataSchema):
    _target_: str = "derivtrain.data.bundled.load_bundled"
    name: str = "breast_cancer"


@dataclass
class CsvDataSchema(DataSchema):
    _target_: str = "derivtrain.data.csv.load_csv"
    path: Optional[str] = None
    target: Optional[str] = None
    features: Optional[List[str]] = None  # null = every column but the target
    task: str = "auto"  # auto | classification | regression


@dataclass
class NpyDataSchema(DataSchema):
    """Features in a 2-D .npy (derivtrain/data/npy.py): read into memory, or from its memory map in
    chunks (out of core, derivtrain/data/memory.py decides under out_of_core=auto)."""
    _target_: str = "derivtrain.data.npy.load_npy"
    path: Optional[str] = None  # (rows, features) float32/float64, C order
    target: Optional[str] = None  # a 1-D .npy, one value per row; null = no target (density)
    task: str = "auto"  # auto | classification | regression
    out_of_core: str = "auto"  # auto (from disk when the file does not fit in memory) | true | false
    chunk_rows: int = 65536  # out of core: rows read, standardized and shuffled together; bounds the memory used


@dataclass
class SvmlightDataSchema(DataSchema):
    """Sparse rows in the svmlight/libsvm text format (derivtrain/data/svmlight.py), kept sparse."""
    _target_: str = "derivtrain.data.svmlight.load_svmlight"
    path: Optional[str] = None  # a file, a folder of files or a glob pattern; labels are each line's first field
    task: str = "auto"  # auto | classification | regression
    n_features: Optional[int] = None  # null: the largest feature index in the data
    zero_based: str = "auto"  # auto (zero-based only if an index 0 appears) | true | false


@dataclass
class NpzDataSchema(DataSchema):
    """A scipy sparse matrix saved by scipy.sparse.save_npz (derivtrain/data/npz.py), kept sparse."""
    _target_: str = "derivtrain.data.npz.load_npz"
    path: Optional[str] = None  # a .npz file, a folder of them or a glob pattern
    target: Optional[str] = None  # a 1-D .npy, one value per row of all the files
    task: str = "auto"  # auto | classification | regression


@dataclass
class SyntheticDataSchema(DataSchema):
    _target_: str = "derivtrain.data.synthetic.make_synthetic"
    task: str = "classification"
    n_samples: int = 1000
    n_features: int = 20
    n_classes: int = 2
    noise: float = 0.1
    seed: int = 0
    n_informative: Optional[int] = None  # only the first k features carry signal; null = all


@dataclass
class BlobsDataSchema(DataSchema):
    """Unlabelled Gaussian blobs, for density models (derivtrain/data/blobs.py)."""
    _target_: str = "derivtrain.data.blobs.make_blobs"
    n_samples: int = 1000
    n_features: int = 2
    centers: Any = 3  # a number of blobs (centres uniform in [-10, 10]^d) or a list of centres
    cluster_std: float = 1.0
    seed: int = 0


@dataclass
class CountsDataSchema(DataSchema):
    """Generated counts y ~ Poisson(exp(Xw + b)), for Poisson regression (derivtrain/data/counts.py)."""
    _target_: str = "derivtrain.data.counts.make_counts"
    n_samples: int = 2000
    n_features: int = 10
    seed: int = 0


# ---- models -----------------------------------------------------------------------------------
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


# ---- losses and regularizers ------------------------------------------------------------------
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
    variant: str = "crammer_singer"  # crammer_singer | weston_watkins
    class_weight: Optional[List[float]] = None


@dataclass
class RegularizerSchema:
    _target_: str = MISSING
    strength: float = 0.0


@dataclass
class ElasticNetSchema(RegularizerSchema):
    _target_: str = "derivtrain.losses.elastic_net.ElasticNetPenalty"
    l1_ratio: float = 0.5  # 1 = L1, 0 = L2


# ---- optimizers -------------------------------------------------------------------------------
@dataclass
class OptimSchema:
    name: str = MISSING
    lr: float = 0.1
    tol: float = 1.0e-4  # convex models: stop once the certified relative optimality gap is below it
    weight_decay: float = 0.0
    schedule: str = "none"  # none | cosine | step | plateau
    step_size: int = 30  # step: multiply lr by gamma every step_size epochs
    gamma: float = 0.1  # step and plateau: the decay factor
    patience: int = 10  # plateau: epochs without improvement before decaying


@dataclass
class SGDSchema(OptimSchema):
    name: str = "sgd"
    momentum: float = 0.9
    nesterov: bool = False


@dataclass
class AdamSchema(OptimSchema):
    name: str = "adam"
    lr: float = 0.001
    betas: List[float] = field(default_factory=lambda: [0.9, 0.999])
    eps: float = 1e-8


@dataclass
class LBFGSSchema(OptimSchema):
    name: str = "lbfgs"
    lr: float = 1.0
    max_iter: int = 20
    history_size: int = 10
    line_search: Optional[str] = "strong_wolfe"


# Full-batch methods with their own loops; trainer.batch_size does not apply to them.
@dataclass
class CertifiedSchema:
    """Newton on a smoothed objective, stopped on a duality-gap certificate (train/certified.py).
    trainer.max_epochs caps its iterations."""
    name: str = "certified"
    tol: float = 1.0e-4  # stop once the certified relative optimality gap (P - D) / |P| is below it
    hessian: str = "auto"  # dense | cg (conjugate gradients, Hessian-vector products only) | auto
    max_dense: int = 2048  # auto: a dense Hessian up to this many parameters (per class where classes do not interact)
    dtype: str = "float64"  # iterate in float64: certifying a gap of 1e-6 needs more than float32's rounding


@dataclass
class AutoSchema(AdamSchema):
    """optim=auto: each model's natural solver (derivtrain/train/fitters.py). The keys are those of
    the solvers it may pick: tol/hessian/max_dense/dtype (the certified solver), n_init/init/max_iter
    (EM: mixtures), lr/betas/eps/weight_decay/schedule (Adam: the MLP and plugin models)."""
    name: str = "auto"
    lr: float = 0.01
    tol: float = 1.0e-4
    hessian: str = "auto"
    max_dense: int = 2048
    dtype: str = "float64"
    max_iter: int = 100
    n_init: int = 1
    init: str = "kmeans"


@dataclass
class NewtonSchema:
    """Newton's method with the Hessian from autograd and a backtracking line search (train/newton.py)."""
    name: str = "newton"
    max_iter: int = 50
    tol: float = 1.0e-4  # a certified relative gap where the objective has a convex dual, else decrement^2/2 <= tol |f|
    hessian: str = "auto"  # dense | cg (Newton-CG, Hessian-vector products only) | auto (dense up to max_dense)
    max_dense: int = 200  # parameters; dense costs one backward pass per parameter, CG one per CG step
    dtype: str = "float64"  # iterate in float64 (float32 rounding stops Newton short of the optimum)


@dataclass
class EMSchema:
    """Expectation-maximization for mixture models (train/em.py)."""
    name: str = "em"
    max_iter: int = 100
    tol: float = 1e-3  # converged once an iteration raises the mean log-likelihood by less (scikit-learn's test)
    n_init: int = 1  # restarts from different k-means++ seeds; the best is kept
    init: str = "kmeans"  # kmeans (k-means++ seeds + Lloyd's iterations) | k-means++ (seeds only)


# ---- trainer, logger, analysis ----------------------------------------------------------------
@dataclass
class EarlyStoppingSchema:
    monitor: str = "val/loss"
    mode: str = "auto"  # auto | min | max (auto: max for accuracy, f1 and r2, min otherwise)
    patience: int = 0  # validations without improvement before stopping; 0 = never stop early
    min_delta: float = 0.0


@dataclass
class TrainerSchema:
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    seed: int = 0
    max_epochs: int = 100
    batch_size: Optional[int] = None  # null = full batch
    val_every_n_epochs: int = 1  # 0 = never
    log_every_n_steps: Optional[int] = None  # null: one loss point per epoch, at most 100 a run
    checkpoint_every_n_epochs: int = 0  # 0 = only the final checkpoints/last.pt
    on_nonfinite: str = "stop"  # stop | skip_step: what a NaN/Inf loss or gradient does
    keep_checkpoints: int = 2  # step files kept beside last.pt (an unreadable last.pt falls back to them)
    gradient_clip_norm: Optional[float] = None
    resume: Optional[str] = None  # a run folder or checkpoint file to continue from; auto: this run's own, if any
    progress_bar: str = "auto"  # auto (on a terminal) | true | false
    shuffle: str = "rows"  # rows (new row order each epoch) | batches (contiguous batches, new batch order)
    precision: str = "32"  # 32 | bf16 (autocast: matrix products in bfloat16)
    compile: bool = False  # torch.compile the model's forward
    cuda_graph: bool = False  # CUDA: capture the whole step once, replay it per batch (train/cuda_graph.py)
    strategy: str = "single"  # single | ddp (data parallel under torchrun; see conf/trainer/ddp.yaml)
    backend: str = "auto"  # ddp: auto (nccl on CUDA, gloo on CPU) | gloo | nccl
    early_stopping: EarlyStoppingSchema = field(default_factory=EarlyStoppingSchema)


@dataclass
class LoggerSchema:
    name: str = "tensorboard"  # tensorboard | none
    histogram_every_n_epochs: int = 10  # weight and gradient histograms; 0 = never


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


@dataclass
class DiagnosticsSchema:
    hessian_every_n_epochs: int = 0  # log the top Hessian eigenvalue (sharpness) every N epochs; 0 = never
    hessian_iterations: int = 20  # Lanczos steps, one Hessian-vector product each
    hessian_method: str = "auto"  # auto | exact (double backward) | finite_difference
    hessian_max_samples: Optional[int] = 10000  # training rows the estimate uses; null = all


@dataclass
class SweepSchema:
    """What a sweep selects on (derivtrain/sweep/selection.py): each job returns it, the summary ranks by it."""
    monitor: str = "auto"  # auto (val/accuracy, val/r2 or val/log_likelihood by task) | val/<metric> | train/<metric>
    mode: str = "auto"  # auto (max for accuracy, f1_macro, r2, log_likelihood; min otherwise) | max | min


_SCHEMAS = {
    "data": {"bundled": BundledDataSchema, "csv": CsvDataSchema, "npy": NpyDataSchema,
             "svmlight": SvmlightDataSchema, "npz": NpzDataSchema, "synthetic": SyntheticDataSchema, "blobs": BlobsDataSchema, "counts": CountsDataSchema},
    "model": {"linear": LinearModelSchema, "logistic": LogisticModelSchema, "svm": SVMModelSchema,
              "mlp": MLPModelSchema, "gmm": GaussianMixtureSchema, "gaussian": GaussianModelSchema,
              "poisson": PoissonModelSchema},
    "loss": {"loss": LossSchema, "hinge": HingeLossSchema, "multiclass_hinge": MulticlassHingeLossSchema},
    "regularizer": {"regularizer": RegularizerSchema, "elastic_net": ElasticNetSchema},
    "optim": {"sgd": SGDSchema, "adam": AdamSchema, "lbfgs": LBFGSSchema, "newton": NewtonSchema,
              "em": EMSchema, "certified": CertifiedSchema, "auto": AutoSchema},
    "trainer": {"trainer": TrainerSchema},
    "logger": {"logger": LoggerSchema},
    "analysis": {"analysis": AnalysisSchema, "integrated_gradients": IntegratedGradientsSchema,
                 "smoothgrad": SmoothGradSchema, "kernel_shap": KernelShapSchema,
                 "noise_tunnel": NoiseTunnelSchema, "compare": CompareSchema},
    "diagnostics": {"diagnostics": DiagnosticsSchema},
    "sweep": {"sweep": SweepSchema},
}


def register_schemas() -> None:
    """Put every schema in Hydra's ConfigStore under `schema/<group>/<name>`."""
    store = ConfigStore.instance()
    for group, schemas in _SCHEMAS.items():
        for name, node in schemas.items():
            store.store(group=f"schema/{group}", name=name, node=node)


# ---- value checks -----------------------------------------------------------------------------
GRADIENT_OPTIMIZERS = ("sgd", "adam", "adamw", "lbfgs")
FULL_BATCH_OPTIMIZERS = ("auto", "certified", "newton", "em")  # auto: unless it picks the gradient loop
OPTIMIZERS = FULL_BATCH_OPTIMIZERS + GRADIENT_OPTIMIZERS
PRECISIONS = ("float32", "float64")
EM_INITS = ("kmeans", "k-means++")
HESSIANS = ("auto", "dense", "cg")
SCHEDULES = ("none", "cosine", "step", "plateau")
TASKS = ("classification", "regression")


def _positive(key: str, value: Any, allow_zero: bool = False) -> None:
    if value is None:
        return
    if value < 0 or (value == 0 and not allow_zero):
        raise ConfigError(f"{key}={value} must be {'>= 0' if allow_zero else '> 0'}")


GROUPS = ("data", "model", "loss", "regularizer", "optim", "trainer", "logger", "analysis", "diagnostics", "sweep")


_OPTION_NAME = r"[A-Za-z_][\w.-]*"


def check_overrides(args) -> None:
    """Group choices on the command line must be option names (`model=svm`, or a list of them):
    Hydra answers `model=0` or `model=[1,2]` with an internal error, so say it plainly first."""
    import re

    for arg in args:
        key, sep, value = arg.partition("=")
        if not sep or key.lstrip("+~") not in GROUPS:
            continue
        for wrapper in ("[", "choice("):  # a list, or Optuna's categorical choice(a,b)
            if value.startswith(wrapper) and value.endswith(("]", ")")):
                value = value[len(wrapper):-1]
        names = value.split(",")
        if not all(re.fullmatch(_OPTION_NAME, n.strip()) for n in names):
            raise ConfigError(f"{arg}: a config group takes an option name, e.g. {key.lstrip('+~')}="
                              f"{'svm' if key.endswith('model') else 'default'}; "
                              f"`python -m derivtrain --help` lists the options")


def validate(cfg) -> None:
    """Check values that the schemas' types cannot; raise ConfigError naming key, value and choices."""
    for key in cfg:
        if key not in GROUPS:
            raise ConfigError(f"unknown top-level key {key}; {did_you_mean(key, GROUPS, 'config groups')}")
    check_values(cfg)  # interpolations, finiteness, seeds, ranges the code each value reaches accepts
    d, t, o = cfg.data, cfg.trainer, cfg.optim
    for key in ("test_size", "val_size"):
        if not 0 <= d[key] < 1:
            raise ConfigError(f"data.{key}={d[key]} must be in [0, 1)")
    if d.test_size <= 0:
        raise ConfigError(f"data.test_size={d.test_size} must be > 0: the final metrics come from the test split")
    if d.test_size + d.val_size >= 0.9:
        raise ConfigError(f"data.test_size + data.val_size = {d.test_size + d.val_size} leaves too little to train on")
    if "task" in d and d.task not in TASKS + (("auto",) if "path" in d else ()):
        raise choice_error("data.task", d.task, TASKS + (("auto",) if "path" in d else ()))
    _check_data_path(d)
    _check_folds(d)
    _positive("trainer.max_epochs", t.max_epochs)
    _positive("trainer.batch_size", t.batch_size)
    _positive("trainer.log_every_n_steps", t.log_every_n_steps)
    _positive("trainer.val_every_n_epochs", t.val_every_n_epochs, allow_zero=True)
    _positive("trainer.checkpoint_every_n_epochs", t.checkpoint_every_n_epochs, allow_zero=True)
    _positive("trainer.keep_checkpoints", t.keep_checkpoints)
    _positive("trainer.gradient_clip_norm", t.gradient_clip_norm)
    if o.name not in OPTIMIZERS:
        raise choice_error("optim.name", o.name, OPTIMIZERS)
    if "tol" in o and not (o.tol > 0 and math.isfinite(o.tol)):
        raise ConfigError(f"optim.tol={o.tol} must be a finite number > 0 (the relative optimality gap to stop at)")
    if "lr" in o:
        _positive("optim.lr", o.lr)
    if "schedule" in o and o.schedule not in SCHEDULES:
        raise choice_error("optim.schedule", o.schedule, SCHEDULES)
    if str(t.progress_bar).lower() not in ("auto", "true", "false"):  # Hydra turns false into False
        raise choice_error("trainer.progress_bar", t.progress_bar, ("auto", "true", "false"))
    if t.on_nonfinite not in ("stop", "skip_step"):
        raise choice_error("trainer.on_nonfinite", t.on_nonfinite, ("stop", "skip_step"))
    if t.shuffle not in ("rows", "batches"):
        raise choice_error("trainer.shuffle", t.shuffle, ("rows", "batches"))
    if str(t.precision) not in ("32", "bf16"):
        raise choice_error("trainer.precision", t.precision, ("32", "bf16"))
    if t.strategy not in ("single", "ddp"):
        raise choice_error("trainer.strategy", t.strategy, ("single", "ddp"))
    if t.backend not in ("auto", "gloo", "nccl"):
        raise choice_error("trainer.backend", t.backend, ("auto", "gloo", "nccl"))
    es = t.early_stopping
    if es.mode not in ("auto", "min", "max"):
        raise choice_error("trainer.early_stopping.mode", es.mode, ("auto", "min", "max"))
    if es.patience and not t.val_every_n_epochs:
        raise ConfigError("trainer.early_stopping.patience needs validation: set trainer.val_every_n_epochs >= 1")
    if cfg.logger.name not in ("tensorboard", "none"):
        raise choice_error("logger.name", cfg.logger.name, ("tensorboard", "none"))
    _positive("regularizer.strength", cfg.regularizer.strength, allow_zero=True)
    if "l1_ratio" in cfg.regularizer and not 0 <= cfg.regularizer.l1_ratio <= 1:
        raise ConfigError(f"regularizer.l1_ratio={cfg.regularizer.l1_ratio} must be in [0, 1] (1 = L1, 0 = L2)")
    _check_svm_and_hinge(cfg)
    if "diagnostics" in cfg:
        _check_diagnostics(cfg.diagnostics)
    if "sweep" in cfg:
        check_sweep_config(cfg.sweep)
    check_analysis(cfg.analysis)
    check_device_name(t.device)
    from derivtrain.targets import check_target  # imports the chosen options' code (plugins too)

    check_target(cfg.model, "model", supplied=("spec",))
    check_target(cfg.loss, "loss")
    check_target(cfg.regularizer, "regularizer")
    check_target(cfg.data, "data", ignored=("test_size", "val_size", "standardize", "chunk_rows", "out_of_core",
                                            "cv_folds", "fold"))
    from derivtrain.config_solver import check_solver  # needs the classes check_target imported
    from derivtrain.contracts import check_contracts

    check_contracts(cfg)

    fitter = check_solver(cfg)
    if t.cuda_graph:
        _check_cuda_graph(t, o, fitter)
    from derivtrain.data.memory import reads_out_of_core  # lazy: the data package imports torch

    if "out_of_core" in d and str(d.out_of_core).lower() not in ("auto", "true", "false"):
        raise choice_error("data.out_of_core", d.out_of_core, ("auto", "true", "false"))
    if reads_out_of_core(d):
        _check_out_of_core(d, t, o, fitter)
    if sparse_data(d):
        _check_sparse(cfg, fitter)
    if fitter != "gradient":
        _check_full_batch_method(o, t, fitter)


def _check_data_path(d) -> None:
    """data.path (and data.target) for the options that read the user's files."""
    npy = "chunk_rows" in d
    if sparse_data(d):
        if d.path is None:
            raise ConfigError(f"data={'svmlight' if 'zero_based' in d else 'npz'} needs data.path=<file, folder or "
                              "glob>" + ("" if "zero_based" in d else " and data.target=<targets.npy>"))
        if "target" in d and d.target is None:
            raise ConfigError("data=npz needs data.target=<targets.npy> (one value per row)")
        return
    if "path" in d and d.path is None:
        raise ConfigError(("data=npy needs data.path=<features.npy> and data.target=<targets.npy> " if npy
                           else "data=csv needs data.path=<file.csv> and data.target=<column name> ")
                          + "(data.target=null: no target, a density problem for model=gmm or model=gaussian)")
    if "path" in d and d.target is None and d.task != "auto":
        raise ConfigError(f"data.task={d.task} needs targets: set data.target=<targets.npy>" if npy else
                          f"data.task={d.task} needs a target column: set data.target=<column name>")


def sparse_data(d) -> bool:
    """Whether the data option keeps its features sparse (data=svmlight, data=npz)."""
    return str(d.get("_target_", "")).endswith((".load_svmlight", ".load_npz"))


def _check_sparse(cfg, fitter: str) -> None:
    """Sparse rows feed linear models only, through paths that keep them sparse."""
    from hydra.utils import get_class

    from derivtrain.models.base import LinearModel

    t, option = cfg.trainer, "data=" + ("svmlight" if "zero_based" in cfg.data else "npz")
    model_cls = get_class(cfg.model._target_)
    if not (isinstance(model_cls, type) and issubclass(model_cls, LinearModel)):
        raise ConfigError(f"{option} keeps the features sparse, for linear models: use model=svm, logistic, "
                          f"linear or poisson, not {model_cls.__name__}")
    if str(t.precision) != "32" or t.cuda_graph or t.compile:
        raise ConfigError(f"{option}: sparse rows train in float32 without torch.compile or CUDA graphs; drop "
                          "trainer.precision=bf16, trainer.compile and trainer.cuda_graph")
    if cfg.analysis.method != "none":
        raise ConfigError(f"{option}: sensitivity analysis needs dense rows; use analysis=none")
    if str(cfg.data.get("zero_based", "auto")).lower() not in ("auto", "true", "false"):
        raise choice_error("data.zero_based", cfg.data.zero_based, ("auto", "true", "false"))
    _positive("data.n_features", cfg.data.get("n_features"))


def _check_folds(d) -> None:
    """data.cv_folds=K: fold k of K validates (data.fold); read from disk in order, data=npy cannot.
    (A plugin's data option without these keys has no folds.)"""
    if d.get("cv_folds", 0) == 0:
        if d.get("fold") is not None:
            raise ConfigError(f"data.fold={d.fold} picks a cross-validation fold; set data.cv_folds too (e.g. 5)")
        return
    if d.cv_folds < 2:
        raise ConfigError(f"data.cv_folds={d.cv_folds} must be 0 (off) or >= 2")
    from derivtrain.data.memory import reads_out_of_core

    if reads_out_of_core(d):
        raise ConfigError("data.cv_folds needs the rows in memory; data=npy from disk (data.out_of_core) splits "
                          "the file in order: use data.val_size instead, or data.out_of_core=false")
    if d.fold is None:
        raise ConfigError(f"data.cv_folds={d.cv_folds} needs data.fold (0..{d.cv_folds - 1}); a sweep runs "
                          f"every fold: python -m derivtrain -m data.cv_folds={d.cv_folds}")
    if not 0 <= d.fold < d.cv_folds:
        raise ConfigError(f"data.fold={d.fold} must be in 0..{d.cv_folds - 1} (data.cv_folds={d.cv_folds})")




def _check_svm_and_hinge(cfg) -> None:
    """model.multiclass, model.C / model.alpha and the hinge losses' multiclass settings agree."""
    model, loss = cfg.model, cfg.loss
    if "multiclass" in model and model.multiclass not in MULTICLASS:
        raise choice_error("model.multiclass", model.multiclass, MULTICLASS)
    if "multiclass" in loss and loss.multiclass not in MULTICLASS:
        raise choice_error("loss.multiclass", loss.multiclass, MULTICLASS)
    if "variant" in loss and loss.variant not in MULTICLASS[1:]:
        raise choice_error("loss.variant", loss.variant, MULTICLASS[1:])
    trained = loss.get("variant", loss.get("multiclass"))
    if "multiclass" in model and trained is not None and trained != model.multiclass:
        raise ConfigError(f"model.multiclass={model.multiclass} but the loss trains {trained}; "
                          f"set model.multiclass={trained} (loss=hinge follows model.multiclass)")
    if str(loss.get("_target_")).endswith("SquaredHingeLoss") and loss.get("multiclass", "ovr") != "ovr":
        raise ConfigError(f"loss=squared_hinge is one-vs-rest only, but multiclass={loss.multiclass}; "
                          f"use model.multiclass=ovr, or loss=hinge for {loss.multiclass}")
    if model.get("C") is not None and model.get("alpha") is not None:
        raise ConfigError(f"model.C={model.C} and model.alpha={model.alpha} both set the L2 strength "
                          "(alpha = 1/(C n_train)); set one of them")
    _positive("model.C", model.get("C"))
    _positive("model.alpha", model.get("alpha"), allow_zero=True)
    if model.get("C") is not None and str(cfg.regularizer.get("_target_")).endswith("NoPenalty"):
        raise ConfigError("model.C sets the strength of a penalty, but regularizer=none; "
                          "use regularizer=l2 (the SVM's) or drop model.C")


HESSIAN_METHODS = ("auto", "exact", "finite_difference")


def _check_diagnostics(d) -> None:
    _positive("diagnostics.hessian_every_n_epochs", d.hessian_every_n_epochs, allow_zero=True)
    _positive("diagnostics.hessian_iterations", d.hessian_iterations)
    _positive("diagnostics.hessian_max_samples", d.hessian_max_samples)
    if d.hessian_method not in HESSIAN_METHODS:
        raise choice_error("diagnostics.hessian_method", d.hessian_method, HESSIAN_METHODS)


def _check_cuda_graph(t, o, fitter: str) -> None:
    """A captured step replays fixed kernels: nothing in it may need the host or other processes."""
    if t.on_nonfinite == "skip_step":
        raise ConfigError("trainer.on_nonfinite=skip_step decides on the host at every step, which a CUDA graph "
                          "cannot; use trainer.on_nonfinite=stop (checked at the logging interval) with cuda_graph")
    if t.strategy == "ddp":
        raise ConfigError("trainer.cuda_graph=true runs in one process; drop trainer=ddp or cuda_graph")
    if fitter != "gradient" or o.name == "lbfgs":
        chosen = f"optim={o.name}" + (f" (here: the {fitter} solver)" if o.name == "auto" else "")
        raise ConfigError(f"trainer.cuda_graph=true captures one gradient step; {chosen} is not one "
                          "(use optim=sgd, adam or adamw)")


def _check_out_of_core(d, t, o, fitter: str) -> None:
    """Data read from disk in chunks trains on minibatches: nothing may need all rows at once."""
    _positive("data.chunk_rows", d.chunk_rows)
    if t.batch_size is None or fitter != "gradient":
        method = "trainer.batch_size=null" if fitter == "gradient" else f"optim={o.name}"
        raise ConfigError(f"data=npy out of core reads the file in chunks and trains on minibatches, but {method} "
                          "needs every row at once; set trainer.batch_size (e.g. 4096) with optim=sgd, adam or "
                          "adamw, or data.out_of_core=false to read it into memory")


def _check_full_batch_method(o, t, fitter: str) -> None:
    """The certified solver, Newton and EM: each iteration reads the whole training set (under
    trainer=ddp the certified solver and Newton sum over every rank's rows; EM does not)."""
    chosen = f"optim={o.name}" + (f" (here: the {fitter} solver)" if o.name == "auto" else "")
    if t.strategy == "ddp" and fitter == "em":
        # EM's M-step is not reduced across ranks: every rank would fit its own rows
        raise ConfigError(f"{chosen} fits in one process; under trainer=ddp use optim=sgd (or adam), "
                          "or run without torchrun")
    if t.batch_size is not None:
        raise ConfigError(f"{chosen} uses the full training set in every iteration; "
                          f"trainer.batch_size={t.batch_size} must be null (or pick optim=sgd/adam for minibatches)")
    if "max_iter" in o:
        _positive("optim.max_iter", o.max_iter)
    if fitter == "em":
        _positive("optim.n_init", o.n_init)
        if o.init not in EM_INITS:
            raise choice_error("optim.init", o.init, EM_INITS)
    elif "hessian" in o:
        if o.hessian not in HESSIANS:
            raise choice_error("optim.hessian", o.hessian, HESSIANS)
        if o.dtype not in PRECISIONS:
            raise choice_error("optim.dtype", o.dtype, PRECISIONS)
        _positive("optim.max_dense", o.max_dense)


def check_device_name(device: str) -> None:
    import re

    if not re.fullmatch(r"auto|cpu|cuda(:\d+)?", str(device)):
        raise choice_error("trainer.device", device, ("auto", "cpu", "cuda", "cuda:0"))
