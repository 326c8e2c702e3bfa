"""L1 logistic on rows wider than optim.max_dense: proximal Newton over capped working sets
(optim=auto) against the interior point (optim=certified), which took these problems before.

    OMP_NUM_THREADS=1 python scripts/bench_wide_l1.py [--features 5000] [--tol 1e-3] [--dense]

Sparse text-like rows (scripts/bench_field.py:text_like, 20,000 rows, 30 nonzeros a row) kept a
torch CSR tensor as data=npz keeps them (bench_field.py:derivtrain_fit), the label above the median
of the planted signal, L1 strength 1e-3, rows not standardized. Prints each fit's seconds (median
of --repeats, in one process after a warm-up fit) and objective (scripts/field_tools.py: the two
agree to the tolerance, the same problem). --dense: the same rows as a dense array.
"""
import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_field import derivtrain_fit, text_like  # noqa: E402
from field_tools import DERIVTRAIN, objective  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--features", type=int, default=5000)
    parser.add_argument("--tol", type=float, default=1e-3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dense", action="store_true")
    args = parser.parse_args()
    X, signal, _ = text_like(20_000, args.features)
    X = X.toarray() if args.dense else X
    y = (signal > np.median(signal)).astype(int)
    DERIVTRAIN["l1_logistic optim=certified"] = dict(DERIVTRAIN["l1_logistic"], optim="certified")
    derivtrain_fit("l1_logistic", X[:2000], y[:2000], 1e-3, args.tol)  # warm-up: imports, first calls
    print(f"20000 x {args.features} {'dense' if args.dense else 'sparse'} rows, L1 logistic (strength 1e-3), optim.tol={args.tol}")
    for name in ("l1_logistic", "l1_logistic optim=certified"):
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            W, b = derivtrain_fit(name, X, y, 1e-3, args.tol)
            times.append(time.perf_counter() - start)
        print(f"{'optim=auto' if name == 'l1_logistic' else 'optim=certified':<16} {statistics.median(times):7.2f} s  "
              f"objective {objective('l1_logistic', X, y, 1e-3, W, b):.6f}")


if __name__ == "__main__":
    main()
