"""Start-up cost of installed plugins: launch to the end of a one-epoch run, with vs without.

    python scripts/bench_plugin_startup.py [--repeats 7]

Installs the example plugins in plugins/ into a temporary folder put on PYTHONPATH ("with"),
and compares with DERIVTRAIN_DISABLE_PLUGINS=1, which skips discovery ("without"). Runs
alternate so both see the same machine. Prints medians and the ratio (target <= 1.05x).
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RUN = [sys.executable, "-m", "derivtrain", "model=svm", "trainer.max_epochs=1", "logger=none"]


def wall(env, folder) -> float:
    start = time.perf_counter()
    subprocess.run([*RUN, f"hydra.run.dir={folder}"], check=True, env=env, capture_output=True)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp) / "site"
        for plugin in sorted((REPO / "plugins").iterdir()):
            subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                            "--target", str(site), str(plugin)], check=True, capture_output=True)
        with_env = {**os.environ, "PYTHONPATH": str(site)}
        without_env = {**os.environ, "DERIVTRAIN_DISABLE_PLUGINS": "1"}
        listed = subprocess.run([sys.executable, "-m", "derivtrain.plugins"], env=with_env,
                                capture_output=True, text=True).stdout
        with_t, without_t = [], []
        for i in range(args.repeats):
            without_t.append(wall(without_env, Path(tmp) / f"without{i}"))
            with_t.append(wall(with_env, Path(tmp) / f"with{i}"))
    w, wo = statistics.median(with_t), statistics.median(without_t)
    print("plugins seen:\n" + "\n".join("    " + line for line in listed.splitlines()))
    print("| start-up (one-epoch run) | median wall (s) | ratio |\n| --- | --- | --- |")
    print(f"| without plugins | {wo:.2f} | 1.00x |")
    print(f"| with the example plugins | {w:.2f} | {w / wo:.3f}x |")


if __name__ == "__main__":
    main()
