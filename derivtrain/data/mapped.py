"""Out-of-core features: a 2-D .npy file memory-mapped and read a chunk of rows at a time.

Nothing but the chunk in flight is resident: after a chunk is read, its pages are released from
this process (madvise DONTNEED; the kernel's page cache keeps them for the next epoch if memory
allows), and the next chunk's pages are asked for ahead (madvise WILLNEED) so the disk reads
while the model trains. Files larger than memory therefore train in a bounded footprint.
The chunk's copies (standardized rows, batches) are freed with it, but glibc's malloc keeps freed
memory for later allocations, and once a chunk-sized block has been freed it serves the next ones
from its heap, where they fragment: a 160 MB file trained with 26-50 MB more resident memory than
a 0.8 MB one, 17 MB after giving freed pages back (malloc_trim) at each release.
"""
import mmap
import warnings

import numpy as np
import torch

from derivtrain.data.files import first_bytes
from derivtrain.data.sizes import check_npy_bytes
from derivtrain.errors import DataError

_PAGE = mmap.PAGESIZE
_FLOATS = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}


def check_npy_file(path: str, key: str) -> None:
    """A .npz archive (a zip of several arrays) is not a .npy array: say so rather than fail later."""
    start = first_bytes(path, key, 6)
    if start.startswith(b"PK\x03\x04"):
        raise DataError(f"{key}={path} is a .npz archive (several arrays), not a .npy file: save the array "
                        "with np.save, e.g. np.save('X.npy', np.load(path)['X'])")


class MappedNpy:
    """A (rows, features) float32/float64 C-order .npy file, mapped read-only; rows come out as tensors."""

    def __init__(self, path: str):
        self.path = str(path)
        check_npy_file(self.path, "data.path")
        check_npy_bytes(self.path, "data.path", in_memory=False)  # mapped, not read: only the bytes must be there
        try:
            header = np.load(self.path, mmap_mode="r", allow_pickle=False)  # parses and checks the header only
        except (ValueError, OSError) as err:
            raise DataError(f"data.path={path} is not a readable .npy file ({err})") from None
        if header.ndim != 2:
            raise DataError(f"data.path={path} holds an array of shape {header.shape}; "
                            "features must be 2-D (rows, features)")
        if header.shape[0] == 0 or header.shape[1] == 0:
            raise DataError(f"data.path={path} holds an array of shape {header.shape}: it needs at least one row "
                            "and one feature column")
        if header.dtype not in _FLOATS:
            raise DataError(f"data.path={path} holds {header.dtype}; save the features as float32 or float64")
        if header.shape[1] > 1 and not header.flags.c_contiguous:
            raise DataError(f"data.path={path} is in Fortran (column) order; rows must be contiguous to read "
                            "them in chunks: save it with np.save(path, np.ascontiguousarray(X))")
        self.shape, self.dtype, self._offset = header.shape, _FLOATS[header.dtype], header.offset
        self._row_bytes = header.shape[1] * header.dtype.itemsize
        del header
        with open(self.path, "rb") as f:
            self._map = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)

    @property
    def ndim(self) -> int:
        return 2

    def __len__(self) -> int:
        return self.shape[0]

    def rows(self, start: int, stop: int) -> torch.Tensor:
        """Rows [start, stop) as a CPU tensor that views the read-only mapping (no copy yet; never
        write to it)."""
        count = (stop - start) * self.shape[1]
        if count == 0:
            return torch.empty((0, self.shape[1]), dtype=self.dtype)
        with warnings.catch_warnings():
            # torch warns that the buffer is read-only: it is, and every caller copies out of it
            warnings.simplefilter("ignore", UserWarning)
            flat = torch.frombuffer(self._map, dtype=self.dtype, count=count,
                                    offset=self._offset + start * self._row_bytes)
        return flat.view(stop - start, self.shape[1])

    def _advise(self, start: int, stop: int, advice_name: str) -> None:
        advice = getattr(mmap, advice_name, None)
        if advice is None or not hasattr(self._map, "madvise") or stop <= start:
            return  # not Linux: the kernel manages the pages on its own
        lo = (self._offset + start * self._row_bytes) // _PAGE * _PAGE
        hi = min(self._offset + stop * self._row_bytes, len(self._map))
        self._map.madvise(advice, lo, hi - lo)

    def release(self, start: int, stop: int) -> None:
        """Drop rows [start, stop) from this process's resident memory (they stay on disk), and the
        heap's freed pages (the module's docstring says why)."""
        self._advise(start, stop, "MADV_DONTNEED")
        _give_back_freed_memory()

    def prefetch(self, start: int, stop: int) -> None:
        """Ask the kernel to start reading rows [start, stop) from disk now."""
        self._advise(start, stop, "MADV_WILLNEED")


