"""Where optim=auto's minibatches start paying, and which size (derivtrain/trainer/auto_batch.py).

    OMP_NUM_THREADS=1 python scripts/bench_auto_batch.py
    OMP_NUM_THREADS=1 python scripts/bench_auto_batch.py --rows 3000 100000 --batches full 1024

The default MLP (`model=mlp data=synthetic`, 70 % of the rows train) at each table size, full batch
and each minibatch size side by side in one process: epochs until it stopped, the test accuracy,
and the run's wall and CPU seconds (the whole run: data, range test, training, validation; after
one untimed warm-up run). A full-batch run is forced with trainer.batch_size = the training rows;
a size larger than the training rows is skipped. CPU time is the steadier number on a shared
machine; run on one thread so that it is the work done.
"""
import argparse
import tempfile
import time
from pathlib import Path

import derivtrain


def run(folder: Path, rows: int, batch) -> tuple:
    start, cpu = time.perf_counter(), time.process_time()
    batch_key = [] if batch is None else [f"trainer.batch_size={batch}"]
    result = derivtrain.train("model=mlp", "data=synthetic", f"data.n_samples={rows}", *batch_key, "logger=none",
                              "trainer.progress_bar=false", run_dir=folder)
    return result.metrics, time.perf_counter() - start, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, nargs="+", default=[3000, 4000, 6000, 100_000])
    parser.add_argument("--batches", nargs="+", default=["full", "512", "1024", "2048"])
    args = parser.parse_args()
    print(f"{'rows':>8}{'train':>8}{'batch':>8}{'epochs':>8}{'accuracy':>10}{'wall s':>8}{'cpu s':>8}")
    with tempfile.TemporaryDirectory() as tmp:
        run(Path(tmp) / "warm-up", 500, None)
        for rows in args.rows:
            train_rows = _train_rows(rows)
            for batch in args.batches:
                size = train_rows if batch == "full" else int(batch)
                if size > train_rows:
                    continue
                metrics, wall, cpu = run(Path(tmp) / f"{rows}-{batch}", rows, size)
                print(f"{rows:>8}{train_rows:>8}{batch:>8}{metrics['train/epochs']:>8}"
                      f"{metrics['test/accuracy']:>10.4f}{wall:>8.2f}{cpu:>8.2f}", flush=True)


def _train_rows(rows: int) -> int:
    """The training rows of data=synthetic's split (test 20 %, validation 10 %), as the run builds it."""
    from tests.conftest import compose_config

    import torch

    from derivtrain.data import build_data

    cfg = compose_config("data=synthetic", f"data.n_samples={rows}")
    return build_data(cfg.data, torch.device("cpu"), seed=cfg.trainer.seed).train.total_rows


if __name__ == "__main__":
    main()
