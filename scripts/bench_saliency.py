"""derivtrain's own saliency vs Captum's Saliency: same values, and which is faster.

    python scripts/bench_saliency.py [--samples 10000] [--repeats 21] [--device cpu]

Trains the digits MLP (model=mlp data=digits, 100 epochs), then explains the predicted class of
`--samples` standardized digits rows (the 1,797 rows repeated, since the data set is that small)
with both implementations. Both compute |d score / d x|; Captum asks autograd for the gradient of
each row's score (torch.unbind), derivtrain for the gradient of their sum, which is the same
thing for rows that do not interact. Prints the largest difference and the median time of each
over the repeats (after one warm-up call), and the ratio Captum / derivtrain.
"""
import argparse
import os
import platform
import sys
import warnings
from pathlib import Path
from tempfile import TemporaryDirectory

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from derivtrain.api import load_run  # noqa: E402
from derivtrain.data import build_data  # noqa: E402
from derivtrain.run import run  # noqa: E402
from derivtrain.sensitivity import ClassScores, saliency  # noqa: E402
from scripts.timing import median_seconds  # noqa: E402
from tests.conftest import compose_config  # noqa: E402


def trained_digits_mlp(device):
    cfg = compose_config("model=mlp", "data=digits", "logger=none",
                         "trainer.device=cpu")
    with TemporaryDirectory() as tmp:
        metrics = run(cfg, tmp)
        model = load_run(tmp).to(device)
    return model, cfg, metrics


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=21)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    device = torch.device(args.device)

    from captum.attr import Saliency

    model, cfg, metrics = trained_digits_mlp(device)
    data = build_data(cfg.data, device, seed=cfg.trainer.seed)
    every_row = torch.cat([data.train.X, data.val.X, data.test.X])
    X = every_row.repeat(-(-args.samples // len(every_row)), 1)[:args.samples].contiguous()
    forward = ClassScores(model)
    with torch.no_grad():
        target = forward(X).argmax(1)
    captum_saliency = Saliency(forward)

    def ours():
        return saliency(forward, X, target)

    def theirs():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "Input Tensor 0 did not already require gradients"
            return captum_saliency.attribute(X, target=target)

    difference = (ours() - theirs()).abs().max().item()
    t_ours, t_theirs = median_seconds(ours, args.repeats, device), median_seconds(theirs, args.repeats, device)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, "
          f"torch {torch.__version__} ({torch.get_num_threads()} threads), device {device}")
    print(f"model: digits MLP 64-64-10 (test accuracy {metrics['test/accuracy']:.3f}); "
          f"{args.samples} rows x 64 features, predicted class, median of {args.repeats}")
    print(f"max |derivtrain - captum| = {difference:.2e}")
    print("| saliency | ms | ratio |\n|---|---|---|")
    print(f"| derivtrain (own) | {1000 * t_ours:.2f} | 1.00 |")
    print(f"| captum.attr.Saliency | {1000 * t_theirs:.2f} | {t_theirs / t_ours:.2f} |")
    if difference > 1e-6:
        sys.exit(f"values differ by {difference:.2e} > 1e-6")


if __name__ == "__main__":
    main()
