"""A user's own table: numeric feature columns and one target column, with a header row.

data.target=null: no target column, every row is just a point (density estimation, model=gmm).
"""
import csv
from pathlib import Path
from typing import Optional

import numpy as np

from derivtrain.data.table import Table, infer_task
from derivtrain.errors import DataError, did_you_mean


def load_csv(path: str, target: Optional[str], features: Optional[list] = None, task: str = "auto") -> Table:
    file = Path(path).expanduser()
    if file.is_dir():
        raise DataError(f"data.path={path} is a folder; give the CSV file inside it")
    if not file.is_file():
        raise DataError(f"data.path={path}: no such file")
    with open(file, newline="") as f:
        rows = list(csv.reader(f))
    if len(rows) < 2:
        raise DataError(f"data.path={path}: needs a header row and at least one data row")
    header, body = [h.strip() for h in rows[0]], [r for r in rows[1:] if r]
    if target is not None and target not in header:
        raise DataError(f"data.target={target} is not a column of {path}; {did_you_mean(target, header, 'columns')}")
    features = list(features) if features else [h for h in header if h != target]
    for name in features:
        if name not in header:
            raise DataError(f"data.features: {name} is not a column of {path}; {did_you_mean(name, header, 'columns')}")
    cols = {name: i for i, name in enumerate(header)}
    X = np.empty((len(body), len(features)), dtype=np.float64)
    for j, name in enumerate(features):
        for i, row in enumerate(body):
            try:
                X[i, j] = float(row[cols[name]])
            except (ValueError, IndexError):
                cell = row[cols[name]] if cols[name] < len(row) else "<missing>"
                raise DataError(f"{path} line {i + 2}, column {name}: {cell!r} is not a number "
                                f"(features must be numeric; pick columns with data.features)") from None
    if target is None:
        return Table(X=X, y=np.zeros(len(body)), feature_names=features, task="density")
    raw_y = [row[cols[target]].strip() if cols[target] < len(row) else "" for row in body]
    y, task = _targets(raw_y, task, path, target)
    return Table(X=X, y=y, feature_names=features, task=task)


def _targets(raw: list, task: str, path: str, target: str):
    numbers = _as_numbers(raw)
    if task == "auto":
        task = infer_task(numbers)
    if task == "regression":
        if numbers is None:
            raise DataError(f"data.target={target} in {path} has non-numeric values; "
                            "regression needs numbers (or set data.task=classification)")
        return numbers, task
    if numbers is not None and np.all(numbers == np.round(numbers)):
        return numbers.astype(np.int64), task
    return np.asarray(raw, dtype=object), task


def _as_numbers(raw: list):
    try:
        return np.asarray([float(v) for v in raw], dtype=np.float64)
    except ValueError:
        return None
