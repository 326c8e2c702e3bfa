"""checkpoints/last.pt: everything to predict with the model or to resume training exactly.

Only tensors, numbers, strings, lists and dicts, so `torch.load(path, weights_only=True)` opens it
without running any code from the file.
"""
import os
import shutil
from pathlib import Path

import torch

FORMAT_VERSION = 1


def rng_state(shuffle_generator: torch.Generator, shuffle_state: torch.Tensor | None = None) -> dict:
    """Every RNG the run draws from; `shuffle_state` overrides the shuffle generator's current state."""
    shuffle = shuffle_state if shuffle_state is not None else shuffle_generator.get_state()
    state = {"torch": torch.get_rng_state(), "shuffle": shuffle}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict, shuffle_generator: torch.Generator) -> None:
    torch.set_rng_state(state["torch"])
    shuffle_generator.set_state(state["shuffle"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save_checkpoint(path: Path, keep: int = 2, **content) -> Path:
    """Write `step-<step>.pt` durably, point `last.pt` at it, keep the newest `keep` step files.

    Temp file, fsync, rename, fsync the folder: a crash at any moment leaves every earlier
    checkpoint intact. last.pt is a hard link to the newest step file (a copy where links fail).
    """
    path = Path(path)
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True)
    step_file = folder / f"step-{int(content.get('step', 0)):09d}.pt"
    tmp = step_file.with_name(step_file.name + ".tmp")
    try:
        with open(tmp, "wb") as f:
            torch.save({"format_version": FORMAT_VERSION, **content}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, step_file)
        _point_last_at(path, step_file)
    finally:  # a full disk: the partial file goes, last.pt still names the previous checkpoint
        tmp.unlink(missing_ok=True)
    for old in sorted(folder.glob("step-*.pt"))[:-max(1, keep)]:
        old.unlink()
    return step_file


def _point_last_at(path: Path, step_file: Path) -> None:
    link_tmp = path.with_name(path.name + ".tmp")
    link_tmp.unlink(missing_ok=True)
    try:
        try:
            os.link(step_file, link_tmp)
        except OSError:
            shutil.copyfile(step_file, link_tmp)
        os.replace(link_tmp, path)
    finally:
        link_tmp.unlink(missing_ok=True)
    _fsync_dir(path.parent)


def discard_from(path: Path, first_bad_step: int) -> int | None:
    """Remove the step files of steps >= first_bad_step (their weights were never seen to give a
    finite loss) and point last.pt at the newest one left (its step), or remove it when none is left."""
    path = Path(path)
    kept = []
    for step_file in sorted(path.parent.glob("step-*.pt")):
        try:
            bad = int(step_file.stem.split("-", 1)[1]) >= first_bad_step
        except ValueError:
            bad = False
        if bad:
            step_file.unlink()
        else:
            kept.append(step_file)
    if kept:
        _point_last_at(path, kept[-1])
        return int(kept[-1].stem.split("-", 1)[1])
    path.unlink(missing_ok=True)
    return None


def _read(path: Path) -> dict:
    from derivtrain.errors import UserError

    try:
        # weights_only: only tensors and plain containers are rebuilt; a pickled object that would
        # run code on load is refused before anything in it executes
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt, truncated or foreign: say which file, not a pickle traceback
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"{path} is not a readable derivtrain checkpoint ({type(exc).__name__}: {reason})") from None


def load_checkpoint(path) -> dict:
    """A run folder or a .pt file -> the checkpoint dict, loaded safely onto the CPU.

    For a run folder: last.pt, or when it is unreadable the newest readable step file (named in
    a warning). A file given by name is read as it is.
    """
    from derivtrain.errors import UserError

    path = Path(path)
    if not path.is_dir():
        if not path.is_file():
            raise UserError(f"no checkpoint at {path}: pass a run folder (with checkpoints/last.pt) or a .pt file")
        return _read(path)
    folder = path / "checkpoints"
    candidates = [folder / "last.pt", *sorted(folder.glob("step-*.pt"), reverse=True)]
    candidates = [c for c in candidates if c.is_file()]
    if not candidates:
        raise UserError(f"no checkpoint at {folder / 'last.pt'}: {path} is not a derivtrain run folder")
    errors = []
    for candidate in candidates:
        try:
            state = _read(candidate)
        except UserError as exc:
            errors.append(str(exc))
            continue
        if errors:
            from derivtrain.logging import log

            log.warning("%s; using %s instead", errors[0], candidate)
        return state
    raise UserError(errors[0] + " (and no earlier checkpoint in that folder is readable)")
