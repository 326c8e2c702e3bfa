"""Throughput on large in-memory data: one epoch of minibatch (4096) hinge training on 1M x 100.

    python scripts/bench_scale.py [--repeats 3] [--n 1000000] [--d 100] [--device cuda]

Side by side in one process on the same float32 data: derivtrain's loop (shuffle=rows: a new
row permutation and a gather per batch; shuffle=batches: contiguous batches in a new order, no
gather), a hand-written PyTorch loop (gather per batch), a DataLoader(TensorDataset) loop (the
path PyTorch Lightning and skorch take; timed on a few batches), and scikit-learn's
SGDClassifier(loss="hinge") for one epoch; then derivtrain out of core (data=npy: the same rows
saved to a .npy, memory-mapped and read in chunks of 65536 rows; the file is in the page cache
after the first epoch, so this measures derivtrain's own cost of reading, not the disk).
Prints the median samples per second, the ratio to scikit-learn and out-of-core / in-memory.
With --memory, each method runs alone in a fresh process and its peak RSS while
training (data included, the interpreter and imports not) is printed against the data's size.
--device cuda puts the data and the torch loops on the GPU (scikit-learn stays on the CPU; the
out-of-core rows are read on the host and copied to the GPU a chunk at a time).

Two more cases, each in its own module:
    --sparse   sparse rows (scripts/scale_sparse.py: 1M x 100k, ~50 nonzeros a row, against
               scikit-learn's SGDClassifier and LinearSVC on the same CSR matrix)
    --ranks    peak memory per rank under trainer=ddp against one process
               (scripts/scale_ranks.py: a .npy of 2M x 50 float32, 2 ranks)
"""
import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path
from tempfile import TemporaryDirectory

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scripts.timing import hand_hinge_step, wait  # noqa: E402
from derivtrain.trainer.fitting import make_context  # noqa: E402

BATCH, LR, ALPHA = 4096, 0.1, 1e-5


def make_data(n, d):
    from derivtrain.data.synthetic import make_synthetic

    table = make_synthetic(n_samples=n, n_features=d, noise=0.05, seed=0)
    X = torch.from_numpy(table.X).float()
    X = (X - X.mean(0)) / X.std(0)
    return X.contiguous(), torch.from_numpy(table.y)


def save_npy(X, folder, device=None):
    """X as a .npy in folder, memory-mapped again as derivtrain's data=npy reads it."""
    import numpy as np

    path = Path(folder) / "X.npy"
    np.save(path, X.cpu().numpy())
    return open_npy(path, device or X.device)


def open_npy(path, device):
    from derivtrain.data.mapped import MappedNpy, MappedRows

    rows = MappedNpy(path)
    d = rows.shape[1]
    return MappedRows(rows, 0, len(rows), torch.zeros(d, device=device), torch.ones(d, device=device),
                      chunk_rows=65536)


def derivtrain_epoch(X, y, shuffle, *overrides):
    from derivtrain.data.table import Data, DataSpec, Split
    from derivtrain.logging import NullLogger
    from derivtrain.run import build_objective
    from derivtrain.trainer.loop import fit
    from tests.conftest import compose_config

    cfg = compose_config("model=svm", "optim=sgd", "logger=none", "trainer.val_every_n_epochs=0", "trainer.max_epochs=1",
                         f"trainer.batch_size={BATCH}", f"trainer.shuffle={shuffle}", "trainer.progress_bar=false",
                         "trainer.log_every_n_steps=1000000", f"regularizer.strength={ALPHA}", f"optim.lr={LR}",
                         f"trainer.device={X.device.type}", *overrides)
    d = X.shape[1]
    spec = DataSpec(task="classification", n_features=d, classes=[0, 1])
    split = Split(X=X, y=y)
    data = Data(spec=spec, train=split, val=None, test=Split(X=X[:1000], y=y[:1000]),  # X[:1000]: a tensor
                feature_mean=torch.zeros(d, device=X.device), feature_scale=torch.ones(d, device=X.device))
    objective = build_objective(cfg, data)
    with TemporaryDirectory() as tmp:
        wait(X.device)
        start = time.perf_counter()
        fit(make_context(cfg, objective, data, NullLogger(), Path(tmp) / "last.pt"))
        # fit ends with a train-set evaluation and a checkpoint: time them apart and take them off
        from derivtrain.trainer.metrics import evaluate

        t_eval = time.perf_counter()
        evaluate(objective, data.train, objective.loss.encode_targets(y, 1), "train", 2)
        extra = time.perf_counter() - t_eval
        elapsed = time.perf_counter() - start - 2 * extra
    return X.shape[0] / elapsed


