"""derivtrain's compiled loops, loaded without numba's start.

Dual coordinate descent's epochs and the full-batch SVM pass are numba functions. Under numba's
just-in-time compiler every process pays its start on the first call, even with the compiled code
cached: importing numba and LLVM, then typing and loading each function (0.4-0.8 s here, more than
a whole fit on 100k x 50 rows). So the same functions are also compiled ahead of time, once per
machine, into one extension module (numba's pycc: derivtrain/compiled/build.py, in a child process,
a few seconds); a later process imports that module in under a millisecond and never imports numba.

The module lives in this package's __pycache__, named by a key of the kernels' source, numba's
version, Python's and the CPU's (it is compiled for this CPU), so an edit or another machine builds
it anew. Where it cannot be built or loaded (no C compiler, a read-only install, a numba without
pycc) the loops run under numba's just-in-time compiler as before, and the log says why, once a
process; a build that failed leaves its reason beside the module (kernels_<key>.failed), so later
runs do not try again (each try costs seconds) until that file is deleted or the key changes.

An ahead-of-time function trusts its arguments' types (derivtrain/compiled/exports.py), so
`kernel(name)` calls it only on arguments that match its signature exactly; anything else goes to
numba's just-in-time function, which compiles for what it is given.
"""
import hashlib
import os
import platform
import subprocess
import sys
import sysconfig
import threading
from contextlib import contextmanager
from functools import lru_cache
from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from importlib.util import module_from_spec, spec_from_file_location
from pathlib import Path

import numpy as np

from derivtrain.compiled.exports import EXPORTS, PAIR, SOURCES
from derivtrain.logging import log

_PACKAGE = Path(__file__).resolve().parents[1]  # derivtrain/
_BUILD_SECONDS = 600
_module: list = []  # the loaded module, or None once it could not be had (asked once a process)
_deciding = threading.Lock()  # one thread builds or loads it; the others wait for its answer
_calls: dict = {}  # (export name, fallback) -> (the module, kernel()'s wrapper of its function)


def kernel(name: str, fallback=None, build: bool = True):
    """A function of export `name`'s arguments (exports.py): the one compiled ahead of time where the
    arguments match its signature exactly, else `fallback` (None: numba's just-in-time one, imported
    only then). build=False: the module only where this machine already has it (available).
    A loaded module stays loaded, so its wrapper is made once a process (_calls): a minibatch step
    asks for its loops every step, and the wrapper's argument checks took ~3.5 us to build."""
    loaded = _module[0] if _module else None
    made = _calls.get((name, fallback)) if loaded is not None else None
    if made is not None and made[0] is loaded:
        return made[1]
    compiled = getattr(_ahead_of_time(), name, None) if available(build) else None
    if compiled is None:
        return fallback if fallback is not None else _jit(name)
    checks = [_check(spec) for spec in EXPORTS[name][2]]

    def call(*args):
        if len(args) == len(checks) and all(check(value) for check, value in zip(checks, args)):
            return compiled(*args)
        return (fallback if fallback is not None else _jit(name))(*args)

    _calls[(name, fallback)] = (_module[0], call)
    return call


def _jit(name: str):
    """numba's function the export compiles (derivtrain/compiled/exports.py names it)."""
    module, function = EXPORTS[name][:2]
    return getattr(import_module(module), function)


def available(build: bool = True) -> bool:
    """Whether the module compiled ahead of time is loaded: then the loops cost no start in this process.
    build=False: only where this machine already has it (a small problem, or the certificate's passes,
    never wait for a build; the epochs that numba would compile anyway do)."""
    if not build and not _module and not _path().exists():
        return False
    return _ahead_of_time() is not None


_ARRAYS = {"f8": np.dtype(np.float64), "f4": np.dtype(np.float32), "i8": np.dtype(np.int64),
           "i4": np.dtype(np.int32), "pair": PAIR}
_INT64 = (-(1 << 63), (1 << 63) - 1)


