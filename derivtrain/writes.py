"""Every file derivtrain writes is created, never followed.

A run folder can be shared, copied or planted: a link at `attributions/importance.csv` pointing at
the user's shell start-up file, or a `.hydra` folder linked into another run, would make a plain
`open(path, "w")` write derivtrain's lines (which can hold a CSV column's name) into that file. So
every write goes through `Folder`: the folder the user chose (`root`: the run folder, a sweep
folder, `out=`) is opened once, and each folder below it is opened relative to its parent's
descriptor with O_NOFOLLOW, so no link is followed and no path is looked up again after it was
checked (a link swapped in between the check and the write changes nothing). Files are made as
a temp file (O_CREAT | O_EXCL | O_NOFOLLOW) renamed over the name, inside that descriptor; a name
that is a link, or a folder or file owned by another user, is refused with one line (UserError,
exit 2) before anything is written. Folders above `root` are the user's own choice of place and
are not judged.
"""
import errno
import os
import secrets
import stat
from contextlib import contextmanager
from pathlib import Path

from derivtrain.errors import UserError

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_NEW_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def _refuse(path, what: str) -> UserError:
    return UserError(f"{path} {what}: derivtrain writes only into real folders and files of its own "
                     "inside the run folder; remove it (or pick another folder) and run again")


def _check_owner(info: os.stat_result, path) -> None:
    if info.st_uid != os.geteuid():
        raise _refuse(path, f"belongs to another user (uid {info.st_uid})")


def _open_dir(name, dir_fd, shown) -> int:
    try:
        fd = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):  # a link (O_NOFOLLOW), or a file where a folder goes
            kind = "is a symbolic link" if os.path.islink(shown) else "is not a folder"
            raise _refuse(shown, kind) from None
        raise
    _check_owner(os.fstat(fd), shown)
    return fd


class Folder:
    """An open folder at `root`/`parts...`, each made if missing and none of them a link."""

    def __init__(self, root, *parts: str):
        self.path = Path(root).joinpath(*parts)
        shown = Path(root)
        try:
            shown.mkdir(parents=True, exist_ok=True)  # where the user (or run()'s caller) put it
        except FileExistsError:
            pass  # a dangling link or a file there: refused by _open_dir, in one line
        self.fd = _open_dir(os.fspath(root), None, shown)
        try:
            for part in Path(*parts).parts if parts else ():
                shown = shown / part
                try:
                    os.mkdir(part, dir_fd=self.fd)
                except FileExistsError:
                    pass
                child = _open_dir(part, self.fd, shown)
                os.close(self.fd)
                self.fd = child
        except BaseException:
            os.close(self.fd)
            raise

    @classmethod
    def at(cls, path, root=None) -> "Folder":
        """The folder `path`, judged from `root` down (default: `path` itself is the root)."""
        root = Path(path) if root is None else Path(root)
        return cls(root, *Path(path).relative_to(root).parts)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> "Folder":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _check_target(self, name: str) -> None:
        """`name` may be replaced: it is absent, or a file of this user's (never a link)."""
        try:
            info = os.stat(name, dir_fd=self.fd, follow_symlinks=False)
        except FileNotFoundError:
            return
        if stat.S_ISLNK(info.st_mode):
            raise _refuse(self.path / name, "is a symbolic link")
        if not stat.S_ISREG(info.st_mode):
            raise _refuse(self.path / name, "is not a plain file")
        _check_owner(info, self.path / name)

    @contextmanager
    def replacing(self, name: str, mode: str = "w", durable: bool = False):
        """A file object for `name`, written to a new temp file and renamed over `name` at the end;
        on an exception the temp file goes and `name` is as it was. `durable`: fsync before the rename."""
        self._check_target(name)
        tmp = f".{name}.{secrets.token_hex(4)}.tmp"
        fd = self._new_file(tmp)
        try:
            text_options = {} if "b" in mode else {"encoding": "utf-8", "newline": ""}
            with os.fdopen(fd, mode, **text_options) as f:
                yield f
                f.flush()
                if durable:
                    os.fsync(f.fileno())
            os.replace(tmp, name, src_dir_fd=self.fd, dst_dir_fd=self.fd)
        except BaseException:
            self.unlink(tmp)
            raise

    def write_text(self, name: str, text: str) -> None:
        with self.replacing(name, "w") as f:
            f.write(text)

    def create(self, name: str, mode: str = "wb"):
        """A new file `name` opened for writing (it must not exist: O_EXCL), kept open by the caller."""
        return os.fdopen(self._new_file(name), mode)

    def _new_file(self, name: str) -> int:
        try:
            return os.open(name, _NEW_FILE_FLAGS, 0o666, dir_fd=self.fd)
        except OSError as exc:  # a folder that refuses new files: the message names the file's whole path
            raise OSError(exc.errno, exc.strerror, str(self.path / name)) from None

    def unlink(self, name: str) -> None:
        try:
            os.unlink(name, dir_fd=self.fd)
        except FileNotFoundError:
            pass

    def replace(self, source: str, name: str) -> None:
        self._check_target(name)
        os.replace(source, name, src_dir_fd=self.fd, dst_dir_fd=self.fd)

    def link(self, source: str, name: str) -> None:
        """A hard link `name` to this folder's `source` (never through a symbolic link)."""
        os.link(source, name, src_dir_fd=self.fd, dst_dir_fd=self.fd, follow_symlinks=False)

    def reading(self, name: str):
        """`name` opened for reading (binary), never through a link."""
        return os.fdopen(os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=self.fd), "rb")

    def names(self) -> list:
        return os.listdir(self.fd)

    def fsync(self) -> None:
        os.fsync(self.fd)


