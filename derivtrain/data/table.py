"""What a loader returns and what training consumes."""
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Optional

import numpy as np
import torch

from derivtrain.errors import DataError

# a numeric target with at most this many distinct integer values is taken as class labels
MAX_CLASSES_FOR_AUTO = 20


def infer_task(numbers: Optional[np.ndarray]) -> str:
    """data.task=auto: labels (non-numeric, or few distinct integers) are classes; other numbers regress."""
    if numbers is None or (whole_numbers(numbers) and len(np.unique(numbers)) <= MAX_CLASSES_FOR_AUTO):
        return "classification"
    return "regression"


def whole_numbers(numbers: np.ndarray) -> bool:
    """Integers that int64 (and float64) hold exactly: labels; 1e30 is a value, not a class."""
    return bool(np.all(numbers == np.round(numbers)) and (numbers.size == 0 or np.abs(numbers).max() < 2**53))


@dataclass
class Table:
    """Raw data as loaded: features as they come, labels as they come."""

    X: np.ndarray  # (n_samples, n_features), floating point (a MappedNpy: read on demand; scipy CSR: sparse)
    y: np.ndarray  # (n_samples,): class labels (any type) or float targets
    feature_names: list
    task: str  # classification | regression | density (no target: y is all zeros, density models only)
    target_names: Optional[list] = None  # readable class names, where the source has them
    # rows of a sharded source: X holds rows [first_row, first_row + len(X)) of the whole table,
    # whose targets, all of them, are y (held_rows None: X holds every row)
    held_rows: Optional[tuple] = None


@dataclass(frozen=True)
class DataSpec:
    """What a model needs to know about its data to build itself (saved in checkpoints)."""

    task: str
    n_features: int
    classes: list = field(default_factory=list)  # classes_ in label order; empty for regression
    feature_names: list = field(default_factory=list)

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def n_outputs(self) -> int:
        """One score for regression and binary problems, one per class otherwise."""
        return self.n_classes if self.n_classes > 2 else 1

    def to_dict(self) -> dict:
        """For checkpoints. Generated names (x0, x1, ...) are left out, and the reader makes them again
        (derivtrain/saved.py: spec_of): 100k of them took 35 ms of torch.save, a tenth of a sparse run's
        fit. They are told apart from the kept tuple of the last ones made, string by string, where
        equal strings are most often the same objects (a 1 ms comparison; building them anew, 13 ms)."""
        names = tuple(self.feature_names)
        generated = len(names) == self.n_features and names == _generated(self.n_features)
        return {"task": self.task, "n_features": self.n_features, "classes": list(self.classes),
                "feature_names": [] if generated else list(names)}


def generated_names(n_features: int) -> list:
    """The names of columns that come without any: x0, x1, ..."""
    return list(_generated(n_features))


@lru_cache(maxsize=1)
def _generated(n_features: int) -> tuple:
    return tuple(f"x{j}" for j in range(n_features))


@dataclass
class Split:
    """Standardized features and encoded targets on the run's device."""

    X: torch.Tensor  # (n, d) float32 (out of core: a MappedRows, read chunk by chunk; sparse: a CSR tensor)
    y: torch.Tensor  # (n,) int64 class index, or float target (centred and scaled: Data.target_mean)
    # (n,) per-row weights (scikit-learn's sample_weight times class_weight, from derivtrain.Estimator);
    # None = every row counts once. The loss is their weighted mean (derivtrain/losses/reduction.py).
    weight: Optional[torch.Tensor] = None
    shard: Optional[object] = None  # under data parallelism: which of the split's rows these are (data/shards.py)

    def __len__(self) -> int:
        return self.X.shape[0]

    @property
    def total_rows(self) -> int:
        """Rows of the whole split, on every rank together."""
        return self.shard.total if self.shard is not None else len(self)


@dataclass
class Data:
    spec: DataSpec
    train: Split
    val: Optional[Split]
    test: Split
    feature_mean: torch.Tensor  # fitted on train only; kept with the model
    feature_scale: torch.Tensor
    # row indices of each split into the source table (bundled: scikit-learn's row order;
    # csv/npy: file order); written to the run folder as split.npz
    indices: dict = field(default_factory=dict)
    # regression: every split's y is (y - target_mean) / target_scale, computed in float64 from the
    # training rows and rounded after (derivtrain/data/targets.py); 0 and 1: the targets as given
    target_mean: float = 0.0
    target_scale: float = 1.0


# ---- checks every loader's table gets (derivtrain/data/__init__.py) ----------------------------
FLOAT32_MAX = float(np.finfo(np.float32).max)  # features and targets train as float32


_CHECK_NUMBERS = 1 << 20  # features read at a time by check_features


def check_features(X: np.ndarray, names: list) -> None:
    """Finite values that float32 can hold (1e300 would become inf), at least one column and row.

    A block of rows at a time, by its least and largest value alone (NaN carries through both; an
    infinity or a value too large is one of them): no temporary the size of X. The whole-array masks
    this replaced took 2.6 s and a 1 GB temporary on 1.25M x 100 float64 rows, half of building the
    run's data; the extremes take 0.05 s. Only a block with a bad value is searched for where it is."""
    if X.shape[1] == 0:
        raise DataError("the data has no feature columns; give it at least one besides the target")
    if X.shape[0] == 0:
        raise DataError("the data has no rows")
    rows = max(1, _CHECK_NUMBERS // X.shape[1])
    for start in range(0, X.shape[0], rows):
        block = X[start:start + rows]
        least, largest = block.min(), block.max()
        if not (np.isfinite(least) and np.isfinite(largest) and max(-least, largest) <= FLOAT32_MAX):
            _refuse(block, start, names)


def _refuse(block: np.ndarray, start: int, names: list) -> None:
    """The error for the first bad value of a block of rows starting at row `start`."""
    finite = np.isfinite(block)
    if not finite.all():
        row, col = np.argwhere(~finite)[0]
        raise DataError(f"the features contain NaN or infinite values (row {start + row}, column {names[col]}: "
                        f"{block[row, col]}); clean or drop those rows first")
    row, col = np.argwhere(np.abs(block) > FLOAT32_MAX)[0]
    raise DataError(f"row {start + row}, column {names[col]}: {block[row, col]:g} is too large for float32 "
                    f"(|x| <= {FLOAT32_MAX:.3g}), which training uses; rescale that column")


def check_targets(y: np.ndarray, task: str) -> None:
    """Regression targets: finite, and within float32's range."""
    if task != "regression":
        return
    bad = ~np.isfinite(y) | (np.abs(y) > FLOAT32_MAX)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(f"the target of row {row} is {y[row]:g}: regression targets must be finite numbers "
                        f"within float32's range (|y| <= {FLOAT32_MAX:.3g})")


def minimum_rows(test_size: float, val_size: float) -> int:
    """The fewest rows that leave one test row and one training row (the split rounds each size)."""
    n = 1
    while int(round(test_size * n)) < 1 or n - int(round(test_size * n)) - int(round(val_size * n)) < 1:
        n += 1
    return n


def check_split(sizes: dict, n_rows: int, test_size: float, val_size: float, stratified: bool) -> None:
    """Every split training and evaluation need is non-empty, else say how many rows are needed."""
    empty = [name for name in ("train", "test") if sizes[name] == 0]
    if empty:
        at_least = minimum_rows(test_size, val_size)
        raise DataError(f"{n_rows} rows are too few for data.test_size={test_size} and data.val_size={val_size}: "
                        f"the {empty[0]} split would be empty; it needs at least {at_least} rows"
                        + (" in some class (the split is stratified)" if stratified else ""))
