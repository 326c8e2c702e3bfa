"""Wall time of the whole default run vs the floor every torch.optim program pays.

    python scripts/bench_startup.py [--repeats 5] [-- extra overrides]

The floor is `python -c "import torch; torch.optim.SGD(...)"` (importing torch and building an
optimizer, which imports torch._dynamo: 1.1-1.5 s here, which derivtrain's optimizers skip,
derivtrain/trainer/eager_optimizers.py); `import torch` alone is timed beside it. The run is
`python -m derivtrain model=svm` with its defaults (TensorBoard on), or the overrides given (a
gradient run: `-- model=mlp data=breast_cancer`), into a fresh folder each time. Runs alternate,
so all see the same machine; prints the medians and the ratios to the floor (target <= 1.5x).
"""
import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scripts.timing import wall  # noqa: E402

FLOOR = [sys.executable, "-c", "import torch; torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)"]
TORCH = [sys.executable, "-c", "import torch"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("overrides", nargs="*", default=["model=svm"])
    args = parser.parse_args()
    floor, torch_alone, runs = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeats):
            floor.append(wall(FLOOR))
            torch_alone.append(wall(TORCH))
            runs.append(wall([sys.executable, "-m", "derivtrain", *args.overrides,
                              f"hydra.run.dir={Path(tmp) / str(i)}"]))
    f, t, r = statistics.median(floor), statistics.median(torch_alone), statistics.median(runs)
    print("| command | median wall (s) | ratio |\n| --- | --- | --- |")
    print(f"| torch import + SGD (floor) | {f:.2f} | 1.00x |")
    print(f"| torch import alone | {t:.2f} | {t / f:.2f}x |")
    print(f"| python -m derivtrain {' '.join(args.overrides)} | {r:.2f} | {r / f:.2f}x |")


if __name__ == "__main__":
    main()
