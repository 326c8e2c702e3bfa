"""Default MLP runs, and how they stop, against scikit-learn's MLP on the same rows.

    python scripts/bench_mlp_defaults.py             # diabetes, digits, breast_cancer, synthetic 100k rows
    python scripts/bench_mlp_defaults.py --rows 20000
    python scripts/bench_mlp_defaults.py --only synthetic   # the large table alone

For each data set, in one process, side by side:
  derivtrain  `model=mlp data=X` with no other flag: full batch up to 4096 training rows, minibatches
              of 1024 above (derivtrain/trainer/auto_batch.py), a learning rate found by the range test
              on those batches, early stopping on val/loss with the best weights restored (minibatch
              epochs: a gain must beat 1e-4 of the best, patience 10), stationarity on full batches,
              a cap of 1000 epochs
  lr=0.01     the same with optim.lr=0.01, the rate optim=auto used to guess
  sklearn     MLPRegressor / MLPClassifier(hidden_layer_sizes=(64,)) with its defaults (Adam, lr 1e-3,
              minibatches of 200, max_iter 200), alpha = derivtrain's L2 strength x n_train (scikit-learn
              divides its penalty by the rows), on the run's own train rows (split.npz), standardized
              with the training rows' statistics as derivtrain does
Printed: the test metric, epochs, the validation metric at the end vs the best one any validation
saw (from the run's TensorBoard curve: within a few percent means the stop came at a good point),
steps per epoch (1: full batch), the test metric minus scikit-learn's, wall time (derivtrain's: the
whole run, composition, TensorBoard and run folder included, after one untimed warm-up run;
scikit-learn's: fit alone), and the time ratio derivtrain / scikit-learn; the same in CPU time of this process (steadier than wall time on a machine other jobs share; run with
OMP_NUM_THREADS=1 so that both sides compute on one thread).
"""
import argparse
import tempfile
import time
import warnings
from pathlib import Path

import derivtrain

DATASETS = {"diabetes": [], "digits": [], "breast_cancer": []}


def best_and_last(run_dir: Path, tag: str):
    """The best and the last value of a validation curve (the last before any restore of the best)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
    events.Reload()
    name = next(t for t in events.Tags()["scalars"] if t == tag or t.endswith("/" + tag))  # dashboard prefixes
    values = [e.value for e in events.Scalars(name)]
    better = max if tag != "val/loss" else min
    return better(values), values[-1]


def run_derivtrain(folder: Path, name: str, overrides: list):
    start, cpu = time.perf_counter(), time.process_time()
    run = derivtrain.train("model=mlp", *overrides, "trainer.progress_bar=false", run_dir=folder / name)
    return run, time.perf_counter() - start, time.process_time() - cpu


def run_sklearn(cfg_overrides: list, task: str):
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    import torch

    from derivtrain.data import build_data
    from tests.conftest import compose_config  # the same config the run composed, for the same rows

    cfg = compose_config(*cfg_overrides)
    data = build_data(cfg.data, torch.device("cpu"), seed=cfg.trainer.seed)
    X_train, y_train = data.train.X.numpy(), data.train.y.cpu().numpy()
    X_test, y_test = data.test.X.numpy(), data.test.y.cpu().numpy()
    alpha = 0.001 * len(X_train)
    model = (MLPRegressor if task == "regression" else MLPClassifier)(hidden_layer_sizes=(64,), alpha=alpha,
                                                                         random_state=0)
    start, cpu = time.perf_counter(), time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning at max_iter: its epochs are printed instead
        model.fit(X_train, y_train)
    return model.score(X_test, y_test), model.n_iter_, time.perf_counter() - start, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000, help="rows of the synthetic table")
    parser.add_argument("--only", action="append", help="these data sets only (diabetes, ..., synthetic)")
    args = parser.parse_args()
    sets = dict(DATASETS, **{f"synthetic{args.rows // 1000}k": ["data.n_samples=" + str(args.rows)]})
    sets = {name: extra for name, extra in sets.items() if not args.only or any(name.startswith(o) for o in args.only)}
    print(f"{'data':<16}{'run':<12}{'test':>8}{'-sk':>8}{'epochs':>8}{'steps/ep':>9}{'val end':>9}{'val best':>9}"
          f"{'s':>8}{'/sk':>7}{'cpu s':>8}{'/sk':>7}")
    with tempfile.TemporaryDirectory() as tmp:
        # a first run imports what every run needs (Hydra, TensorBoard's writer): not timed below
        run_derivtrain(Path(tmp), "warm-up", ["data=iris", "trainer.max_epochs=2"])
        for name, extra in sets.items():
            data = "synthetic" if name.startswith("synthetic") else name
            base = [f"data={data}", *extra]
            task = "regression" if data == "diabetes" else "classification"
            metric = "r2" if task == "regression" else "accuracy"
            score, iters, sk_seconds, sk_cpu = run_sklearn(base, task)
            for label, more in (("derivtrain", []), ("lr=0.01", ["optim.lr=0.01"])):
                run, seconds, cpu = run_derivtrain(Path(tmp), f"{name}-{label.replace('=', '')}", base + more)
                best, _ = best_and_last(run.path, f"val/{metric}")
                last = run.metrics[f"val/{metric}"]  # the weights the run ended on (the best, if restored)
                epochs, test = run.metrics["train/epochs"], run.metrics[f"test/{metric}"]
                capped = " (cap)" if epochs >= 1000 else ""
                print(f"{name:<16}{label:<12}{test:>8.4f}{test - score:>+8.4f}{str(epochs) + capped:>8}"
                      f"{run.metrics['train/steps'] // epochs:>9}{last:>9.4f}{best:>9.4f}{seconds:>8.2f}"
                      f"{seconds / sk_seconds:>7.2f}{cpu:>8.2f}{cpu / sk_cpu:>7.2f}")
            print(f"{name:<16}{'sklearn':<12}{score:>8.4f}{'':>8}{iters:>8}{'':>9}{'':>9}{'':>9}{sk_seconds:>8.2f}"
                  f"{1:>7.2f}{sk_cpu:>8.2f}{1:>7.2f}")


if __name__ == "__main__":
    main()