def hand_epoch(X, y):
    signs = y.float() * 2 - 1
    model = torch.nn.Linear(X.shape[1], 1).to(X.device)
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=0.9, foreach=True)
    wait(X.device)
    start = time.perf_counter()
    for idx in torch.randperm(X.shape[0], device=X.device).split(BATCH):
        hand_hinge_step(model, opt, X[idx], signs[idx], ALPHA)
    wait(X.device)
    return X.shape[0] / (time.perf_counter() - start)


def dataloader_epoch(X, y, batches=20):
    from torch.utils.data import DataLoader, TensorDataset

    signs = y.float() * 2 - 1
    model = torch.nn.Linear(X.shape[1], 1).to(X.device)
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=0.9, foreach=True)
    loader = DataLoader(TensorDataset(X, signs), batch_size=BATCH, shuffle=True)
    wait(X.device)
    seen, start = 0, time.perf_counter()
    for i, (xb, yb) in enumerate(loader):
        hand_hinge_step(model, opt, xb, yb, ALPHA)
        seen += xb.shape[0]
        if i + 1 == batches:
            break
    wait(X.device)
    return seen / (time.perf_counter() - start)


def sklearn_epoch(X, y):
    from sklearn.linear_model import SGDClassifier

    Xn, yn = X.cpu().numpy(), y.cpu().numpy()
    clf = SGDClassifier(loss="hinge", alpha=ALPHA, max_iter=1, tol=None, random_state=0)
    start = time.perf_counter()
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # one epoch on purpose: no ConvergenceWarning
        clf.fit(Xn, yn)
    return X.shape[0] / (time.perf_counter() - start)


METHODS = {
    "derivtrain (shuffle=rows)": lambda X, y: derivtrain_epoch(X, y, "rows"),
    "derivtrain (shuffle=batches)": lambda X, y: derivtrain_epoch(X, y, "batches"),
    "hand-written PyTorch (gather per batch)": hand_epoch,
    "DataLoader(TensorDataset)": dataloader_epoch,
    "scikit-learn SGDClassifier(hinge)": sklearn_epoch,
}
# the same two derivtrain runs on the rows read from a memory-mapped .npy (X is a MappedRows)
OUT_OF_CORE = {
    "derivtrain out of core (data=npy, shuffle=rows)": lambda X, y: derivtrain_epoch(X, y, "rows"),
    "derivtrain out of core (data=npy, shuffle=batches)": lambda X, y: derivtrain_epoch(X, y, "batches"),
}


def _status_mb(field: str) -> float:
    with open("/proc/self/status") as f:
        line = next(line for line in f if line.startswith(field + ":"))
    return int(line.split()[1]) / 1024


