"""Per-step cost of derivtrain's training loop as the CLI runs it vs a hand-written PyTorch loop.

    python scripts/bench_overhead.py [--repeats 7] [--case NAME] [--epochs N]

Configurations of derivtrain, each on the same data as the hand loop (linear SVM: hinge + L2, SGD
with momentum, optim=sgd):
- default: what `python -m derivtrain model=svm optim=sgd trainer.batch_size=null` runs: the
  TensorBoard logger (a point every trainer.log_every_n_steps, histograms every
  logger.histogram_every_n_epochs), validation (trainer.val_every_n_epochs=1, thinned to at most
  30 a run: nothing reads it), the progress report (a tqdm bar on a
  terminal, a log line every ~10% of the epochs elsewhere: run it as you run training);
- logger off: the same with logger=none (validation and progress still on);
- bare: logger=none, no validation, no logging interval, no progress (the loop alone).
derivtrain's time per step is marginal: fit() (plus closing the logger, which flushes its event
file) for 2E epochs minus for E epochs, over the extra steps, so set-up, the final evaluation and
the checkpoint write drop out. The hand loop and DataLoader(TensorDataset) (the path PyTorch
Lightning and skorch take for in-memory data) run in the same process, in the same repeat.
Prints a markdown table: median ms per step over the repeats and the ratio to the hand loop.
"""
import argparse
import statistics
import sys
import time
from pathlib import Path
from tempfile import TemporaryDirectory

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from derivtrain.data import build_data  # noqa: E402
from derivtrain.logging import make_logger  # noqa: E402
from derivtrain.run import build_objective, seed_everything  # noqa: E402
from derivtrain.trainer.loop import fit  # noqa: E402
from scripts.timing import hand_hinge_step  # noqa: E402
from tests.conftest import compose_config  # noqa: E402
from derivtrain.trainer.fitting import make_context  # noqa: E402

ALPHA, LR, MOMENTUM = 1e-3, 0.1, 0.9
CONFIGS = {  # overrides on top of the CLI's defaults
    "derivtrain, default (logger, validation, progress)": [],
    "derivtrain, logger=none": ["logger=none"],
    "derivtrain, bare (no logger, validation, progress)": [
        "logger=none", "trainer.val_every_n_epochs=0", "trainer.log_every_n_steps=1000000",
        "trainer.progress_bar=false"],
}


def derivtrain_step_ms(data, overrides, epochs):
    """Marginal ms per step of fit() + logger.close() between `epochs` and 2 * `epochs` epochs."""
    cfg = compose_config("model=svm", "optim=sgd", f"regularizer.strength={ALPHA}", f"optim.lr={LR}", *overrides)
    times = {}
    for e in (epochs, 2 * epochs):
        cfg.trainer.max_epochs = e
        seed_everything(0)
        objective = build_objective(cfg, data)
        with TemporaryDirectory() as tmp:
            start = time.perf_counter()
            logger = make_logger(cfg.logger, tmp)
            logger.log_run_start(cfg, data.spec.task)
            result = fit(make_context(cfg, objective, data, logger, Path(tmp) / "last.pt"))
            logger.close()
            times[e] = (time.perf_counter() - start, result.steps)
    (t1, s1), (t2, s2) = times[epochs], times[2 * epochs]
    return 1000 * (t2 - t1) / (s2 - s1)


def hand_loop_step_ms(X, signs, batch_size, steps):
    """What a PyTorch user writes by hand: composed ops, autograd does the derivatives."""
    model = torch.nn.Linear(X.shape[1], 1)
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM, foreach=True)
    n = X.shape[0]
    g = torch.Generator().manual_seed(0)
    done, start = 0, time.perf_counter()
    while done < steps:
        order = torch.randperm(n, generator=g) if batch_size < n else None
        for i in range(0, n, batch_size):
            if order is None:
                xb, yb = X, signs
            else:
                idx = order[i:i + batch_size]
                xb, yb = X[idx], signs[idx]
            hand_hinge_step(model, opt, xb, yb, ALPHA)
            done += 1
            if done == steps:
                break
    return 1000 * (time.perf_counter() - start) / steps


def dataloader_step_ms(X, signs, batch_size, steps):
    """The same loop fed by DataLoader(TensorDataset): per-sample indexing and collation."""
    from torch.utils.data import DataLoader, TensorDataset

    model = torch.nn.Linear(X.shape[1], 1)
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM, foreach=True)
    loader = DataLoader(TensorDataset(X, signs), batch_size=batch_size, shuffle=True)
    done, start = 0, time.perf_counter()
    while done < steps:
        for xb, yb in loader:
            hand_hinge_step(model, opt, xb, yb, ALPHA)
            done += 1
            if done == steps:
                break
    return 1000 * (time.perf_counter() - start) / steps


CASES = {
    "full batch, breast_cancer (398 x 30)": dict(overrides=["data=breast_cancer", "trainer.batch_size=null"],
                                                 epochs=1000, batch_size=None, hand_steps=1000, loader_steps=20),
    "minibatch 4096, synthetic 1M x 100": dict(overrides=["data=synthetic", "data.n_samples=1000000",
                                                          "data.n_features=100", "data.test_size=0.1",
                                                          "data.val_size=0.01", "trainer.batch_size=4096"],
                                               epochs=1, batch_size=4096, hand_steps=220, loader_steps=10),
}


def measure_case(case, repeats, epochs):
    """{loop: [ms per step, one per repeat]}; every loop runs once in each repeat, in turn."""
    cfg = compose_config("model=svm", *case["overrides"])
    seed_everything(0)
    data = build_data(cfg.data, torch.device("cpu"), seed=0)
    X, signs = data.train.X, data.train.y.float() * 2 - 1
    bs = case["batch_size"] or X.shape[0]
    hand_steps = case["hand_steps"] if epochs is None else max(epochs * -(-X.shape[0] // bs), 10)
    rows = {name: [] for name in [*CONFIGS, "hand-written PyTorch", "DataLoader(TensorDataset)"]}
    for overrides in CONFIGS.values():  # warm-up: imports (TensorBoard, tqdm), first-call allocations
        derivtrain_step_ms(data, [*case["overrides"], *overrides], 1)
    hand_loop_step_ms(X, signs, bs, 10)
    for _ in range(repeats):
        for name, overrides in CONFIGS.items():
            rows[name].append(derivtrain_step_ms(data, [*case["overrides"], *overrides], epochs or case["epochs"]))
        rows["hand-written PyTorch"].append(hand_loop_step_ms(X, signs, bs, hand_steps))
        rows["DataLoader(TensorDataset)"].append(dataloader_step_ms(X, signs, bs, case["loader_steps"]))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--case", choices=list(CASES), action="append")
    parser.add_argument("--epochs", type=int, help="E (derivtrain runs E and 2E epochs); default per case")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, median of {args.repeats} repeats\n")
    print("| case | loop | ms / step | vs hand loop |\n| --- | --- | --- | --- |")
    for name in args.case or CASES:
        rows = measure_case(CASES[name], args.repeats, args.epochs)
        hand = statistics.median(rows["hand-written PyTorch"])
        for loop, values in rows.items():
            med = statistics.median(values)
            print(f"| {name} | {loop} | {med:.3f} | {med / hand:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
