"""scikit-learn's bundled datasets, read straight from the files scikit-learn ships.

Reading the files (instead of calling sklearn.datasets.load_*) keeps scikit-learn and SciPy out of
startup; tests/data/test_bundled.py checks every array and name against sklearn.datasets.
"""
import gzip
import importlib.util
from pathlib import Path

import numpy as np

from derivtrain.data.table import Table
from derivtrain.errors import choice_error

_CELL_MEASURES = ("radius", "texture", "perimeter", "area", "smoothness", "compactness", "concavity",
                  "concave points", "symmetry", "fractal dimension")
_BREAST_CANCER_FEATURES = ([f"mean {m}" for m in _CELL_MEASURES] + [f"{m} error" for m in _CELL_MEASURES]
                           + [f"worst {m}" for m in _CELL_MEASURES])
_IRIS_FEATURES = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]
_WINE_FEATURES = ["alcohol", "malic_acid", "ash", "alcalinity_of_ash", "magnesium", "total_phenols",
                  "flavanoids", "nonflavanoid_phenols", "proanthocyanins", "color_intensity", "hue",
                  "od280/od315_of_diluted_wines", "proline"]
_DIABETES_FEATURES = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]


def _data_dir() -> Path:
    spec = importlib.util.find_spec("sklearn")  # finds the package without importing it
    return Path(spec.submodule_search_locations[0]) / "datasets" / "data"


def _with_header(file: str, feature_names) -> Table:
    """breast_cancer, iris, wine: a header 'n_samples,n_features,class names...' then rows + label."""
    with open(_data_dir() / file) as f:
        header = f.readline().strip().split(",")
        rows = np.loadtxt(f, delimiter=",", dtype=np.float64)
    n_features = int(header[1])
    return Table(X=rows[:, :n_features], y=rows[:, n_features].astype(np.int64),
                 feature_names=list(feature_names), task="classification", target_names=header[2:])


def _digits() -> Table:
    with gzip.open(_data_dir() / "digits.csv.gz", "rt") as f:
        rows = np.loadtxt(f, delimiter=",", dtype=np.float64)
    names = [f"pixel_{r}_{c}" for r in range(8) for c in range(8)]
    return Table(X=rows[:, :-1], y=rows[:, -1].astype(np.int64), feature_names=names,
                 task="classification", target_names=[str(i) for i in range(10)])


def _diabetes() -> Table:
    """The raw (unscaled) diabetes table; derivtrain standardizes features itself."""
    with gzip.open(_data_dir() / "diabetes_data_raw.csv.gz", "rt") as f:
        X = np.loadtxt(f, dtype=np.float64)
    with gzip.open(_data_dir() / "diabetes_target.csv.gz", "rt") as f:
        y = np.loadtxt(f, dtype=np.float64)
    return Table(X=X, y=y, feature_names=list(_DIABETES_FEATURES), task="regression")


_LOADERS = {
    "breast_cancer": lambda: _with_header("breast_cancer.csv", _BREAST_CANCER_FEATURES),
    "iris": lambda: _with_header("iris.csv", _IRIS_FEATURES),
    "wine": lambda: _with_header("wine_data.csv", _WINE_FEATURES),
    "digits": _digits,
    "diabetes": _diabetes,
}
BUNDLED = tuple(_LOADERS)


def load_bundled(name: str) -> Table:
    if name not in _LOADERS:
        raise choice_error("data.name", name, BUNDLED)
    return _LOADERS[name]()
