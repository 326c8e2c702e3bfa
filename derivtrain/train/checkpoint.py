"""checkpoints/last.pt: everything to predict with the model or to resume training exactly.

Only tensors, numbers, strings, lists and dicts, so `torch.load(path, weights_only=True)` opens it
without running any code from the file.
"""
import os
from pathlib import Path

import torch

FORMAT_VERSION = 1


def rng_state(shuffle_generator: torch.Generator) -> dict:
    state = {"torch": torch.get_rng_state(), "shuffle": shuffle_generator.get_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict, shuffle_generator: torch.Generator) -> None:
    torch.set_rng_state(state["torch"])
    shuffle_generator.set_state(state["shuffle"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: Path, **content) -> None:
    """Write atomically: a crash mid-write leaves the previous checkpoint intact."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save({"format_version": FORMAT_VERSION, **content}, tmp)
    os.replace(tmp, path)


def load_checkpoint(path) -> dict:
    """A run folder or a .pt file -> the checkpoint dict, loaded safely onto the CPU."""
    from derivtrain.errors import UserError

    path = Path(path)
    if path.is_dir():
        path = path / "checkpoints" / "last.pt"
    if not path.is_file():
        raise UserError(f"no checkpoint at {path}: pass a run folder (with checkpoints/last.pt) or a .pt file")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt or foreign file: say which, not a pickle traceback
        raise UserError(f"{path} is not a readable derivtrain checkpoint ({type(exc).__name__}: {exc})") from None
