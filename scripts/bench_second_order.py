"""What a second-order step costs: X^T D X as one symmetric rank-k product vs the product it replaced.

    OMP_NUM_THREADS=1 python scripts/bench_second_order.py            # 100k x 50, median of 5
    python scripts/bench_second_order.py --rows 1000000 --features 100

Side by side in one process: (1) X^T diag(w) X for X = [rows | 1], the old way (X^T (X * w) in
chunks of 8M numbers) and derivtrain/data/rank_k.py's; (2) one-vs-rest and multinomial Hessian
blocks (3 classes), the rows' outer products times the curvatures vs one rank-k product per
block (two where the curvatures change sign); (3)
whole derivtrain.Estimator(model="logistic") fits (standardize=False, and the default), with the
old gram and the old three-copy intake swapped back in, and as they are now: seconds a fit and
per Newton step (the fit over its iterations); (4) optim=newton on the same logistic fit, its
Hessian from autograd (one backward pass per parameter: what optim=newton did on every model)
vs the linear models' Newton step it now shares with the certified solver
(derivtrain/trainer/linear_newton.py: X^T D X in one product).

    OMP_NUM_THREADS=1 python scripts/bench_second_order.py --lbfgs   # the certified solver's steps

--lbfgs: whole certified fits (scripts/bench_field.py's rows and objectives) with Newton's steps and
with L-BFGS's (derivtrain/trainer/lbfgs_steps.py), CPU seconds (the machine may be shared) and
steps, on digits (binary, 10 classes) and 100k x 50 (binary, 3 classes) at optim.tol 1e-3 and
1e-6, and which the rule (lbfgs_steps.choose) takes: the measurements the rule is set from.
"""
import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import derivtrain  # noqa: E402
from derivtrain.data import rank_k, sparse  # noqa: E402
from derivtrain.estimator import arrays  # noqa: E402
from derivtrain.trainer import linear_newton  # noqa: E402
from derivtrain.trainer.linear_system import LinearSystem  # noqa: E402


