"""One process at a time per folder (a run's, or a sweep's): a kernel lock held for the process's life.

Two processes resuming the same run, or two sweeps in one folder, would interleave their files;
the second one refuses. The lock is `fcntl.flock` on an open descriptor of <folder>/.derivtrain.lock,
kept open until the run ends: the kernel, not a pid, says who holds it, and a process killed with
SIGKILL releases it as its descriptors close. The pid written into the file is for messages only;
a process that pauses anywhere between creating the file and writing its pid cannot lose the lock
to another (with a pid file, the other took such a lock as stale and both ran in one folder).

The file is removed by its holder while still locked. A process that opened it just before then
locks a file no longer in the folder: it compares inodes and tries again with the new file.

A new folder (a run's, a sweep's) is also never inside a folder that is held, or that is a run's:
check_not_inside_a_run, used by derivtrain/run_folder.py and derivtrain/sweep/claim.py.
"""
import errno
import fcntl
import os
import stat
import time
from contextlib import contextmanager
from pathlib import Path

from derivtrain.errors import UserError

LOCK_NAME = ".derivtrain.lock"
# another process's held_by() takes a shared lock for a few microseconds: a claim that meets one
# tries again this many times, 20 ms apart, before it says the folder is in use
_BUSY_TRIES = 5


class FolderInUse(UserError):
    """The folder's lock is held by another process (or another claim of this one)."""


class Lock:
    """A held lock: release() removes the file and closes the descriptor (which frees the lock)."""

    def __init__(self, path: Path, fd: int):
        self.path, self.fd = path, fd

    def release(self) -> None:
        if self.fd is None:
            return
        try:
            if _same_file(self.fd, self.path):
                self.path.unlink()
        except OSError:
            pass  # the folder went away or turned read-only: closing still frees the lock
        finally:
            os.close(self.fd)
            self.fd = None


def acquire(folder) -> Lock:
    """Lock an existing folder for this process: FolderInUse when another holds it, UserError when
    the lock file cannot be made (a folder or a link in its place, no permission)."""
    path = Path(folder) / LOCK_NAME
    for attempt in range(_BUSY_TRIES + 3):
        fd = _open(path, os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            os.close(fd)
            if err.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise _cannot_lock(path, err) from None
            if attempt + 1 >= _BUSY_TRIES:
                raise FolderInUse(f"folder {folder} is in use by {held_by(folder) or 'another process'} "
                                  f"(lock file {path}); wait for it to finish or stop it first") from None
            time.sleep(0.02)
            continue
        if _same_file(fd, path):
            _write_pid(fd)
            return Lock(path, fd)
        os.close(fd)  # its holder removed that file as it finished: lock the new one
    raise UserError(f"could not lock folder {folder} ({path} keeps being replaced); try again")


def held_by(folder) -> str | None:
    """Who holds the folder's lock ("process 123", or "another process" before it wrote its pid),
    or None when nobody does."""
    path = Path(folder) / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None  # acquire() refuses such a lock path with its own message
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)  # a probe: freed again when fd closes
            return None
        except OSError:
            pid = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            return f"process {pid}" if pid.isdigit() else "another process"
    finally:
        os.close(fd)


def owner(folder) -> int | None:
    """The pid of the process that holds the folder's lock, when it holds it and its pid is written."""
    holder = held_by(folder)
    return int(holder.split()[1]) if holder and holder.startswith("process ") else None


@contextmanager
def run_folder_lock(run_dir):
    """The folder (created if missing) locked for the time of the block."""
    Path(run_dir).mkdir(parents=True, exist_ok=True)
    lock = acquire(run_dir)
    try:
        yield
    finally:
        lock.release()


def is_run_folder(folder: Path) -> bool:
    """A derivtrain run's folder (finished, diverged, stopped, or a sweep's job): its checkpoint, or
    Hydra's config beside what a run writes. Neither a project's own metrics.json nor another Hydra
    app's run folder (one that calls derivtrain.train into a folder of its own) counts."""
    if (folder / "checkpoints" / "last.pt").is_file():
        return True
    return (folder / ".hydra" / "config.yaml").is_file() and any(
        (folder / name).exists() for name in ("metrics.json", "failed.json", "split.npz", "checkpoints"))


def check_not_inside_a_run(key: str, path: Path) -> None:
    """A new folder inside a run's folder would change that run, and one inside a folder in use
    (a running sweep's, whose jobs are claimed as they start) would race with its owner."""
    for parent in path.parents:
        if is_run_folder(parent):
            raise UserError(f"{key}={path} is inside the run folder {parent}, which is never changed; "
                            "pick a folder outside it")
        holder = held_by(parent)
        if holder is not None:
            raise UserError(f"{key}={path} is inside {parent}, which is in use by {holder} (a run or a "
                            "sweep); pick a folder outside it")


def _open(path: Path, flags: int) -> int:
    """The lock file opened without following a link; a folder, a link or anything but a plain file
    in its place is a UserError (nothing is written through it)."""
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, 0o644)
    except OSError as err:
        raise _cannot_lock(path, err) from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise UserError(f"cannot lock {path.parent}: {path} is not a plain file; remove it "
                        "(derivtrain makes its own lock file there) or pick another folder")
    return fd


def _cannot_lock(path: Path, err: OSError) -> UserError:
    what = {errno.EISDIR: "is a folder", errno.ELOOP: "is a symbolic link", errno.EACCES: "cannot be written",
            errno.EPERM: "cannot be written", errno.EROFS: "is on a read-only file system",
            errno.ENOLCK: "is on a file system without locks",
            errno.EOPNOTSUPP: "is on a file system without locks"}.get(err.errno)
    why = f"{path} {what}" if what else f"{path}: {err.strerror or err}"
    if err.errno in (errno.EISDIR, errno.ELOOP):
        return UserError(f"cannot lock {path.parent}: {why}; remove it or pick another folder")
    if err.errno in (errno.ENOLCK, errno.EOPNOTSUPP):
        return UserError(f"cannot lock {path.parent}: {why} (two runs could write it at once); "
                         "pick a folder on a local disk")
    return UserError(f"cannot lock {path.parent}: {why}; pick a folder you can write to")


def _same_file(fd: int, path: Path) -> bool:
    try:
        here, there = os.fstat(fd), os.stat(path, follow_symlinks=False)
    except OSError:
        return False
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)


def _write_pid(fd: int) -> None:
    """For messages only (held_by); the lock is already held when this runs."""
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
