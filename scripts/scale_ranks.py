"""Peak memory per rank under trainer=ddp against one process: each rank reads and holds only its rows.

    python scripts/bench_scale.py --ranks [--n 2000000] [--d 50] [--ranks-count 2]
    python scripts/bench_scale.py --ranks --sparse [--n 200000] [--d 100000]   (an svmlight file)

A .npy of n x d float32 features (and its targets) is trained on for one epoch of minibatch hinge
(data.out_of_core=false: read into memory), once by one process and once by `--ranks-count`
torchrun ranks. Each process samples its own resident memory every 2 ms (anonymous memory: the
rows copied in; file pages: the mapping while it is read) and reports its peak. The data-related
peak is the peak on the n-row file minus the peak on a 20 000-row file (interpreter, torch, the
process group: the same in both). Target (issue 18): each rank's <= 0.6x of one process's.
"""
import os
import subprocess
import sys
from pathlib import Path
from tempfile import TemporaryDirectory

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.peak_memory import SAMPLED_RUN, peaks as sampled_peaks  # noqa: E402

SMALL = 20_000


def write_npy(folder: Path, n: int, d: int, name: str) -> list:
    """X (n x d float32, written a block at a time) and y from a planted linear rule."""
    rng = np.random.default_rng(0)
    w = rng.normal(size=d)
    X = np.lib.format.open_memmap(folder / f"X_{name}.npy", mode="w+", dtype=np.float32, shape=(n, d))
    y = np.empty(n, dtype=np.int64)
    for a in range(0, n, 100_000):
        block = rng.normal(size=(min(100_000, n - a), d)).astype(np.float32)
        X[a:a + len(block)] = block
        y[a:a + len(block)] = block @ w + 0.1 * rng.normal(size=len(block)) > 0
    X.flush()
    del X
    np.save(folder / f"y_{name}.npy", y)
    return ["data=npy", f"data.path={folder / f'X_{name}.npy'}", f"data.target={folder / f'y_{name}.npy'}",
            "data.out_of_core=false"]


def write_svmlight(folder: Path, n: int, d: int, name: str, nnz: int = 50) -> list:
    """scripts/scale_sparse.py's text-like rows as one libsvm file (each rank parses its byte share)."""
    from sklearn.datasets import dump_svmlight_file

    from scripts.scale_sparse import make_sparse

    X, y = make_sparse(n, d, nnz)
    dump_svmlight_file(X, y, str(folder / f"{name}.svm"), zero_based=False)
    return ["data=svmlight", f"data.path={folder / f'{name}.svm'}", f"data.n_features={d}", "data.standardize=false"]


def peaks(data_args: list, ranks: int, run_dir: Path) -> dict:
    """{rank: peak resident bytes} of one training run."""
    args = [*data_args, "model=svm", "optim=sgd", "trainer.batch_size=4096",
            "trainer.max_epochs=1", "trainer.val_every_n_epochs=0", "logger=none", f"hydra.run.dir={run_dir}"]
    repo = Path(__file__).resolve().parents[1]
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(repo), os.environ.get("PYTHONPATH", "")])}
    launcher = ([sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={ranks}"]
                if ranks > 1 else [sys.executable])
    child = Path(run_dir).with_suffix(".py")
    child.write_text(SAMPLED_RUN)
    extra = ["trainer=ddp"] if ranks > 1 else []
    proc = subprocess.run([*launcher, str(child), *args, *extra], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-3000:])
    return {rank: anon + mapped for rank, (anon, mapped) in sampled_peaks(proc.stdout).items()}


def main(n: int, d: int, ranks: int, sparse: bool = False) -> None:
    """Dense: a .npy of n x d float32. Sparse (--sparse): an svmlight file of n rows, d columns, 50
    nonzeros a row (its n and d default to 200k x 100k: 150 MB of text, ~2x the rows' CSR size)."""
    write = write_svmlight if sparse else write_npy
    with TemporaryDirectory() as tmp:
        folder = Path(tmp)
        big, small = write(folder, n, d, "big"), write(folder, SMALL, d, "small")
        related = {}
        for world in (1, ranks):
            top = peaks(big, world, folder / f"big_{world}")
            base = peaks(small, world, folder / f"small_{world}")
            related[world] = {r: (top[r] - base[r]) / 2**20 for r in top}
    one = related[1][0]
    what = (f"{n} x {d} sparse, 50 nonzeros a row, an svmlight file" if sparse
            else f"{n} x {d} float32 ({n * d * 4 / 2**20:.0f} MB), data.out_of_core=false")
    print(f"{what}, one epoch of minibatch hinge\n")
    print("| process | data-related peak RSS (MB) | vs one process |\n| --- | --- | --- |")
    print(f"| one process | {one:.0f} | 1.00x |")
    for rank, value in sorted(related[ranks].items()):
        print(f"| rank {rank} of {ranks} | {value:.0f} | {value / one:.2f}x |")
