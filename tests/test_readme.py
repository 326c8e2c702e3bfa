"""Every `python -m derivtrain ...` command in README.md runs (on tiny settings, in this process),
so the docs cannot drift."""
import re

import numpy as np
import pytest

from tests.conftest import REPO, run_main

FAST = ["trainer.max_epochs=2", "logger=none"]


def readme_commands():
    text = (REPO / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", text, flags=re.S)
    commands = []
    for block in blocks:
        for line in block.splitlines():
            for part in line.split("&&"):
                part = part.strip()
                if part.startswith("python -m derivtrain") and not part.startswith("python -m derivtrain."):
                    commands.append(part)
    return commands


def test_readme_has_commands():
    assert len(readme_commands()) >= 5


@pytest.mark.parametrize("command", readme_commands())
def test_readme_command_runs(tmp_path, command):
    args = command.split()[3:]
    if "data.path=my_table.csv" in args:  # the README's CSV example: give it a table to read
        rng = np.random.default_rng(0)
        X = rng.normal(size=(120, 3))
        rows = ["a,b,c,label"] + [f"{x[0]},{x[1]},{x[2]},{'yes' if x[0] + x[1] > 0 else 'no'}" for x in X]
        (tmp_path / "my_table.csv").write_text("\n".join(rows) + "\n")
    if "data.path=X.npy" in args:  # the README's out-of-core example: arrays saved with np.save
        rng = np.random.default_rng(0)
        X = rng.normal(size=(500, 4))
        np.save(tmp_path / "X.npy", X)
        np.save(tmp_path / "y.npy", (X[:, 0] > 0).astype(np.int64))
    if "data.path=train.svm" in args:  # the README's sparse example: a libsvm file
        from sklearn.datasets import dump_svmlight_file, load_digits

        X, y = load_digits(return_X_y=True)
        dump_svmlight_file(X, y, str(tmp_path / "train.svm"))
    args = [a for a in args if not a.startswith("hydra.run.dir=")]
    proc = run_main(*args, *FAST, f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "run" / "metrics.json").is_file()
