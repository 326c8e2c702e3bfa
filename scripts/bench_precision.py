"""What float64 costs the certified solver: fit time with float64 rows and weights (the CPU's
default since the rows are standardized in float64, derivtrain/config/precision.py) against
float32 rows and weights (what the solver had before, iterating in float64 on a copy), side by side.

    python scripts/bench_precision.py [--rows 100000] [--features 50] [--repeats 3]

Same synthetic rows, same objective, optim.dtype=float64 (the iterate) in both; only the dtype
the standardized rows and the model's weights are kept in differs. Prints the median fit seconds
of each (after one warm-up fit), their ratio, and the certified gap each reported.
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from scripts.timing import median_seconds  # noqa: E402


def fitter(model: str, rows: int, features: int, dtype):
    from derivtrain.data import build_data
    from derivtrain.logging import NullLogger
    from derivtrain.run import build_objective, seed_everything
    from derivtrain.trainer.fitters import fit_objective
    from derivtrain.trainer.fitting import make_context
    from tests.conftest import compose_config

    cfg = compose_config(f"model={model}", "data=synthetic", f"data.n_samples={rows}",
                         f"data.n_features={features}", "logger=none", "trainer.val_every_n_epochs=0")
    seed_everything(cfg.trainer.seed)
    data = build_data(cfg.data, torch.device("cpu"), seed=cfg.trainer.seed, dtype=dtype)
    gaps = []

    def fit():
        objective = build_objective(cfg, data)
        result = fit_objective(make_context(cfg, objective, data, NullLogger()))
        gaps.append(result.metrics["train/optimality_gap"])

    return fit, gaps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--features", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    cpu = torch.device("cpu")
    print(f"{args.rows} x {args.features}, {torch.get_num_threads()} threads, median of {args.repeats}")
    for model in ("logistic", "svm"):
        seconds = {}
        for name, dtype in (("float32", torch.float32), ("float64", torch.float64)):
            fit, gaps = fitter(model, args.rows, args.features, dtype)
            seconds[name] = median_seconds(fit, args.repeats, cpu)
            print(f"model={model:<9} rows/weights {name}: {seconds[name]:.3f} s  (gap {gaps[-1]:.2g})")
        print(f"model={model:<9} float64 / float32: {seconds['float64'] / seconds['float32']:.2f}x")


if __name__ == "__main__":
    main()
