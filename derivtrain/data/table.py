"""What a loader returns and what training consumes."""
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import torch

# a numeric target with at most this many distinct integer values is taken as class labels
MAX_CLASSES_FOR_AUTO = 20


def infer_task(numbers: Optional[np.ndarray]) -> str:
    """data.task=auto: labels (non-numeric, or few distinct integers) are classes; other numbers regress."""
    if numbers is None or (np.all(numbers == np.round(numbers)) and len(np.unique(numbers)) <= MAX_CLASSES_FOR_AUTO):
        return "classification"
    return "regression"


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
        return {"task": self.task, "n_features": self.n_features, "classes": list(self.classes),
                "feature_names": list(self.feature_names)}


@dataclass
class Split:
    """Standardized features and encoded targets on the run's device."""

    X: torch.Tensor  # (n, d) float32 (out of core: a MappedRows, read chunk by chunk; sparse: a CSR tensor)
    y: torch.Tensor  # (n,) int64 class index, or float32 target
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