def write_text(root, relative: str, text: str) -> Path:
    """`root`/`relative` written whole (temp file + rename); its folders are made, none followed."""
    relative = Path(relative)
    with Folder(root, *relative.parent.parts) as folder:
        folder.write_text(relative.name, text)
    return Path(root) / relative


@contextmanager
def replacing(root, relative: str, mode: str = "w"):
    """A file object for `root`/`relative` (see Folder.replacing)."""
    relative = Path(relative)
    with Folder(root, *relative.parent.parts) as folder, folder.replacing(relative.name, mode) as f:
        yield f


def check_tree(root) -> None:
    """Before a run goes on in an existing folder (a resume): nothing in it is a link or another
    user's, so no write later in the run is refused half-way (each write checks again)."""
    root = Path(root)
    with Folder(root):  # the folder itself: a real folder of this user's
        pass
    for folder, subfolders, files in os.walk(root):  # os.walk does not follow links into folders
        for name in subfolders + files:
            path = Path(folder) / name
            info = os.lstat(path)
            if stat.S_ISLNK(info.st_mode):
                raise _refuse(path, "is a symbolic link")
            _check_owner(info, path)


def make_folders(path: Path, key: str, taken=None) -> list:
    """mkdir of `path` and its missing parents (a run's or a sweep's folder, named by the setting
    `key` in errors); the ones this call made, outermost first, for remove_empty. A folder another
    process made a moment ago is not ours to remove; `taken(path)`: whether such a `path` already
    holds that process's files (then refused in one line)."""
    missing = [p for p in [path, *path.parents] if not p.exists()][::-1]
    created = []
    try:
        for folder in missing:
            try:
                folder.mkdir()
                created.append(folder)
            except FileExistsError:
                if folder == path and taken is not None and taken(path):
                    raise UserError(f"{key}={path} was just created by another process; pick a new folder") from None
    except OSError as err:
        remove_empty(created)
        raise UserError(f"{key}={path} cannot be created ({err.strerror or err}); choose another folder") from None
    return created


def remove_empty(folders: list) -> None:
    """rmdir of `folders`, innermost first, while they are empty (another process may have claimed one)."""
    for folder in reversed(folders):
        try:
            folder.rmdir()
        except OSError:
            return
