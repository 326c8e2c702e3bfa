"""Custom autograd losses against composed torch ops and torch built-ins, side by side.

    python scripts/bench_losses.py                 # full sizes (~2 GB of memory, ~1-2 minutes)
    python scripts/bench_losses.py --quick         # small sizes, to check the script runs
    python scripts/bench_losses.py --device cuda   # on a GPU (scripts/gpu_check.sh)

Every candidate runs in this one process on the same tensors; each round times every candidate
once, in turn, so drift in the machine's state hits them all alike. Reported: the median time over
rounds, and the median over rounds of each round's ratio to the reference row (robust to a shared
machine's load changing between rounds). Sections:

  1. binary hinge, forward + backward on N margins: derivtrain's Function vs
     clamp(1 - y*s, min=0).mean() vs relu(1 - y*s).mean()
  2. multiclass hinge, forward + backward on N margins (N/10 rows x 10 classes): Weston-Watkins vs
     its composition and torch.nn.MultiMarginLoss (times K); Crammer-Singer vs its composition
  3. one full-batch linear-SVM training step (model=svm data=synthetic trainer.batch_size=null,
     rows x features float32): the fused objective, the composed objective, naive autograd,
     against the time to read X once (X.sum())

The markdown table at the end is what README's performance table shows.
"""
import argparse
import os
import platform
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from derivtrain.losses import functional as F  # noqa: E402
from scripts.timing import timed  # noqa: E402


DEVICE = torch.device("cpu")  # set by --device


def compare(candidates: dict, repeats: int, warmup: int = 2) -> dict:
    """Seconds per call of each candidate in each of `repeats` interleaved rounds."""
    for fn in candidates.values():
        for _ in range(warmup):
            fn()
    times = {name: [] for name in candidates}
    for _ in range(repeats):
        for name, fn in candidates.items():
            times[name].append(timed(fn, DEVICE))
    return times


def forward_backward(loss_fn, leaf: torch.Tensor):
    def step():
        loss_fn().backward()
        leaf.grad = None

    return step


def binary_hinge(n: int, repeats: int) -> list:
    g = torch.Generator().manual_seed(0)
    s = torch.randn(n, generator=g).to(DEVICE).requires_grad_()
    y = (torch.randint(0, 2, (n,), generator=g).float() * 2 - 1).to(DEVICE)
    times = compare({
        "derivtrain hinge (autograd.Function)": forward_backward(lambda: F.hinge(s, y), s),
        "composed clamp(1 - y*s, min=0).mean()": forward_backward(lambda: torch.clamp(1 - y * s, min=0).mean(), s),
        "built-in relu(1 - y*s).mean()": forward_backward(lambda: torch.relu(1 - y * s).mean(), s),
    }, repeats)
    return rows(f"binary hinge, fwd+bwd, {n:,} margins", times, "composed clamp(1 - y*s, min=0).mean()")


def weston_watkins_composed(s, y):
    margins = (1 + s - s.gather(1, y.unsqueeze(1))).clamp(min=0)
    return (margins.sum(dim=1) - 1).mean()  # the true class's own term is exactly 1


def crammer_singer_composed(s, y):
    true = s.gather(1, y.unsqueeze(1)).squeeze(1)
    rival = s.scatter(1, y.unsqueeze(1), float("-inf")).amax(dim=1)
    return (1 + rival - true).clamp(min=0).mean()


