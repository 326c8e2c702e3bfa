"""One process at a time per run folder: a lock file holding the owner's pid.

Two processes resuming the same run would interleave checkpoints; the second one refuses. A
lock left by a process that no longer exists (killed with SIGKILL) is taken over. The lock file
is created with O_EXCL, so of two processes that try at the same moment exactly one gets it.
"""
import os
from contextlib import contextmanager
from pathlib import Path

from derivtrain.errors import UserError

LOCK_NAME = ".derivtrain.lock"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def owner(run_dir) -> int | None:
    """The pid of a live process that holds the run folder's lock, or None."""
    try:
        pid = int((Path(run_dir) / LOCK_NAME).read_text().strip() or "0")
    except (OSError, ValueError):
        return None
    return pid if pid and pid != os.getpid() and _alive(pid) else None


def acquire(run_dir) -> Path:
    """Create the lock file in an existing folder (UserError when a live process holds it)."""
    path = Path(run_dir) / LOCK_NAME
    for _ in range(2):  # a second try after removing a stale lock
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            break
        except FileExistsError:
            holder = owner(run_dir)
            if holder is not None:
                raise UserError(f"run folder {run_dir} is in use by process {holder} (lock file {path}); "
                                "wait for it to finish or stop it first") from None
            path.unlink(missing_ok=True)
    else:
        raise UserError(f"could not lock run folder {run_dir} ({path})")
    with os.fdopen(fd, "w") as f:
        f.write(str(os.getpid()))
    return path


@contextmanager
def run_folder_lock(run_dir):
    Path(run_dir).mkdir(parents=True, exist_ok=True)
    path = acquire(run_dir)
    try:
        yield
    finally:
        path.unlink(missing_ok=True)