def old_gram(X, weights):
    """data/sparse.py:gram before this change: X^T (X * w), chunks of 8M numbers."""
    if sparse.is_sparse(X):
        return sparse.scale_rows(X, weights)  # not timed here
    rows = max(1, (1 << 23) // X.shape[1])
    out = X.new_zeros(X.shape[1], X.shape[1])
    for a in range(0, X.shape[0], rows):
        part = X[a:a + rows]
        out += part.T @ (part * weights[a:a + rows].reshape(-1, 1))
    return out


def old_blocks(X, D, K, p):
    """train/linear_system.py:_dense_blocks before this change: every row's outer product (its upper
    triangle, in chunks of 8M numbers) times the curvatures of every block at once."""
    upper = torch.triu_indices(p, p)
    pairs = None if D.dim() == 2 else torch.triu_indices(K, K)
    weights = D if pairs is None else D[:, pairs[0], pairs[1]]
    total = X.new_zeros(upper.shape[1], weights.shape[1])
    chunk = max(1, (1 << 23) // upper.shape[1])
    for start in range(0, len(X), chunk):
        columns = X[start:start + chunk].T.contiguous()
        products = torch.cat([columns[j:j + 1] * columns[j:] for j in range(p)])
        total += products @ weights[start:start + chunk]
    each = X.new_zeros(weights.shape[1], p, p)
    each[:, upper[0], upper[1]] = total.T
    each[:, upper[1], upper[0]] = total.T
    blocks = X.new_zeros(K, K, p, p)
    rows, cols = (range(K), range(K)) if pairs is None else (pairs[0], pairs[1])
    blocks[rows, cols] = each
    blocks[cols, rows] = each
    return blocks


def new_blocks(X, D, K):
    """train/linear_system.py:_blocks now: one rank-k product per block k <= l."""
    system = LinearSystem(X, K, max_dense=10 ** 9)
    return system._blocks(D, torch.zeros(K, X.shape[1] - 1, dtype=X.dtype))


def old_features(X, mean_t, scale_t, standardize, device):
    """estimator/arrays.py before this change: a copy, then two more (subtract, divide)."""
    return (torch.tensor(X, dtype=torch.float64, device=device) - mean_t) / scale_t


def median(fn, repeats, clock=time.perf_counter):
    fn()
    times = []
    for _ in range(repeats):
        start = clock()
        fn()
        times.append(clock() - start)
    return statistics.median(times)


def kernels(n, d, repeats):
    X = torch.cat([torch.randn(n, d, dtype=torch.float64), torch.ones(n, 1, dtype=torch.float64)], 1)
    w = torch.rand(n, dtype=torch.float64) / 4
    before, after = median(lambda: old_gram(X, w), repeats), median(lambda: rank_k.weighted_gram(X, w), repeats)
    print(f"| X^T D X, {n} x {d + 1} | {before * 1e3:.1f} ms | {after * 1e3:.1f} ms | {before / after:.2f}x |")
    P = torch.softmax(torch.randn(n, 3, dtype=torch.float64), dim=1)
    for name, D in (("one-vs-rest", P * (1 - P)), ("multinomial", torch.diag_embed(P) - P[:, :, None] * P[:, None])):
        before = median(lambda: old_blocks(X, D, 3, d + 1), repeats)
        after = median(lambda: new_blocks(X, D, 3), repeats)
        print(f"| {name} Hessian blocks, 3 classes | {before * 1e3:.1f} ms | {after * 1e3:.1f} ms | {before / after:.2f}x |")


def table(n, d):
    """Correlated columns, a noisy linear class boundary."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, d))
    X[:, 1:] += 0.5 * X[:, :-1]
    return X, (X @ rng.standard_normal(d) + rng.standard_normal(n) > 0).astype(int)


def fits(n, d, repeats):
    X, y = table(n, d)
    new_gram, new_features = sparse.gram, arrays._features
    for standardize in (False, True):
        est = derivtrain.Estimator(model="logistic", standardize=standardize)
        seconds = {}
        for label, gram, features in (("before", old_gram, old_features), ("after", new_gram, new_features)):
            sparse.gram, arrays._features = gram, features
            seconds[label] = median(lambda: est.fit(X, y), repeats)
        sparse.gram, arrays._features = new_gram, new_features
        steps = est.n_iter_
        print(f"| Estimator fit, standardize={standardize} ({steps} Newton steps) | {seconds['before']:.3f} s "
              f"({seconds['before'] / steps * 1e3:.0f} ms a step) | {seconds['after']:.3f} s "
              f"({seconds['after'] / steps * 1e3:.0f} ms a step) | {seconds['before'] / seconds['after']:.2f}x |")


def newton_fits(n, d, repeats):
    """optim=newton with autograd's Hessian swapped back in for the linear step, then as it is."""
    X, y = table(n, d)
    est = derivtrain.Estimator(model="logistic", optim="newton", standardize=False)
    structured, seconds = linear_newton.structured, {}
    for label, rule in (("before", lambda problem, X: False), ("after", structured)):
        linear_newton.structured = rule
        seconds[label] = median(lambda: est.fit(X, y), repeats)
        steps = est.n_iter_
    linear_newton.structured = structured
    print(f"| optim=newton fit ({steps} Newton steps) | {seconds['before']:.3f} s | {seconds['after']:.3f} s "
          f"| {seconds['before'] / seconds['after']:.2f}x |")


def lbfgs_fits(repeats):
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_field import STRENGTH, correlated, derivtrain_fit, digits, targets
    from derivtrain.trainer import certified

    rule, taken = certified.choose, []
    for name, rows in (("digits", digits), ("100k x 50", lambda: correlated(100_000, 50))):
        X, signal, rng = rows()
        for problem in ("logistic", "multinomial"):
            y, a = targets(problem, signal, rng), STRENGTH[problem]
            for tol in (1e-3, 1e-6):
                cells = {}
                for steps in ("newton", "lbfgs"):
                    certified.choose = lambda ctx, p, steps=steps: taken.append(steps) or steps
                    cells[steps] = median(lambda: derivtrain_fit(problem, X, y, a, tol), repeats, time.process_time)
                certified.choose = lambda ctx, p: taken.append(rule(ctx, p)) or taken[-1]
                derivtrain_fit(problem, X, y, a, tol)
                print(f"| {problem}, {name}, tol {tol:g} | {cells['newton']:.3f} s | {cells['lbfgs']:.3f} s "
                      f"| {cells['newton'] / cells['lbfgs']:.2f}x | {taken[-1]} |", flush=True)
    certified.choose = rule


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--features", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--lbfgs", action="store_true", help="the certified solver: Newton's steps vs L-BFGS's")
    args = parser.parse_args()
    if args.lbfgs:
        print(f"# torch {torch.__version__}, {torch.get_num_threads()} threads; CPU seconds, median of {args.repeats}")
        print("| certified fit | Newton | L-BFGS | ratio | rule |\n|---|---:|---:|---:|---|")
        return lbfgs_fits(args.repeats)
    print(f"# torch {torch.__version__}, {torch.get_num_threads()} threads; median of {args.repeats}")
    print("| what | before | after | ratio |")
    print("|---|---:|---:|---:|")
    kernels(args.rows, args.features, args.repeats)
    fits(args.rows, args.features, args.repeats)
    newton_fits(args.rows, args.features, args.repeats)


if __name__ == "__main__":
    main()
