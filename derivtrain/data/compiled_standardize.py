"""Standardization's passes through the compiled loops (derivtrain/data/standardize_kernels.py says
what they replace and why), on the run's threads, where they apply: a numpy table of float32 or
float64 features in memory (of any strides), large enough to matter, and the loops already built
on this machine (building the data never waits for a build). Elsewhere None, and
derivtrain/data/in_memory.py reads the rows through numpy as before."""
from typing import Optional

import numpy as np
import torch

from derivtrain.compiled import available, kernel
from derivtrain.data.huge_pages import split_rows
from derivtrain.data.standardize import combined_parts
from derivtrain.threads import SMALL, map_blocks, row_ranges

_RANGE = 1 << 16  # rows a thread takes at a time
_CODES = {np.dtype(np.float32): "f4", np.dtype(np.float64): "f8"}
_OUT = {torch.float32: "f4", torch.float64: "f8"}


def compiled_moments(X, rows: np.ndarray, offset: int) -> Optional[tuple]:
    """(count, mean, m2) of the rows X[rows - offset], or None where the loops do not apply."""
    if not _applies(X, rows):
        return None
    moments = kernel(f"row_moments_{_CODES[X.dtype]}", build=False)
    index = np.ascontiguousarray(rows, dtype=np.int64)
    return combined_parts(map_blocks(lambda r: moments(X, index, int(offset), *r), row_ranges(len(index), _RANGE)))


def compiled_standardized(X, rows: np.ndarray, offset: int, mean: torch.Tensor, scale: torch.Tensor,
                          dtype) -> Optional[torch.Tensor]:
    """(X[rows - offset] - mean) / scale in float64, rounded to `dtype`, or None where the loops do not apply."""
    if not _applies(X, rows) or dtype not in _OUT:
        return None
    standardized = kernel(f"standardized_rows_{_CODES[X.dtype]}_{_OUT[dtype]}", build=False)
    index = np.ascontiguousarray(rows, dtype=np.int64)
    out = split_rows(len(index), X.shape[1], dtype)  # (derivtrain/data/huge_pages.py: which pages)
    into, m, s = out.numpy(), mean.double().contiguous().numpy(), scale.double().contiguous().numpy()
    map_blocks(lambda r: standardized(X, index, int(offset), m, s, into, *r), row_ranges(len(index), _RANGE))
    return out


def _applies(X, rows) -> bool:
    # any strides (a csv's or a bundled table's features are a view of a wider array)
    return (type(X) is np.ndarray and X.ndim == 2 and X.dtype in _CODES and X.flags.aligned and X.flags.writeable
            and len(rows) * X.shape[1] >= SMALL and available(build=False))
