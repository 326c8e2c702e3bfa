"""The `data` group: its schemas (conf/data/*.yaml name them) and the checks of its values.

check_data runs with the other groups' checks, before anything is imported; check_data_reading
runs once the fitter is known (data read from disk in chunks, sparse rows: what each allows).
"""
from dataclasses import dataclass
from typing import Any, List, Optional

from omegaconf import MISSING

from derivtrain.config.values import positive
from derivtrain.errors import ConfigError, choice_error

TASKS = ("classification", "regression")
SWITCHES = ("auto", "true", "false")  # data.out_of_core, data.zero_based (Hydra turns false into False)


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


SCHEMAS = {"bundled": BundledDataSchema, "csv": CsvDataSchema, "npy": NpyDataSchema, "svmlight": SvmlightDataSchema,
           "npz": NpzDataSchema, "synthetic": SyntheticDataSchema, "blobs": BlobsDataSchema,
           "counts": CountsDataSchema}


def check_data(d, folds_in_process: bool = False) -> None:
    """Split sizes, the task, the files to read, cross-validation folds (`folds_in_process`: a
    regularization path runs every fold itself, derivtrain/path/)."""
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
    _check_folds(d, folds_in_process)


def check_data_reading(cfg, fitter: str) -> None:
    """How the rows are read suits the fitter: out of core (minibatches only), sparse (linear models)."""
    from derivtrain.data.memory import reads_out_of_core  # lazy: the data package imports torch

    d, t, o = cfg.data, cfg.trainer, cfg.optim
    if "out_of_core" in d and str(d.out_of_core).lower() not in SWITCHES:
        raise choice_error("data.out_of_core", d.out_of_core, SWITCHES)
    if reads_out_of_core(d):
        _check_out_of_core(d, t, o, fitter)
    if sparse_data(d):
        _check_sparse(cfg, fitter)


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
    if str(cfg.data.get("zero_based", "auto")).lower() not in SWITCHES:
        raise choice_error("data.zero_based", cfg.data.zero_based, SWITCHES)
    positive("data.n_features", cfg.data.get("n_features"))


def _check_folds(d, in_process: bool = False) -> None:
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
    if d.fold is None and not in_process:
        raise ConfigError(f"data.cv_folds={d.cv_folds} needs data.fold (0..{d.cv_folds - 1}); a sweep runs "
                          f"every fold: python -m derivtrain -m data.cv_folds={d.cv_folds}")
    if d.fold is not None and in_process:
        raise ConfigError(f"data.fold={d.fold} with regularizer.path: the path runs all {d.cv_folds} folds itself; "
                          "drop data.fold")
    if d.fold is not None and not 0 <= d.fold < d.cv_folds:
        raise ConfigError(f"data.fold={d.fold} must be in 0..{d.cv_folds - 1} (data.cv_folds={d.cv_folds})")


def _check_out_of_core(d, t, o, fitter: str) -> None:
    """Data read from disk in chunks trains on minibatches: nothing may need all rows at once."""
    positive("data.chunk_rows", d.chunk_rows)
    if t.batch_size is None or fitter != "gradient":
        method = "trainer.batch_size=null" if fitter == "gradient" else f"optim={o.name}"
        raise ConfigError(f"data=npy out of core reads the file in chunks and trains on minibatches, but {method} "
                          "needs every row at once; set trainer.batch_size (e.g. 4096) with optim=sgd, adam or "
                          "adamw, or data.out_of_core=false to read it into memory")

