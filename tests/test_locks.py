"""One writer per folder: the lock is the kernel's (flock), held for the run's life, whatever a
process does between creating the lock file and writing its pid."""
import errno
import os
import subprocess
import sys

import pytest

import derivtrain.lock as lock
from derivtrain.errors import UserError
from derivtrain.lock import LOCK_NAME, FolderInUse, acquire, held_by, owner
from tests.conftest import REPO, run_main
from tests.lock_holder import hold_lock

QUICK = ["model=logistic", "data=iris", "optim=sgd", "trainer.max_epochs=3", "logger=none"]

# `python -m derivtrain args...` whose first exclusive flock waits for a line on stdin: a process
# paused after it created the lock file and before it locked it
_PAUSED_CLI = """
import fcntl, sys
real = fcntl.flock
def paused(fd, op):
    if op & fcntl.LOCK_EX and not paused.done:
        paused.done = True
        print("paused", flush=True)
        sys.stdin.readline()
    return real(fd, op)
paused.done = False
fcntl.flock = paused
sys.argv = ["derivtrain", *sys.argv[1:]]
from derivtrain.cli import main
main()
"""


def test_a_holder_paused_before_writing_its_pid_still_holds_the_folder(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    first = hold_lock(folder, write_pid=False)  # created and locked the file, wrote nothing yet
    try:
        second = run_main(*QUICK, f"hydra.run.dir={folder}")
    finally:
        first.kill()
        first.wait()
    assert second.returncode == 2 and second.stderr.count("\n") == 1, second.stderr
    assert "is in use by another process" in second.stderr
    assert [p.name for p in folder.iterdir()] == [LOCK_NAME]  # the second run wrote nothing


def test_a_process_paused_between_creating_and_locking_loses_to_the_one_that_locked(tmp_path):
    """The case that put two runs in one folder: the first creates the lock file and pauses, the
    second takes the folder and finishes; the first then refuses instead of running there too."""
    folder = tmp_path / "run"
    first = subprocess.Popen([sys.executable, "-c", _PAUSED_CLI, *QUICK, f"hydra.run.dir={folder}"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=REPO)
    try:
        while (line := first.stdout.readline()) and line.strip() != "paused":
            pass
        assert line.strip() == "paused" and (folder / LOCK_NAME).exists()
        second = run_main(*QUICK, f"hydra.run.dir={folder}")
        assert second.returncode == 0, second.stderr
        metrics = (folder / "metrics.json").read_bytes()
        _, err = first.communicate("\n", timeout=120)
    finally:
        first.kill()
    assert first.returncode == 2 and "was just taken by another run" in err and "Traceback" not in err, err
    assert (folder / "metrics.json").read_bytes() == metrics and not (folder / LOCK_NAME).exists()


def test_a_second_claim_in_the_same_process_is_refused_until_released(tmp_path):
    held = acquire(tmp_path)
    assert held_by(tmp_path) == f"process {os.getpid()}" and owner(tmp_path) == os.getpid()
    with pytest.raises(FolderInUse, match=f"in use by process {os.getpid()}"):
        acquire(tmp_path)
    held.release()
    assert not (tmp_path / LOCK_NAME).exists() and held_by(tmp_path) is None
    acquire(tmp_path).release()


def test_the_lock_of_a_killed_process_is_free_at_once(tmp_path):
    holder = hold_lock(tmp_path)
    assert owner(tmp_path) == holder.pid
    holder.kill()
    holder.wait()
    assert (tmp_path / LOCK_NAME).read_text() == str(holder.pid)  # its file is still there ...
    assert held_by(tmp_path) is None  # ... but nobody holds it
    acquire(tmp_path).release()


def test_a_lock_file_removed_by_its_holder_after_another_opened_it_is_not_held_twice(tmp_path, monkeypatch):
    """B opens the lock file, A releases (removes) it, B locks the removed file: B must notice and
    lock the new file, or a third process would lock that one alongside B."""
    first = acquire(tmp_path)
    real_open = lock._open

    def open_then_holder_finishes(path, flags):
        fd = real_open(path, flags)
        if first.fd is not None:
            first.release()
        return fd

    monkeypatch.setattr(lock, "_open", open_then_holder_finishes)
    second = acquire(tmp_path)
    monkeypatch.undo()
    assert os.fstat(second.fd).st_ino == os.stat(tmp_path / LOCK_NAME).st_ino
    with pytest.raises(FolderInUse):
        acquire(tmp_path)
    second.release()


@pytest.mark.parametrize("planted", ["folder", "link"])
def test_a_lock_path_that_is_a_folder_or_a_link_is_one_line_and_exit_2(tmp_path, planted):
    folder, target = tmp_path / "run", tmp_path / "startup_file"
    folder.mkdir()
    target.write_text("keep me")
    if planted == "folder":
        (folder / LOCK_NAME).mkdir()
    else:
        (folder / LOCK_NAME).symlink_to(target)
    proc = run_main(*QUICK, f"hydra.run.dir={folder}")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    expected = "is a folder" if planted == "folder" else "is a symbolic link"
    assert f"cannot lock {folder}: {folder / LOCK_NAME} {expected}" in proc.stderr
    assert target.read_text() == "keep me" and [p.name for p in folder.iterdir()] == [LOCK_NAME]


def test_resume_in_a_folder_that_refuses_writes_is_one_line_and_exit_2(tmp_path, monkeypatch):
    folder = tmp_path / "run"
    first = run_main(*QUICK, "trainer.checkpoint_every_n_epochs=1", f"hydra.run.dir={folder}")
    assert first.returncode == 0, first.stderr
    (folder / "metrics.json").unlink()  # as if it had stopped before the end: resumed in place
    real_open = os.open

    def unwritable(path, flags, *args, **kwargs):
        if str(path).startswith(str(folder)) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", unwritable)  # as a folder of another user (the tests run as root)
    proc = run_main(*QUICK, "trainer.max_epochs=5", f"trainer.resume={folder}")
    monkeypatch.undo()
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert f"cannot lock {folder}: {folder / LOCK_NAME} cannot be written" in proc.stderr


def test_a_new_run_folder_inside_a_run_or_a_folder_in_use_is_refused(tmp_path):
    finished = tmp_path / "finished"
    assert run_main(*QUICK, f"hydra.run.dir={finished}").returncode == 0
    before = sorted(p.name for p in finished.iterdir())
    proc = run_main(*QUICK, f"hydra.run.dir={finished / 'inner'}")
    assert proc.returncode == 2 and f"is inside the run folder {finished}" in proc.stderr, proc.stderr
    assert sorted(p.name for p in finished.iterdir()) == before
    busy = tmp_path / "busy"
    busy.mkdir()
    holder = hold_lock(busy)
    try:
        proc = run_main(*QUICK, f"hydra.run.dir={busy / 'inner'}")
    finally:
        holder.kill()
        holder.wait()
    assert proc.returncode == 2 and f"which is in use by process {holder.pid}" in proc.stderr, proc.stderr
    assert [p.name for p in busy.iterdir()] == [LOCK_NAME]


def test_a_lock_file_that_is_not_a_plain_file_is_refused(tmp_path):
    os.mkfifo(tmp_path / LOCK_NAME)
    with pytest.raises(UserError, match="is not a plain file"):
        acquire(tmp_path)


def test_only_a_derivtrain_run_or_a_held_folder_blocks_a_folder_inside_it(tmp_path):
    from derivtrain.lock import check_not_inside_a_run

    app = tmp_path / "other_hydra_app_run"  # another Hydra app that calls derivtrain.train into a subfolder
    (app / ".hydra").mkdir(parents=True)
    (app / ".hydra" / "config.yaml").write_text("{}")
    check_not_inside_a_run("hydra.run.dir", app / "derivtrain")
    (tmp_path / "metrics.json").write_text("{}")  # a project's own file, say DVC's
    check_not_inside_a_run("hydra.run.dir", tmp_path / "outputs" / "run")
    (app / "split.npz").write_bytes(b"")  # now it is what a derivtrain run leaves
    with pytest.raises(UserError, match=f"is inside the run folder {app}"):
        check_not_inside_a_run("hydra.run.dir", app / "derivtrain")


def test_a_file_system_without_locks_is_one_line(tmp_path, monkeypatch):
    def no_locks(fd, op):
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

    monkeypatch.setattr(lock.fcntl, "flock", no_locks)
    with pytest.raises(UserError, match="is on a file system without locks .* pick a folder on a local disk"):
        acquire(tmp_path)
