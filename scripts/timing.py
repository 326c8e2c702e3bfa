"""Shared pieces of the benchmark scripts: timing a call, and the hand-written reference step."""
import statistics
import subprocess
import time

import torch


def wait(device: torch.device) -> None:
    """Timers stop when a GPU's queued work is done, not when it is queued (no-op on the CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed(fn, device: torch.device) -> float:
    """Wall time of one call of `fn()`, CUDA work waited for before and after."""
    wait(device)
    start = time.perf_counter()
    fn()
    wait(device)
    return time.perf_counter() - start


def median_seconds(fn, repeats: int, device: torch.device) -> float:
    """Median wall time of `fn()` over `repeats` calls after one warm-up; CUDA work is waited for."""
    fn()  # warm-up: first-call allocations, lazy initialisation, imports
    return statistics.median(timed(fn, device) for _ in range(repeats))


def hand_hinge_step(model: torch.nn.Linear, optimizer, X, signs, alpha: float) -> None:
    """One step of a linear SVM as a PyTorch user writes it: composed ops, autograd's derivatives."""
    optimizer.zero_grad(set_to_none=True)
    scores = model(X).squeeze(1)
    loss = torch.clamp(1 - signs * scores, min=0).mean() + 0.5 * alpha * model.weight.pow(2).sum()
    loss.backward()
    optimizer.step()


def wall(cmd) -> float:
    """Seconds a command takes as a fresh process (its output discarded; a failure raises)."""
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start
