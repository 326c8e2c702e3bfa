"""The foundation's accuracy targets, as a user would check them: CLI runs over three seeds.

    python scripts/acceptance.py

Each row runs `python -m derivtrain <overrides> trainer.seed=S` for S = 0, 1, 2 with the defaults
and reports the median of the test metric against its target, then checks that
load_run(...).predict on the raw breast-cancer features reaches 0.95 accuracy.
"""
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGETS = [
    (["model=svm"], "test/accuracy", 0.95),
    (["model=logistic"], "test/accuracy", 0.95),
    (["model=linear", "data=diabetes"], "test/r2", 0.40),
    (["model=mlp", "data=digits"], "test/accuracy", 0.95),
]


def main():
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        print("| overrides | metric | seeds 0, 1, 2 | median | target | wall s (median) |")
        print("| --- | --- | --- | --- | --- | --- |")
        for overrides, metric, target in TARGETS:
            values, walls = [], []
            for seed in (0, 1, 2):
                folder = Path(tmp) / f"{'_'.join(overrides).replace('=', '-')}_{seed}"
                start = time.perf_counter()
                subprocess.run([sys.executable, "-m", "derivtrain", *overrides, f"trainer.seed={seed}",
                                f"hydra.run.dir={folder}"], check=True, capture_output=True)
                walls.append(time.perf_counter() - start)
                values.append(json.loads((folder / "metrics.json").read_text())[metric])
            med = statistics.median(values)
            failures += med < target
            print(f"| {' '.join(overrides)} | {metric} | {', '.join(f'{v:.4f}' for v in values)} | {med:.4f} "
                  f"| >= {target} {'ok' if med >= target else 'FAIL'} | {statistics.median(walls):.2f} |")
        import derivtrain
        from sklearn.datasets import load_breast_cancer

        X, y = load_breast_cancer(return_X_y=True)
        acc = float((derivtrain.load_run(Path(tmp) / "model-svm_0").predict(X) == y).mean())
        failures += acc < 0.95
        print(f"\nload_run(model=svm seed 0).predict(raw breast_cancer): accuracy {acc:.4f} (target >= 0.95)")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
