"""checkpoints/last.pt: everything to predict with the model or to resume training exactly.

Only tensors, numbers, strings, lists and dicts, so `torch.load(path, weights_only=True)` opens it
without running any code from the file.
"""
from pathlib import Path

import torch

from derivtrain.writes import Folder

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


def save_checkpoint(path: Path, keep: int = 2, **content) -> Path:
    """Write `step-<step>.pt` durably, point `last.pt` at it, keep the newest `keep` step files.

    Temp file, fsync, rename, fsync the folder: a crash at any moment leaves every earlier
    checkpoint intact. last.pt is a hard link to the newest step file (a copy where links fail).
    The checkpoints folder is opened below the run folder without following links
    (derivtrain/writes.py): a planted link is refused, never written through.
    """
    path = Path(path)
    step_name = f"step-{int(content.get('step', 0)):09d}.pt"
    with _checkpoint_folder(path) as folder:
        with folder.replacing(step_name, "wb", durable=True) as f:
            torch.save({"format_version": FORMAT_VERSION, **content}, f)
        _point_last_at(folder, path.name, step_name)
        for old in sorted(n for n in folder.names() if _step_of(n) is not None)[:-max(1, keep)]:
            folder.unlink(old)
    return path.parent / step_name


def _checkpoint_folder(path: Path) -> Folder:
    """checkpoints/ of `path` (…/<run>/checkpoints/last.pt), judged from the run folder down."""
    return Folder(path.parent.parent, path.parent.name)


def _step_of(name: str) -> int | None:
    if not (name.startswith("step-") and name.endswith(".pt")):
        return None
    try:
        return int(name[len("step-"):-len(".pt")])
    except ValueError:
        return None


def _point_last_at(folder: Folder, last: str, step_name: str) -> None:
    link_tmp = f".{last}.link.tmp"
    folder.unlink(link_tmp)
    try:
        try:
            folder.link(step_name, link_tmp)
        except OSError:  # a file system without hard links: a copy
            with folder.replacing(link_tmp, "wb") as copy, folder.reading(step_name) as original:
                copy.write(original.read())
        folder.replace(link_tmp, last)
    finally:
        folder.unlink(link_tmp)
    folder.fsync()


def discard_from(path: Path, first_bad_step: int) -> int | None:
    """Remove the step files of steps >= first_bad_step (their weights were never seen to give a
    finite loss) and point last.pt at the newest one left (its step), or remove it when none is left."""
    path = Path(path)
    with _checkpoint_folder(path) as folder:
        steps = sorted((step, name) for name in folder.names() if (step := _step_of(name)) is not None)
        for step, name in steps:
            if step >= first_bad_step:
                folder.unlink(name)
        kept = [(step, name) for step, name in steps if step < first_bad_step]
        if kept:
            _point_last_at(folder, path.name, kept[-1][1])
            return kept[-1][0]
        folder.unlink(path.name)
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
