"""data.out_of_core=auto|true|false: read a .npy into memory, or train on it from disk in chunks.

auto reads it into memory when this machine's share of it (under torchrun, the rows of the
ranks on this node) takes at most half the memory available now: the other half is for the
run itself (a split's standardized copy is made a chunk at a time, but training, evaluation and
the solvers' per-row state need room). In memory every fit method works (full batch, the
certified solver, Newton, EM); from disk only minibatch gradient training does.
"""
import os
from pathlib import Path

_SHARE_OF_AVAILABLE = 0.5


def available_memory() -> int | None:
    """Bytes of memory available to new work (Linux's MemAvailable), or None when unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _file_bytes(path) -> int:
    from derivtrain.data.shards import expand_paths
    from derivtrain.errors import DataError

    try:
        return sum(f.stat().st_size for f in expand_paths(str(path), "data.path", (".npy",)))
    except DataError:
        return 0  # no file: the loader says so, with its own message


def node_share() -> float:
    """The part of the data this machine's ranks hold (1 in one process)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local = int(os.environ.get("LOCAL_WORLD_SIZE", str(world)))
    return min(1.0, local / max(world, 1))


def reads_out_of_core(data_cfg) -> bool:
    """Whether a data=npy config trains from disk in chunks (False for every other source)."""
    if "out_of_core" not in data_cfg:
        return False
    setting = str(data_cfg.out_of_core).lower()  # Hydra reads true/false as booleans
    if setting in ("true", "false"):
        return setting == "true"
    if data_cfg.get("path") is None:
        return False
    available = available_memory()
    if available is None:
        return False
    return _file_bytes(Path(str(data_cfg.path)).expanduser()) * node_share() > _SHARE_OF_AVAILABLE * available
