"""A user's own table: numeric feature columns and one target column, with a header row.

data.target=null: no target column, every row is just a point (density estimation, model=gmm).
"""
import csv
import io
import warnings
from pathlib import Path
from typing import Optional

import numpy as np

from derivtrain.data.files import first_bytes
from derivtrain.data.sizes import check_fits
from derivtrain.data.table import Table, infer_task, whole_numbers
from derivtrain.errors import DataError, did_you_mean

# numpy's parser turns a cell of at least 2 bytes ("1,") into a float64, then the splits' float32
# copy: ~6 bytes of memory a byte of text at worst
TEXT_COPIES = 6


def load_csv(path: str, target: Optional[str], features: Optional[list] = None, task: str = "auto") -> Table:
    file = Path(path).expanduser()
    if file.is_dir():
        raise DataError(f"data.path={path} is a folder; give the CSV file inside it")
    if not file.is_file():
        raise DataError(f"data.path={path}: no such file")
    check_fits(TEXT_COPIES * file.stat().st_size, f"data.path={path} (CSV text)")
    header = _header(file, path)
    repeated = sorted({h for h in header if header.count(h) > 1})
    if repeated:
        raise DataError(f"data.path={path}: column {repeated[0]!r} appears {header.count(repeated[0])} times in the "
                        "header; give every column its own name")
    if target is not None and target not in header:
        raise DataError(f"data.target={target} is not a column of {path}; {did_you_mean(target, header, 'columns')}")
    features = list(features) if features else [h for h in header if h != target]
    if not features:
        raise DataError(f"data.path={path} has no feature columns besides data.target={target}")
    for name in features:
        if name not in header:
            raise DataError(f"data.features: {name} is not a column of {path}; {did_you_mean(name, header, 'columns')}")
    cols = {name: i for i, name in enumerate(header)}
    X, raw_y = _read_columns(file, path, [cols[name] for name in features], features,
                             None if target is None else cols[target])
    if target is None:
        return Table(X=X, y=np.zeros(len(X)), feature_names=features, task="density")
    y, task = _targets(raw_y, task, path, target)
    return Table(X=X, y=y, feature_names=features, task=task)


def _header(file: Path, path: str) -> list:
    _check_text(file, path)
    with open(file, "rb") as f:
        line = f.readline()
    try:
        first = next(csv.reader([line.decode("utf-8-sig")]), None)  # -sig: a byte-order mark is not a name
    except UnicodeDecodeError as err:
        raise _not_utf8(path, err, line=1) from None
    if not first:
        raise DataError(f"data.path={path}: needs a header row and at least one data row")
    return [h.strip() for h in first]


# what a file that is not CSV text starts with
_MAGIC = {b"\x1f\x8b": "gzip-compressed: decompress it first (gunzip)",
          b"PK\x03\x04": "a zip archive (or .npz): extract the CSV first",
          b"\x93NUMPY": "a .npy array: read it with data=npy",
          b"BZh": "bzip2-compressed: decompress it first (bunzip2)",
          b"\xfd7zXZ": "xz-compressed: decompress it first (unxz)"}


def _check_text(file: Path, path: str) -> None:
    start = first_bytes(file, "data.path", 4096)
    for magic, what in _MAGIC.items():
        if start.startswith(magic):
            raise DataError(f"data.path={path} is {what}")
    if b"\x00" in start:
        raise DataError(f"data.path={path} is a binary file, not CSV text")


def _not_utf8(path: str, err: UnicodeDecodeError, line: int) -> DataError:
    byte = err.object[err.start:err.start + 1].hex()
    return DataError(f"data.path={path} line {line} is not UTF-8 text (byte 0x{byte}); save the file as UTF-8 "
                     "(e.g. iconv -f latin1 -t utf-8)")


def _read_columns(file: Path, path: str, columns: list, names: list, target):
    """(features as float64, the target column's raw strings or None).

    numpy's C parser reads a clean file: ~10x faster than a float() per cell, which is where a
    100k-row table's time went. A file it refuses is read again row by row with the csv module,
    to say which line and column is not a number."""
    options = dict(delimiter=",", skiprows=1, quotechar='"', ndmin=2, encoding="utf-8")
    wanted = columns + ([] if target is None else [target])
    with warnings.catch_warnings():  # numpy warns of empty lines and files, which are checked here
        warnings.simplefilter("ignore", UserWarning)
        return _parsed(file, path, columns, names, target, wanted, options)


def _parsed(file: Path, path: str, columns: list, names: list, target, wanted: list, options: dict):
    try:  # one pass when the target is numeric too (labels 0/1, counts, values)
        table = np.loadtxt(file, usecols=wanted, dtype=np.float64, **options)
        if len(table):
            return table[:, :len(columns)], None if target is None else [repr(v) for v in table[:, -1].tolist()]
    except ValueError:
        pass
    try:
        X = np.loadtxt(file, usecols=columns, dtype=np.float64, **options)
        raw_y = [v.strip() for v in np.loadtxt(file, usecols=[target], dtype=str, **options)[:, 0]]
        if len(X):
            return X, raw_y
    except (ValueError, TypeError):
        pass
    return _read_rows(file, path, columns, names, target)


def _read_rows(file: Path, path: str, columns: list, names: list, target):
    raw = file.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise _not_utf8(path, err, line=raw[:err.start].count(b"\n") + 1) from None
    body = [r for r in list(csv.reader(io.StringIO(text, newline="")))[1:] if r]
    if not body:
        raise DataError(f"data.path={path}: needs a header row and at least one data row")
    X = np.empty((len(body), len(columns)), dtype=np.float64)
    for j, (col, name) in enumerate(zip(columns, names)):
        for i, row in enumerate(body):
            try:
                X[i, j] = float(row[col])
            except (ValueError, IndexError):
                cell = row[col] if col < len(row) else "<missing>"
                raise DataError(f"{path} line {i + 2}, column {name}: {cell!r} is not a number "
                                f"(features must be numeric; pick columns with data.features)") from None
    raw_y = None if target is None else [row[target].strip() if target < len(row) else "" for row in body]
    return X, raw_y


def _targets(raw: list, task: str, path: str, target: str):
    empty = [i for i, v in enumerate(raw) if v == ""]
    if empty:
        raise DataError(f"{path}: data row {empty[0] + 1} has an empty data.target={target} cell; fill or drop "
                        "that row")
    numbers = _as_numbers(raw)
    if numbers is not None and not np.isfinite(numbers).all():
        row = int(np.flatnonzero(~np.isfinite(numbers))[0])
        raise DataError(f"{path}: data row {row + 1} has data.target={target} {raw[row]}; targets must be "
                        "finite: clean or drop those rows first")
    if task == "auto":
        task = infer_task(numbers)
    if task == "regression":
        if numbers is None:
            raise DataError(f"data.target={target} in {path} has non-numeric values; "
                            "regression needs numbers (or set data.task=classification)")
        return numbers, task
    if numbers is not None and whole_numbers(numbers):
        return numbers.astype(np.int64), task
    return np.asarray(raw, dtype=object), task


def _as_numbers(raw: list):
    try:
        return np.asarray([float(v) for v in raw], dtype=np.float64)
    except ValueError:
        return None

