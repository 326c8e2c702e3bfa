"""One process at a time per run folder: a lock file holding the owner's pid.

Two processes resuming the same run would interleave checkpoints; the second one refuses. A
lock left by a process that no longer exists (killed with SIGKILL) is taken over.
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


@contextmanager
def run_folder_lock(run_dir):
    path = Path(run_dir) / LOCK_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(2):  # a second try after removing a stale lock
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            break
        except FileExistsError:
            try:
                owner = int(path.read_text().strip() or "0")
            except (OSError, ValueError):
                owner = 0
            if owner and owner != os.getpid() and _alive(owner):
                raise UserError(f"run folder {run_dir} is in use by process {owner} (lock file {path}); "
                                "wait for it to finish or stop it first") from None
            path.unlink(missing_ok=True)
    else:
        raise UserError(f"could not lock run folder {run_dir} ({path})")
    with os.fdopen(fd, "w") as f:
        f.write(str(os.getpid()))
    try:
        yield
    finally:
        path.unlink(missing_ok=True)