def reset_peak_rss() -> None:
    """Linux: writing 5 to clear_refs resets the peak RSS (VmHWM) to the current RSS."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--d", type=int, default=100)
    parser.add_argument("--memory", action="store_true")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (not with --memory: host memory only)")
    parser.add_argument("--sparse", action="store_true", help="the sparse case (scripts/scale_sparse.py)")
    parser.add_argument("--nnz", type=int, default=50, help="--sparse: nonzeros a row")
    parser.add_argument("--with-certified", action="store_true", help="--sparse: the certified solver too (slow)")
    parser.add_argument("--lr", type=float, help="--sparse: derivtrain's Adam step (default 0.02, cosine decay)")
    parser.add_argument("--alpha", type=float, help="--sparse: the L2 strength (default 1e-5)")
    parser.add_argument("--ranks", action="store_true", help="peak memory per rank (scripts/scale_ranks.py)")
    parser.add_argument("--ranks-count", type=int, default=2)
    parser.add_argument("--only", help=argparse.SUPPRESS)
    parser.add_argument("--npy", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sparse or args.ranks:  # their own defaults: 1M x 100k sparse, 2M x 50 dense
        explicit = {a.split("=")[0] for a in sys.argv[1:]}
        if args.ranks:
            from scripts.scale_ranks import main as ranks_main

            default_n, default_d = (200_000, 100_000) if args.sparse else (2_000_000, 50)
            ranks_main(args.n if "--n" in explicit else default_n, args.d if "--d" in explicit else default_d,
                       args.ranks_count, sparse=args.sparse)
        else:
            from scripts.scale_sparse import main as sparse_main

            sparse_main(args.n, args.d if "--d" in explicit else 100_000, args.nnz, args.repeats, args.device,
                        with_certified=args.with_certified, lr=args.lr, alpha=args.alpha)
        return
    if args.only:  # child process of --memory: one method, then its peak RSS with the data
        import gc

        import numpy as np

        method = {**METHODS, **OUT_OF_CORE}[args.only]
        # imports and lazy initialisation (Hydra, torch._dynamo behind the optimizers: ~100 MB)
        # count as the baseline, not as the method's memory: run it once on a tiny in-memory set
        method(*make_data(2000, args.d))
        gc.collect()
        base = _status_mb("VmRSS")
        if args.npy:  # out of core: the rows were never in this process, only in the file
            X = open_npy(Path(args.npy) / "X.npy", torch.device("cpu"))
            y = torch.from_numpy(np.load(Path(args.npy) / "y.npy"))
        else:
            X, y = make_data(args.n, args.d)
        gc.collect()
        reset_peak_rss()  # the data's construction left its own peak: measure only from here
        method(X, y)
        print(f"{_status_mb('VmHWM') - base:.0f}")
        return
    data_mb = args.n * args.d * 4 / 2**20
    if args.memory:
        import numpy as np

        print(f"| method | peak memory with the data (MB) | vs the data set ({data_mb:.0f} MB) |\n| --- | --- | --- |")
        with TemporaryDirectory() as tmp:
            X, y = make_data(args.n, args.d)
            save_npy(X, tmp)
            np.save(Path(tmp) / "y.npy", y.numpy())
            del X, y
            for name in [*METHODS, *OUT_OF_CORE]:
                npy = ["--npy", tmp] if name in OUT_OF_CORE else []
                out = subprocess.run([sys.executable, __file__, "--only", name, "--n", str(args.n), "--d", str(args.d),
                                      *npy], capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
                print(f"| {name} | {out} | {float(out) / data_mb:.2f}x |", flush=True)
        return
    device = torch.device(args.device)
    X, y = (t.to(device) for t in make_data(args.n, args.d))
    where = f"{torch.cuda.get_device_name(device)}, " if device.type == "cuda" else ""
    print(f"{where}torch {torch.__version__}, {torch.get_num_threads()} threads, {args.n} x {args.d} float32, "
          f"batch {BATCH}, median of {args.repeats}\n")
    methods = dict(METHODS)
    if device.type == "cuda":  # the whole step replayed from a CUDA graph (trainer.cuda_graph)
        for shuffle in ("rows", "batches"):
            methods[f"derivtrain (shuffle={shuffle}, cuda_graph)"] = (
                lambda X, y, shuffle=shuffle: derivtrain_epoch(X, y, shuffle, "trainer.cuda_graph=true"))
    derivtrain_epoch(X[:2 * BATCH], y[:2 * BATCH], "rows")  # lazy imports (torch._dynamo) outside any timing
    results = {name: statistics.median(fn(X, y) for _ in range(args.repeats)) for name, fn in methods.items()}
    with TemporaryDirectory() as tmp:
        mapped = save_npy(X, tmp)
        results.update({name: statistics.median(fn(mapped, y) for _ in range(args.repeats))
                        for name, fn in OUT_OF_CORE.items()})
    reference = results["scikit-learn SGDClassifier(hinge)"]
    print("| method | samples / s | vs scikit-learn |\n| --- | --- | --- |")
    for name, rate in results.items():
        print(f"| {name} | {rate / 1e6:.2f} M | {rate / reference:.2f}x |")
    for shuffle in ("rows", "batches"):
        in_memory = results[f"derivtrain (shuffle={shuffle})"]
        ratio = results[f"derivtrain out of core (data=npy, shuffle={shuffle})"] / in_memory
        print(f"\nout of core / in memory, shuffle={shuffle}: {ratio:.2f}x", end="")
    print()


if __name__ == "__main__":
    main()
