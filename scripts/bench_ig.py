"""Integrated gradients over the whole digits test split: time, cost in passes, completeness gap.

    python scripts/bench_ig.py [--n-steps 50] [--repeats 7] [--device cpu] [--gap-table]

Trains the digits MLP (model=mlp data=digits, 100 epochs) and runs derivtrain's IG adapter
(Captum IntegratedGradients, Gauss-Legendre, baseline = training mean) on all 359 test rows.
Prints the median time over the repeats, the time of one forward + backward pass over the same
rows (derivtrain's input gradients) and their ratio, the time of one pass over all n_steps x rows
path points (the arithmetic IG cannot avoid; what is left is Captum's bookkeeping), and
analysis/ig_max_abs_delta. --gap-table adds the completeness gap against n_steps for ReLU and
tanh MLPs: smooth activations converge fast, ReLU's kinks make the gap shrink like 1/n_steps.
"""
import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from tempfile import TemporaryDirectory

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from derivtrain.api import load_run  # noqa: E402
from derivtrain.data import build_data  # noqa: E402
from derivtrain.run import run  # noqa: E402
from derivtrain.sensitivity import ClassScores, input_gradients  # noqa: E402
from derivtrain.sensitivity.methods import attribute  # noqa: E402
from tests.conftest import compose_config  # noqa: E402


def trained_digits_mlp(device, activation="relu"):
    cfg = compose_config("model=mlp", f"model.activation={activation}", "data=digits", "logger=none",
                         "trainer.device=cpu")
    with TemporaryDirectory() as tmp:
        metrics = run(cfg, tmp)
        model = load_run(tmp).to(device)
    return model, build_data(cfg.data, device, seed=cfg.trainer.seed).test.X, metrics


def median_seconds(fn, repeats, device):
    fn()  # warm-up (and Captum's import)
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-steps", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--gap-table", action="store_true")
    args = parser.parse_args()
    device = torch.device(args.device)

    model, X, metrics = trained_digits_mlp(device)
    forward = ClassScores(model)
    with torch.no_grad():
        target = forward(X).argmax(1)
    t_ig = median_seconds(lambda: attribute(model, X, "integrated_gradients", n_steps=args.n_steps),
                          args.repeats, device)
    t_pass = median_seconds(lambda: input_gradients(forward, X, target), max(args.repeats, 21), device)
    path = X.repeat(args.n_steps, 1)  # as many rows as IG's path points
    t_path = median_seconds(lambda: input_gradients(forward, path, target.repeat(args.n_steps)), args.repeats, device)
    gap = attribute(model, X, "integrated_gradients", n_steps=args.n_steps).delta.abs().max().item()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, "
          f"torch {torch.__version__} ({torch.get_num_threads()} threads), device {device}")
    print(f"model: digits MLP 64-64-10 relu (test accuracy {metrics['test/accuracy']:.3f}); "
          f"{len(X)} test rows, median of {args.repeats}")
    print(f"| integrated gradients, n_steps={args.n_steps} | {1000 * t_ig:.1f} ms |")
    print(f"| one forward + backward pass, same rows | {1000 * t_pass:.2f} ms |")
    print(f"| ratio | {t_ig / t_pass:.0f}x |")
    print(f"| one pass over the {len(path)} path points | {1000 * t_path:.1f} ms ({t_ig / t_path:.1f}x less than IG) |")
    print(f"| analysis/ig_max_abs_delta | {gap:.2g} |")
    if args.gap_table:
        tanh_model, _, _ = trained_digits_mlp(device, "tanh")
        print("\n| n_steps | max gap, relu | max gap, tanh |\n|---|---|---|")
        for n in (16, 64, 256, 1024):
            gaps = [attribute(m, X, "integrated_gradients", n_steps=n).delta.abs().max().item()
                    for m in (model, tanh_model)]
            print(f"| {n} | {gaps[0]:.2g} | {gaps[1]:.2g} |")


if __name__ == "__main__":
    main()