def _give_back_freed_memory() -> None:
    """glibc's malloc_trim(0): freed heap pages back to the system (a no-op where the C library is another)."""
    global _TRIM
    if _TRIM is None:
        import ctypes
        import ctypes.util

        try:
            _TRIM = getattr(ctypes.CDLL(ctypes.util.find_library("c")), "malloc_trim", False)
        except OSError:
            _TRIM = False
    if _TRIM:
        _TRIM(0)


_TRIM = None  # glibc's malloc_trim, False where there is none; looked up on the first release
_FUSED_OFFSET = 8.0  # |mean| / scale up to which the float32 multiply-add costs < 8 ulps of a standardized value


class MappedRows:
    """One split of a MappedNpy: rows [start, stop), standardized and moved to the device per chunk.

    Stands where an in-memory split holds a tensor X: `len`, `shape`, `device`, slicing the first
    rows (`X[:n]`, read into memory) and `chunks()`, which the chunked batches and evaluation use.
    """

    def __init__(self, source: MappedNpy, start: int, stop: int, mean: torch.Tensor, scale: torch.Tensor,
                 chunk_rows: int):
        self.source, self.start, self.stop, self.chunk_rows = source, start, stop, int(chunk_rows)
        self.device = mean.device
        # (x - mean) / scale as one fused float32 multiply-add, x * (1/scale) + (-mean/scale), while
        # that is exact to float32's rounding of the result: its error is ~eps32 * |mean| / scale in
        # standardized units (and a float64 file's x rounded to float32 costs the same). A column
        # far from zero in its own units (a timestamp: 1e7 + N(0, 1)) is centred in float64 first.
        mean64, scale64 = mean.to(torch.float64), scale.to(torch.float64)
        self._exact = bool((mean64.abs() / scale64).max() > _FUSED_OFFSET) if len(mean64) else False
        self._mean, self._scale = mean64, scale64
        self._inv_scale = (1 / scale64).to(torch.float32)
        self._shift = (-mean64 / scale64).to(torch.float32)

    @property
    def shape(self):
        return (self.stop - self.start, self.source.shape[1])

    def __len__(self) -> int:
        return self.stop - self.start

    def read(self, start: int, stop: int) -> torch.Tensor:
        """Rows [start, stop) of this split, standardized float32 on the device."""
        lo, hi = self.start + start, self.start + min(stop, len(self))
        # float32 rows on the CPU: no copy here, the multiply-add reads the mapping once and writes
        # once; float64 rows are converted first; a GPU gets one copy of the chunk
        if self._exact:
            x = self.source.rows(lo, hi).to(self.device, dtype=torch.float64)  # a float64 file: the mapping itself
            out = ((x - self._mean) / self._scale).to(torch.float32)  # out of place: never write to the mapping
        else:
            x = self.source.rows(lo, hi).to(self.device, dtype=torch.float32)
            out = torch.addcmul(self._shift, x, self._inv_scale)
        self.source.release(lo, hi)
        return out

    def __getitem__(self, index) -> torch.Tensor:
        if not isinstance(index, slice) or index.step not in (None, 1):
            raise TypeError("out-of-core rows are read by contiguous slices (X[a:b])")
        start, stop, _ = index.indices(len(self))
        return self.read(start, max(start, stop))

    def chunk_bounds(self):
        """[(start, stop)] of every chunk, in file order."""
        return [(a, min(a + self.chunk_rows, len(self))) for a in range(0, len(self), self.chunk_rows)]

    def chunks(self):
        """Every chunk in file order, the next one prefetched while this one is used."""
        bounds = self.chunk_bounds()
        for i, (a, b) in enumerate(bounds):
            if i + 1 < len(bounds):
                self.prefetch(*bounds[i + 1])
            yield self.read(a, b)

    def prefetch(self, start: int, stop: int) -> None:
        self.source.prefetch(self.start + start, self.start + min(stop, len(self)))


def apply_in_chunks(fn, X):
    """fn(X) for an in-memory tensor; for out-of-core rows, fn of each chunk, written into one
    output. Outputs (scores: one or a few numbers per row) fit in memory where the features may not.
    The output is allocated once, not gathered from a list: small tensors kept alive between the
    chunks' large short-lived buffers would fragment the heap and grow it with the file's size."""
    if isinstance(X, torch.Tensor):
        return fn(X)
    out = None
    for (start, stop), chunk in zip(X.chunk_bounds(), X.chunks()):
        values = fn(chunk)
        if out is None:
            out = values.new_empty((len(X), *values.shape[1:]))
        out[start:stop] = values
        del values, chunk
    return out


def rows_in_memory(X, limit=None):
    """X itself, or at most `limit` (default: one chunk) of its first rows read into memory:
    for what needs a tensor (k-means++ starts, Hessian diagnostics, sensitivity analysis)."""
    if isinstance(X, torch.Tensor):
        from derivtrain.data.sparse import rows_between  # sparse rows are sliced by their row pointers

        return X if limit is None else rows_between(X, 0, limit)
    return X[:X.chunk_rows if limit is None else limit]
