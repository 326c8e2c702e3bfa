"""From fit(X, y, sample_weight) to the Data a fitter trains on: the CLI's data path for arrays.

The same steps as derivtrain/data (build_data) take on a table: class labels become indices
(classes_ in sorted order), features are standardized with the mean and scale of the training
rows (all rows given to fit; weighted by the sample weights when there are any), and the rows go
to the device as tensors computed the way the CLI computes them (in float64 on the CPU), so the
same rows give the same optimum. Sample weights and class weights multiply into one weight per
row (Split.weight), whose weighted mean the loss and the certificate use. Rows of weight 0 are
dropped: a weight of 0 is the same as leaving the row out (scikit-learn's convention).
"""
import numpy as np
import torch

from derivtrain.data.compiled_standardize import compiled_moments
from derivtrain.data.huge_pages import empty_rows
from derivtrain.data.split import standardizer
from derivtrain.data.standardize import fitted_scale
from derivtrain.data.table import Data, DataSpec, Split
from derivtrain.data.targets import AS_GIVEN, TargetPlan, fitted_targets, target_statistics
from derivtrain.estimator.configs import InvalidParameterError


def check_sample_weight(sample_weight, n: int):
    """(n,) float64 non-negative finite weights with a positive sum, or None."""
    if sample_weight is None:
        return None
    w = np.asarray(sample_weight, dtype=np.float64)
    if w.ndim == 0:
        w = np.full(n, float(w))
    if w.ndim != 1 or len(w) != n:
        raise ValueError(f"sample_weight has shape {w.shape}, but X has {n} rows; give one weight per row, "
                         f"shape ({n},)")
    if not np.isfinite(w).all() or (w < 0).any():
        raise ValueError("sample_weight must be finite and >= 0 (a weight of 0 leaves the row out)")
    if not w.sum() > 0:
        raise ValueError("sample_weight is zero for every row; at least one weight must be non-zero")
    return w


def encode_labels(y):
    """(classes_ sorted, y as class indices); at least two classes."""
    classes, indices = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise ValueError(f"a classifier needs samples of at least 2 classes, but the data contain only one class: "
                         f"{classes[0] if len(classes) else '(none)'}; give rows of every class")
    return classes, indices.reshape(-1)


def class_weights(class_weight, classes, y_indices, sample_weight=None) -> np.ndarray | None:
    """One weight per row from class_weight: None, a dict {label: weight} (labels not named weigh 1),
    or "balanced": total weight / (n_classes * the class's weight), the rows' sample weights
    counted, as scikit-learn's compute_class_weight."""
    if class_weight is None:
        return None
    if isinstance(class_weight, str) and class_weight == "balanced":
        totals = np.bincount(y_indices, weights=sample_weight, minlength=len(classes))
        per_class = totals.sum() / (len(classes) * totals)
    elif isinstance(class_weight, dict):
        labels = classes.tolist()
        unknown = [k for k in class_weight if k not in labels]
        if unknown:
            raise InvalidParameterError(f"class_weight names {unknown}, which are not classes of y ({labels}); "
                                        "use the labels of y")
        per_class = np.array([float(class_weight.get(c, 1.0)) for c in labels])
        if not (np.isfinite(per_class).all() and (per_class >= 0).all()):
            raise InvalidParameterError(f"class_weight={class_weight!r}: weights must be finite and >= 0")
    else:
        raise InvalidParameterError(f"class_weight={class_weight!r} is not valid; give 'balanced', a dict "
                                    "{label: weight}, or None")
    return per_class[y_indices]


def weighted_standardizer(X: np.ndarray, weight):
    """Mean and scale of the training rows, as data/split.py's standardizer (constant features keep
    scale 1); with weights, the weighted mean and standard deviation (a row of weight k counts k times)."""
    if weight is None:
        # a large float table: the compiled moments' one pass, no temporary (numpy's std made an X - mean
        # of its own: 1M x 100 float64, 1.8 s of fresh pages in a fit that took 8.7 s; 6.2 s without)
        compiled = compiled_moments(X, np.arange(len(X)), 0)
        if compiled is None:
            return standardizer(X if X.dtype == np.float64 else X.astype(np.float64))
        count, mean, m2 = compiled
        return mean, fitted_scale(count, m2)
    mean = np.average(X, axis=0, weights=weight)
    scale = np.sqrt(np.average((X - mean) ** 2, axis=0, weights=weight))
    scale[scale < 10 * np.finfo(np.float64).eps] = 1.0
    return mean, scale


def training_data(X: np.ndarray, y: np.ndarray, weight, spec: DataSpec, standardize: bool, device,
                  target_plan: TargetPlan = AS_GIVEN) -> Data:
    """The Data a fitter takes: every given row trains (no validation or test split).

    float64 on the CPU (scikit-learn's precision: refits agree to rounding, not to float32's
    1e-7), float32 on a GPU (where float64 is many times slower), as the CLI's tensors."""
    if standardize:
        mean, scale = weighted_standardizer(X, weight)
    else:
        mean, scale = np.zeros(X.shape[1]), np.ones(X.shape[1])
    dtype = torch.float64 if device.type == "cpu" else torch.float32
    mean_t = torch.as_tensor(mean, dtype=torch.float64, device=device)
    scale_t = torch.as_tensor(scale, dtype=torch.float64, device=device)
    X_t = _features(X, mean_t, scale_t, standardize, device).to(dtype)
    # copies: y and the weights may be read-only (a memory map), which torch warns about
    # regression targets centred and scaled in float64 as target_plan says (derivtrain/data/targets.py)
    y_mean, y_scale = target_statistics(y, target_plan, weight) if spec.task == "regression" else (0.0, 1.0)
    y_t = (torch.tensor(y, dtype=torch.int64, device=device) if spec.task == "classification"
           else fitted_targets(y, y_mean, y_scale, dtype, device))
    w_t = None if weight is None else torch.tensor(weight, dtype=dtype, device=device)
    train = Split(X=X_t.contiguous(), y=y_t, weight=w_t)
    empty = Split(X=X_t[:0], y=y_t[:0])
    return Data(spec=spec, train=train, val=None, test=empty, feature_mean=mean_t, feature_scale=scale_t,
                target_mean=y_mean, target_scale=y_scale)


def _features(X: np.ndarray, mean_t, scale_t, standardize: bool, device) -> torch.Tensor:
    """X as float64 rows on the device, standardized in float64 before any rounding (as
    derivtrain/data/__init__.py:build_data computes them), with no copy the fit does not need: a
    writable float64 C-ordered array on the CPU is taken as it is when not standardized (nothing
    writes to a fit's rows), and standardized into one new array otherwise (100k x 50: three
    copies took ~50 ms of a 0.5 s fit, measured on a busy 2-core machine)."""
    usable = X.dtype == np.float64 and X.flags.c_contiguous and X.flags.writeable and device.type == "cpu"
    if not standardize:
        return torch.from_numpy(X) if usable else torch.tensor(X, dtype=torch.float64, device=device)
    source = torch.from_numpy(X) if X.flags.writeable and X.dtype in (np.float64, np.float32) else torch.tensor(X)
    if device.type != "cpu" or source.dim() != 2:
        return torch.sub(source.to(device=device, dtype=torch.float64), mean_t).div_(scale_t)
    # the new rows where they may lie in 2 MB pages (derivtrain/data/huge_pages.py: a solver's random visits,
    # and a grid search's fits in one process, whose freed pages the next fit is given back fast)
    out = empty_rows(source.shape[0], source.shape[1], torch.float64)
    return torch.sub(source, mean_t, out=out).div_(scale_t)