def multiclass_hinge(n: int, repeats: int, k: int = 10) -> list:
    g = torch.Generator().manual_seed(0)
    s = torch.randn(n // k, k, generator=g).to(DEVICE).requires_grad_()
    y = torch.randint(0, k, (n // k,), generator=g).to(DEVICE)
    mml = torch.nn.MultiMarginLoss()
    times = compare({
        "derivtrain weston_watkins": forward_backward(lambda: F.multiclass_hinge(s, y, "weston_watkins"), s),
        "composed weston_watkins": forward_backward(lambda: weston_watkins_composed(s, y), s),
        "built-in MultiMarginLoss x K": forward_backward(lambda: mml(s, y) * k, s),
        "derivtrain crammer_singer": forward_backward(lambda: F.multiclass_hinge(s, y, "crammer_singer"), s),
        "composed crammer_singer": forward_backward(lambda: crammer_singer_composed(s, y), s),
    }, repeats)
    section = f"multiclass hinge, fwd+bwd, {n // k:,} x {k}"
    ww = rows(section, {name: t for name, t in times.items() if "weston" in name or "Multi" in name},
              "composed weston_watkins")
    cs = rows(section, {name: t for name, t in times.items() if "crammer" in name}, "composed crammer_singer")
    return ww + cs


def svm_step(n_rows: int, n_features: int, repeats: int) -> list:
    from hydra import compose, initialize_config_dir

    from derivtrain.config import register_schemas
    from derivtrain.data import build_data
    from derivtrain.losses import Objective
    from derivtrain.paths import config_dir
    from derivtrain.run import build_objective, seed_everything
    from derivtrain.trainer.optimizers import build_optimizer

    register_schemas()
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg = compose(config_name="config", overrides=[
            "model=svm", "data=synthetic", "trainer.batch_size=null", f"data.n_samples={n_rows}",
            f"data.n_features={n_features}", "data.test_size=0.05", "data.val_size=0.0"])
    seed_everything(0)
    data = build_data(cfg.data, DEVICE, seed=0)
    fused = build_objective(cfg, data)
    model = fused.model
    composed = Objective(model, fused.loss, fused.penalty)
    X = data.train.X
    targets = fused.loss.encode_targets(data.train.y, data.spec.n_outputs)
    fused.use_full_batch(X, targets)
    optimizer = build_optimizer(model.parameters(), cfg.optim)
    alpha = fused.penalty.strength

    def step(objective):
        def run():
            optimizer.zero_grad(set_to_none=True)
            (objective.full_batch() if objective.fused is not None else objective(X, targets)).backward()
            optimizer.step()

        return run

    def naive():
        optimizer.zero_grad(set_to_none=True)
        scores = torch.nn.functional.linear(X, model.linear.weight, model.linear.bias).squeeze(1)
        loss = torch.clamp(1 - targets * scores, min=0).mean() + 0.5 * alpha * model.linear.weight.pow(2).sum()
        loss.backward()
        optimizer.step()

    times = compare({
        "derivtrain fused objective (full batch)": step(fused),
        "derivtrain composed objective": step(composed),
        "naive autograd (nn.Linear + clamp + L2)": naive,
        "read X once: X.sum()": lambda: X.sum(),
    }, repeats)
    shape = f"{X.shape[0]:,} x {X.shape[1]} float32"
    return rows(f"linear-SVM full-batch step, {shape}", times, "read X once: X.sum()")


def rows(section: str, times: dict, reference: str) -> list:
    """(section, name, median ms, median of per-round ratios to the reference, is the reference)."""
    ref = times[reference]
    return [(section, name, statistics.median(t) * 1e3, statistics.median(a / b for a, b in zip(t, ref)),
             name == reference) for name, t in times.items()]


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    where = f"{torch.cuda.get_device_name(DEVICE)} (CUDA {torch.version.cuda}), host " if DEVICE.type == "cuda" else ""
    return (f"{where}{cpu}, {torch.get_num_threads()} threads (os.cpu_count()={os.cpu_count()}), "
            f"torch {torch.__version__}, Python {platform.python_version()}")


def markdown(table: list, repeats: int) -> str:
    device_flag = f" --device {DEVICE}" if DEVICE.type != "cpu" else ""
    lines = [f"Measured on {machine()}; medians over {repeats} interleaved rounds, ratio = median of "
             f"per-round ratios (`python scripts/bench_losses.py{device_flag}`).", "",
             "| benchmark | implementation | median ms | ratio |", "|---|---|---:|---:|"]
    for section, name, ms, ratio, is_ref in table:
        label = "1.00 (reference)" if is_ref else f"{ratio:.2f}x"
        lines.append(f"| {section} | {name} | {ms:.1f} | {label} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--margins", type=int, default=10_000_000, help="margins for sections 1 and 2")
    parser.add_argument("--rows", type=int, default=1_000_000, help="training rows for section 3 (before splits)")
    parser.add_argument("--features", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: check that the script runs")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    args = parser.parse_args()
    global DEVICE
    DEVICE = torch.device(args.device)
    if args.quick:
        args.margins, args.rows, args.features, args.repeats = 100_000, 20_000, 20, 3
    # section 3's training split is (1 - test_size) of the rows: ask for enough to train on `rows`
    table = binary_hinge(args.margins, args.repeats)
    table += multiclass_hinge(args.margins, args.repeats)
    table += svm_step(round(args.rows / 0.95), args.features, args.repeats)
    print(markdown(table, args.repeats))


if __name__ == "__main__":
    main()
