"""Hostile data files, one maker a file: what issue 29's adversarial corpus fed each reader
(empty, comments only, a huge index, the wrong container, 0 bytes, zero columns, truncated,
a declared shape far beyond the bytes held). Each maker writes into a folder and returns the path."""
import io
import zipfile

import numpy as np
import scipy.sparse as sp

ROWS = 300


def targets(folder):
    path = folder / "y.npy"
    np.save(path, np.arange(ROWS) % 2)
    return path


def text(name: str, content):
    """A maker of the file `name` holding `content` (str: as text; bytes: as they are)."""
    def make(folder):
        path = folder / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        return path
    return make


raw = text  # bytes read better as hostile.raw(...) where a case is about the bytes


def good_csr():
    return sp.random(ROWS, 5, density=0.5, format="csr", random_state=0, dtype=np.float32)


def npz_arrays(**changes):
    """A save_npz file of a good matrix with some of its arrays replaced (shape, data, ...)."""
    def make(folder):
        buffer = io.BytesIO()
        sp.save_npz(buffer, good_csr())
        buffer.seek(0)
        arrays = dict(np.load(buffer))
        arrays.update({k: np.asarray(v) for k, v in changes.items()})
        path = folder / "X.npz"
        np.savez_compressed(path, **arrays)
        return path
    return make


def npz_member_lies(folder):
    """A save_npz file whose data member declares 10^9 values in its header but holds 100."""
    path = folder / "X.npz"
    sp.save_npz(path, good_csr())
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": (10**9,)})
    members["data.npy"] = header.getvalue() + np.zeros(100, np.float32).tobytes()
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return path


def truncated(make_whole, keep: float = 0.5):
    def make(folder):
        path = make_whole(folder)
        content = path.read_bytes()
        path.write_bytes(content[:int(len(content) * keep)])
        return path
    return make


def good_npz(folder):
    path = folder / "X.npz"
    sp.save_npz(path, good_csr())
    return path


def good_npy(folder):
    path = folder / "X.npy"
    np.save(path, np.random.default_rng(0).normal(size=(ROWS, 4)).astype(np.float32))
    return path


def npy_declaring(shape, descr="<f4", holds=4800):
    """A .npy whose header says `shape` and which holds `holds` bytes after it."""
    def make(folder):
        path = folder / "X.npy"
        with open(path, "wb") as f:
            np.lib.format.write_array_header_1_0(f, {"descr": descr, "fortran_order": False, "shape": shape})
            f.write(b"\0" * holds)
        return path
    return make


def larger_than_memory() -> int:
    """Twice the memory available now: a size no reader may allocate."""
    from derivtrain.data.memory import available_memory

    return 2 * (available_memory() or 2**40)


def sparse_file(name: str, start: bytes = b""):
    """A file of larger_than_memory() bytes that takes no disk: `start`, then a hole (ftruncate)."""
    def make(folder):
        path = folder / name
        with open(path, "wb") as f:
            f.write(start)
            f.truncate(larger_than_memory())
        return path
    return make


def npy_larger_than_memory(folder):
    """A float32 .npy whose header is true: it holds every byte it declares (in a hole); y.npy
    beside it has one target a row."""
    rows = larger_than_memory() // 4096 + 1
    np.save(folder / "y.npy", (np.arange(rows) % 2).astype(np.int8))
    path = folder / "X.npy"
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": "<f4", "fortran_order": False, "shape": (rows, 1024)})
        f.truncate(f.tell() + rows * 4096)
    return path
