"""Integrated gradients over the whole digits test split: time, cost in passes, completeness gap.

    python scripts/bench_ig.py [--n-steps 50] [--repeats 7] [--device cpu] [--gap-table]

Trains the digits MLP (model=mlp data=digits, 100 epochs, ReLU) and runs integrated gradients
(baseline = training mean) on all 359 test rows two ways: integration=auto, which for this ReLU
MLP is exact_piecewise (one gradient per linear piece of each row's path, piecewise_ig.py), and
Captum's Gauss-Legendre rule with n_steps points. Prints the median time of each over the repeats,
the time of one forward + backward pass over the same rows (derivtrain's input gradients) and the
ratios, the time of one pass over all n_steps x rows path points (the arithmetic a quadrature
cannot avoid; what is left is Captum's bookkeeping), the linear pieces per row, and
analysis/ig_max_abs_delta of each. --gap-table adds the completeness gap against n_steps: the
quadrature's gap on the ReLU MLP shrinks only like 1/n_steps (its gradient jumps at the kinks),
the exact integral's is float rounding at any n_steps, and on a tanh MLP (auto = Gauss-Legendre)
the quadrature converges fast.
"""
import argparse
import os
import platform
import sys
from pathlib import Path
from tempfile import TemporaryDirectory

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from derivtrain.api import load_run  # noqa: E402
from derivtrain.data import build_data  # noqa: E402
from derivtrain.run import run  # noqa: E402
from derivtrain.sensitivity import ClassScores, input_gradients  # noqa: E402
from derivtrain.sensitivity.methods import attribute  # noqa: E402
from derivtrain.sensitivity.piecewise_ig import breakpoints, hidden_layers  # noqa: E402
from scripts.timing import median_seconds  # noqa: E402
from tests.conftest import compose_config  # noqa: E402


def trained_digits_mlp(device, activation="relu"):
    cfg = compose_config("model=mlp", f"model.activation={activation}", "data=digits", "logger=none",
                         "trainer.device=cpu")
    with TemporaryDirectory() as tmp:
        metrics = run(cfg, tmp)
        model = load_run(tmp).to(device)
    return model, build_data(cfg.data, device, seed=cfg.trainer.seed).test.X, metrics


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
    t_exact = median_seconds(lambda: attribute(model, X, "integrated_gradients"), args.repeats, device)
    t_ig = median_seconds(lambda: attribute(model, X, "integrated_gradients", n_steps=args.n_steps,
                                            integration="gausslegendre"), args.repeats, device)
    t_pass = median_seconds(lambda: input_gradients(forward, X, target), max(args.repeats, 21), device)
    path = X.repeat(args.n_steps, 1)  # as many rows as IG's path points
    t_path = median_seconds(lambda: input_gradients(forward, path, target.repeat(args.n_steps)), args.repeats, device)
    knots = breakpoints(hidden_layers(model), X, torch.zeros_like(X[:1]))
    pieces = (knots[:, 1:] > knots[:, :-1]).sum(1).float()
    gap_exact, gap_ig = (attribute(model, X, "integrated_gradients", n_steps=args.n_steps, integration=rule)
                         .delta.abs().max().item() for rule in ("auto", "gausslegendre"))
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, "
          f"torch {torch.__version__} ({torch.get_num_threads()} threads), device {device}")
    print(f"model: digits MLP 64-64-10 relu (test accuracy {metrics['test/accuracy']:.3f}); "
          f"{len(X)} test rows, median of {args.repeats}")
    print(f"| integrated gradients, exact piecewise (auto) | {1000 * t_exact:.1f} ms | "
          f"{t_exact / t_pass:.0f}x one pass | gap {gap_exact:.2g} |")
    print(f"| integrated gradients, Gauss-Legendre n_steps={args.n_steps} | {1000 * t_ig:.1f} ms | "
          f"{t_ig / t_pass:.0f}x one pass | gap {gap_ig:.2g} |")
    print(f"| one forward + backward pass, same rows | {1000 * t_pass:.2f} ms | | |")
    print(f"| one pass over the {len(path)} path points | {1000 * t_path:.1f} ms | "
          f"Gauss-Legendre {t_ig / t_path:.1f}x that | |")
    print(f"| linear pieces per row (exact: one gradient each) | mean {pieces.mean():.1f}, "
          f"max {pieces.max():.0f} | | |")
    if args.gap_table:
        tanh_model, _, _ = trained_digits_mlp(device, "tanh")
        print("\n| n_steps | max gap, relu, Gauss-Legendre | max gap, relu, auto (exact piecewise) "
              "| max gap, tanh, auto (Gauss-Legendre) |\n|---|---|---|---|")
        for n in (16, 64, 256, 1024):
            gaps = [attribute(m, X, "integrated_gradients", n_steps=n, integration=rule).delta.abs().max().item()
                    for m, rule in ((model, "gausslegendre"), (model, "auto"), (tanh_model, "auto"))]
            print(f"| {n} | {gaps[0]:.2g} | {gaps[1]:.2g} | {gaps[2]:.2g} |")

if __name__ == "__main__":
    main()