def _check(spec: str):
    """A test of one argument against its exports.py type."""
    if spec == "none":
        return lambda value: value is None
    if spec == "b1":
        return lambda value: isinstance(value, (bool, np.bool_))
    if spec == "i8":  # a Python int (not a bool) in int64's range
        return lambda value: type(value) is int and _INT64[0] <= value <= _INT64[1]
    if spec == "f8":  # a Python float (numpy's float64 is one)
        return lambda value: isinstance(value, float)
    name, layout = spec.split("[", 1)
    dtype, ndim, contiguous = _ARRAYS[name], layout.count(",") + 1, "::1" in layout

    def array(value) -> bool:
        if type(value) is not np.ndarray or value.dtype != dtype or value.ndim != ndim:
            return False
        flags = value.flags
        return (flags.c_contiguous or not contiguous) and flags.aligned and flags.writeable

    return array


def _ahead_of_time():
    """The loaded module, built first if this machine has none; None where it cannot be had."""
    with _deciding:
        return _decided()


def _decided():
    if not _module:
        try:
            _module.append(_load(_path()))
        except Exception as err:  # any failure leaves numba's just-in-time compiler, which always works
            log.info("compiled loops: numba compiles them in this process (the ahead-of-time module "
                     "is unavailable: %s)", str(err).strip().splitlines()[-1] if str(err).strip() else type(err).__name__)
            _module.append(None)
    return _module[0]


@lru_cache(maxsize=1)
def _path() -> Path:
    """The module's file, named by its key: found once a process (hashing the sources takes ~0.3 ms, and
    where no module is built, every small problem and certificate asks again)."""
    digest = hashlib.sha256()
    for source in SOURCES:
        digest.update((_PACKAGE / source).read_bytes())
    try:
        numba_version = version("numba")
    except PackageNotFoundError:
        numba_version = "none"
    digest.update(f"{numba_version}|{sys.version}|{_cpu()}".encode())
    name = f"kernels_{digest.hexdigest()[:16]}"
    return _PACKAGE / "compiled" / "__pycache__" / f"{name}{sysconfig.get_config_var('EXT_SUFFIX')}"


def _cpu() -> str:
    """This CPU's model and instruction sets (Linux), else what platform knows of it."""
    try:
        with open("/proc/cpuinfo") as info:
            lines = [line for line in info if line.startswith(("model name", "flags"))][:2]
        return "".join(lines) or platform.processor()
    except OSError:
        return f"{platform.machine()} {platform.processor()}"


def _load(path: Path):
    failed = _failure_note(path)
    if not path.exists():
        with _one_builder(path.parent):  # processes that start together (pytest's) build it once
            if failed.exists():  # a build that failed on this machine is not tried again by every run
                raise RuntimeError(f"{failed.read_text().strip()} (delete {failed} to try again)")
            if not path.exists():
                _build(path, failed)
    spec = spec_from_file_location(path.name.split(".")[0], path)  # an extension module's loader, by its suffix
    module = module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _failure_note(path: Path) -> Path:
    """Where a failed build of this module says why (the same key: an edit or an upgrade tries again)."""
    return path.with_name(path.name.split(".")[0] + ".failed")


@contextmanager
def _one_builder(folder: Path):
    """Held while this process builds (or finds built) the module: fcntl.flock, blocking, on a file
    beside it; the kernel frees it when the descriptor closes, whatever ends the process. (Where there
    is no fcntl, no lock: concurrent builds each leave a whole file.)"""
    folder.mkdir(exist_ok=True)
    try:
        import fcntl
    except ImportError:
        yield
        return
    with open(folder / "kernels.lock", "a") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        yield


def _build(path: Path, failed: Path) -> None:
    log.info("compiling derivtrain's loops ahead of time for this machine (once, a few seconds)")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(_PACKAGE.parent), os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run([sys.executable, "-m", "derivtrain.compiled.build", str(path.parent), path.name.split(".")[0]],
                          capture_output=True, text=True, env=env, timeout=_BUILD_SECONDS, check=False)
    if done.returncode != 0 or not path.exists():
        lines = (done.stderr or "").strip().splitlines()
        failed.write_text(lines[-1] if lines else f"the build exited with {done.returncode}")
        raise RuntimeError(failed.read_text())
