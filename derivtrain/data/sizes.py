"""Sizes a data file declares, checked before anything of that size is allocated.

A file's header says how large its arrays are (a .npy's shape and dtype, a sparse .npz's shape
and its members' lengths), and a hostile or truncated file can declare far more than it holds:
a 17 KB .npz declaring 10^12 columns grew the process to 24 GB before the kernel killed it. So
each declared size is checked against the bytes the file holds, and what the run will allocate
for it against the memory available now, before any reader allocates: one line naming both.
"""
import math
import zipfile

import numpy as np

from derivtrain.data.memory import available_memory
from derivtrain.errors import DataError

# What a run allocates per feature column, whatever its rows: the feature's name (a Python string,
# ~60 bytes), the standardization's mean and scale (float64), a linear model's weights, gradient
# and optimizer state (float32) and the certified solver's float64 vectors of one entry per column.
BYTES_PER_COLUMN = 128
# per row: the target (float64), the split's row indices (int64) and a CSR row pointer
BYTES_PER_ROW = 24
# scipy's reading of a sparse matrix holds the file's arrays, their CSR conversion and the float32 copy
SPARSE_COPIES = 3


def human(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB", "PB"):
        if n < 1000 or unit == "PB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} PB"


def check_fits(needed: float, what: str) -> None:
    """DataError unless `needed` bytes fit in the memory available now (unknown: no check)."""
    available = available_memory()
    if available is not None and needed > available:
        raise DataError(f"{what} needs about {human(needed)} of memory, but {human(available)} is available; "
                        "use a smaller file (or a machine with more memory)")


def npy_header(f, what: str):
    """(shape, dtype, bytes of header) of the .npy stream `f`, positioned at its start."""
    try:
        version = np.lib.format.read_magic(f)
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = read(f)
    except Exception as err:  # noqa: BLE001 - numpy says ValueError, EOFError, OSError, UnicodeError ...
        raise DataError(f"{what} is not a readable .npy file ({_reason(err)})") from None
    if dtype.hasobject:
        raise DataError(f"{what} holds Python objects ({dtype}); save numbers (or strings) with np.save")
    return tuple(int(n) for n in shape), dtype, f.tell()


def declared_bytes(shape: tuple, dtype) -> int:
    return math.prod(shape) * dtype.itemsize


def check_npy_bytes(path, key: str, in_memory: bool = True) -> tuple:
    """A .npy file's (shape, dtype), once its declared size is known to be in the file and (in_memory)
    to fit in memory: np.load allocates the whole array before it reads a byte."""
    what = f"{key}={path}"
    try:
        with open(path, "rb") as f:
            shape, dtype, header = npy_header(f, what)
            f.seek(0, 2)
            held = f.tell() - header
    except OSError as err:
        raise DataError(f"{what} cannot be read ({err.strerror or err})") from None
    needed = declared_bytes(shape, dtype)
    if needed > held:
        raise DataError(f"{what} declares an array of shape {shape} ({dtype}, {human(needed)}) but holds "
                        f"{human(held)}: it is truncated or was not written by np.save")
    if in_memory:
        check_fits(needed, f"{what} (shape {shape}, {dtype})")
    return shape, dtype


def check_sparse_npz(file, what: str) -> tuple:
    """The (rows, columns) a scipy.sparse.save_npz file declares, after checking that every member
    holds the bytes its header declares and that reading it and training on its columns fit in memory.
    Nothing is decompressed but the members' headers and the two numbers of `shape`."""
    try:
        with zipfile.ZipFile(file) as archive:
            members = {info.filename: info for info in archive.infolist()}
            total = sum(_member_bytes(archive, info, what) for info in members.values())
            if "shape.npy" not in members:
                raise DataError(f"{what} is not a matrix saved by scipy.sparse.save_npz (no 'shape' in it)")
            with archive.open("shape.npy") as f:
                shape = np.lib.format.read_array(f, allow_pickle=False)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError) as err:
        raise DataError(f"{what} is not a matrix saved by scipy.sparse.save_npz ({_reason(err)})") from None
    if shape.shape != (2,) or shape.dtype.kind not in "iu" or (shape < 0).any():
        raise DataError(f"{what}: its shape {shape.tolist()} is not (rows, columns)")
    rows, columns = (int(n) for n in shape)
    check_fits(SPARSE_COPIES * total + columns * BYTES_PER_COLUMN + rows * BYTES_PER_ROW,
               f"{what} (a {rows} x {columns} sparse matrix, {human(total)} of arrays)")
    return rows, columns


def _member_bytes(archive, info, what: str) -> int:
    """The bytes one member's .npy header declares, which its uncompressed size must hold."""
    if not info.filename.endswith(".npy"):
        raise DataError(f"{what}: {info.filename} is not an array; a scipy.sparse.save_npz file holds .npy arrays")
    with archive.open(info) as f:
        shape, dtype, header = npy_header(f, f"{what} ({info.filename})")
    needed = declared_bytes(shape, dtype)
    if needed > info.file_size - header:
        raise DataError(f"{what}: {info.filename} declares shape {shape} ({human(needed)}) but holds "
                        f"{human(max(info.file_size - header, 0))}: the file is damaged or truncated")
    return needed


def _reason(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0]}" if text else type(err).__name__
