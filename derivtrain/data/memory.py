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
    """Bytes of memory available to new work, or None when unknown: Linux's MemAvailable, or less
    where this process's cgroup (a container's memory limit) leaves less; a container's kernel
    shows the host's MemAvailable, and the cgroup's limit is where the OOM killer acts."""
    known = [n for n in (_mem_available(), cgroup_available()) if n is not None]
    if known:
        return min(known)
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _mem_available() -> int | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


# (limit, usage, the reclaimable page cache in memory.stat): cgroup v2, then v1
_CGROUP_FILES = (("memory.max", "memory.current", "inactive_file"),
                 ("memory/memory.limit_in_bytes", "memory/memory.usage_in_bytes", "total_inactive_file"))


def cgroup_available(root: Path = Path("/sys/fs/cgroup")) -> int | None:
    """The cgroup's limit less what it uses, not counting inactive page cache (the kernel reclaims
    it before it kills; `docker stats` counts the same way); None without a limit."""
    for limit_name, usage_name, cache_key in _CGROUP_FILES:
        try:
            limit = (root / limit_name).read_text().strip()
            usage = int((root / usage_name).read_text())
        except (OSError, ValueError):
            continue
        if limit == "max" or not limit.isdigit() or int(limit) >= 2**60:  # v1 writes "no limit" as ~2**63
            return None
        cache = min(_stat_value(root / Path(limit_name).parent / "memory.stat", cache_key), usage)
        return max(int(limit) - (usage - cache), 0)
    return None


def _stat_value(path: Path, key: str) -> int:
    try:
        for line in path.read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == key:
                return int(value)
    except (OSError, ValueError):
        pass
    return 0


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
