"""The run folder of a single run: chosen and checked after the config is validated, claimed
atomically before anything is written, removed again when the run leaves nothing worth keeping.

    plan_run_folder   the absolute folder (hydra.run.dir however it was spelled: ++, quoted,
                      interpolated), or the resumed run's own folder; a new run's folder must not
                      exist or be empty, and is never one that holds a run (finished or diverged)
    claimed           mkdir (atomic) + the folder's lock (derivtrain/lock.py: an OS lock held for the
                      run's life); a second process gets exit 2 and writes nothing. A new folder is
                      removed if the run exits 2, or stops before it saved a checkpoint (nothing to
                      resume); a resumed folder is left as it is. A new folder is never inside a
                      run's folder or inside a folder in use (a running sweep's)
    write_hydra_files .hydra/ (config.yaml, hydra.yaml, overrides.yaml) as Hydra writes it, once
                      set-up has passed every check
"""
import os
import shutil
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from derivtrain.errors import UserError
from derivtrain.lock import LOCK_NAME, acquire, check_not_inside_a_run, held_by
from derivtrain.resume import is_finished
from derivtrain.writes import Folder, check_tree, make_folders, remove_empty


@dataclass
class RunFolder:
    path: Path  # absolute
    in_place: bool  # a resumed, unfinished run going on in its own folder


def gives_run_dir(args) -> bool:
    """Whether the command line names the folder (`hydra.run.dir=`, `+hydra.run.dir=`, `++...`)."""
    return any(a.partition("=")[0].lstrip("+") == "hydra.run.dir" for a in args if "=" in a)


def plan_run_folder(config, explicit: bool, check: bool = True) -> RunFolder:
    """`config`: composed with its hydra node (HydraConfig set, so ${now:...} and ${hydra:...} resolve)."""
    from omegaconf import OmegaConf

    from derivtrain.saved import run_folder_of

    resume = config.trainer.resume
    source = run_folder_of(resume) if resume else None
    if source is not None and not explicit and not is_finished(source):
        return _in_place(Path(source).absolute())  # a resumed run goes on in its own folder
    path = Path(os.path.abspath(os.path.expanduser(str(OmegaConf.select(config, "hydra.run.dir")))))
    if source is not None and path.resolve() == Path(source).resolve():
        return _in_place(path)  # load_resume refuses it if that run is finished
    if check:
        check_new_folder(path)
    return RunFolder(path, in_place=False)


def _in_place(path: Path) -> RunFolder:
    check_tree(path)  # a planted link is refused now, before the lock or any file is written
    return RunFolder(path, in_place=True)


def check_new_folder(path: Path) -> None:
    if path.is_symlink():
        raise UserError(f"hydra.run.dir={path} is a symbolic link; a run writes into a real new folder: pick another")
    if path.exists() and not path.is_dir():
        raise UserError(f"hydra.run.dir={path} is a file; pick a new folder")
    if path.is_dir() and [p for p in path.iterdir() if p.name != LOCK_NAME or held_by(path) is not None]:
        holder = held_by(path)
        if holder is not None:
            raise UserError(f"run folder {path} is in use by {holder}; pick a new folder")
        if (path / "metrics.json").exists() or (path / "checkpoints").exists():
            raise UserError(f"hydra.run.dir={path} already holds a run, which is never overwritten; pick a new "
                            f"folder (to continue that run: trainer.resume={path})")
        raise UserError(f"hydra.run.dir={path} already holds files; a run writes into a new or empty folder: "
                        "pick another")
    check_not_inside_a_run("hydra.run.dir", path)
    existing = path
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise UserError(f"hydra.run.dir={path} cannot be created: {existing} is not a writable folder; "
                        "choose another folder")


@contextmanager
def claimed(folder: RunFolder):
    """The folder created (if new) and locked for this process; see the module docstring for cleanup."""
    created = [] if folder.in_place else _create(folder.path)
    try:
        lock = acquire(folder.path)
    except BaseException:
        remove_empty(created)
        raise
    try:
        _check_still_free(folder)
    except BaseException:
        lock.release()
        remove_empty(created)
        raise
    try:
        yield folder.path
    except BaseException as exc:
        lock.release()
        if created and _nothing_to_keep(exc, folder.path):
            shutil.rmtree(folder.path, ignore_errors=True)
            remove_empty(created[:-1])
        raise
    lock.release()


def _check_still_free(folder: RunFolder) -> None:
    """Checked again once the lock is held: another run may have come and gone between this one's
    checks and its lock (a process paused there would otherwise run into a finished folder)."""
    if folder.in_place and is_finished(folder.path):
        raise UserError(f"the run in {folder.path} was finished by another process meanwhile; "
                        "nothing is left to resume")
    if not folder.in_place and any(p.name != LOCK_NAME for p in folder.path.iterdir()):
        raise UserError(f"hydra.run.dir={folder.path} was just taken by another run; pick a new folder")


def _create(path: Path) -> list:
    """The run folder and its missing parents (writes.make_folders): the ones this process made."""
    return make_folders(path, "hydra.run.dir", taken=lambda p: any(f.name != LOCK_NAME for f in p.iterdir()))


def _nothing_to_keep(exc: BaseException, path: Path) -> bool:
    """A run that exits 2 leaves no folder behind; one stopped before its first checkpoint has
    nothing to resume."""
    from derivtrain.error_messages import describe_user_error
    from derivtrain.trainer.guard import TrainingDiverged
    from derivtrain.trainer.interrupt import TrainingInterrupted

    if isinstance(exc, TrainingInterrupted):
        return not exc.saved
    if isinstance(exc, KeyboardInterrupt):
        return not (path / "checkpoints").exists()
    if isinstance(exc, TrainingDiverged) or not isinstance(exc, Exception):
        return False
    return describe_user_error(exc) is not None


def task_config(config):
    """The run's config: the composed one without its hydra node (as Hydra's runner hands it over)."""
    import copy

    from omegaconf import open_dict, read_write

    task = copy.deepcopy(config)
    with read_write(task), open_dict(task):
        del task["hydra"]
    return task


def write_hydra_files(config, run_dir: Path) -> None:
    """What Hydra writes in <run>/.hydra/ (hydra.output_subdir; null: nothing)."""
    from omegaconf import OmegaConf

    subdir = config.hydra.output_subdir
    if subdir is None:
        return
    files = {"config.yaml": task_config(config), "hydra.yaml": OmegaConf.masked_copy(config, ["hydra"]),
             "overrides.yaml": config.hydra.overrides.task}
    with Folder(run_dir, *Path(str(subdir)).parts) as folder:  # a planted .hydra link is refused
        for name, node in files.items():
            folder.write_text(name, OmegaConf.to_yaml(node))
