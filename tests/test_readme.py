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


def test_the_quickstart_is_two_command_lines_in_a_virtualenv_and_ci_runs_them():
    """Two lines: a virtual environment, the installs and a first run; then the tests. .ci/run runs
    the same steps (its environment also sees the image's packages, its pip is quiet)."""
    section = (REPO / "README.md").read_text().split("## Quickstart\n", 1)[1].split("\n## ", 1)[0]
    first, second = re.search(r"```bash\n(.*?)```", section, flags=re.S).group(1).strip().splitlines()
    steps = [step.strip() for step in first.split("&&")]
    assert steps[:2] == ["python3 -m venv .venv", ". .venv/bin/activate"] and second == "python -m pytest -q"
    assert steps[-1] == "python -m derivtrain model=svm" and "--index-url <PyTorch's CPU index>" in section
    ci = [line.replace(" --system-site-packages", "").replace("pip install -q", "pip install")
          for line in (REPO / ".ci" / "run").read_text().splitlines() if not line.startswith("#")]
    assert [line for line in ci if line in steps[:-1] + [second]] == steps[:-1] + [second]


def run_whole_elsewhere(command: str) -> bool:
    """README's path command is run as written, uncapped, by tests/path/test_readme_path.py (every
    point certified, the path.csv its section describes): a second and third run here add nothing."""
    from tests.path.test_readme_path import section

    return command in section()


@pytest.mark.parametrize("command", [c for c in readme_commands() if not run_whole_elsewhere(c)])
def test_readme_command_runs(tmp_path, command):
    args = command.split()[3:]
    if "data.path=my_table.csv" in args:  # the README's CSV example: give it a table to read
        rng = np.random.default_rng(0)
        X = rng.normal(size=(120, 3))
        rows = ["a,b,c,label"] + [f"{x[0]},{x[1]},{x[2]},{'yes' if x[0] + x[1] > 0 else 'no'}" for x in X]
        (tmp_path / "my_table.csv").write_text("\n".join(rows) + "\n")
    if "data.path=X.npy" in args:  # the README's out-of-core example: arrays saved with np.save
        rng = np.random.default_rng(0)
        # more training rows than its trainer.batch_size=4096 (optim=auto's range test refuses fewer)
        X = rng.normal(size=(6000, 4))
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


def convex_commands():
    """README commands that optim=auto solves to a certificate (a convex model, full batch)."""
    from derivtrain.config.solver import check_solver
    from tests.conftest import compose_config

    commands = []
    for command in readme_commands():
        args = command.split()[3:]
        if run_whole_elsewhere(command) or {"-m", "--multirun"} & set(args) or any(a.startswith("data.path=") for a in args):
            continue  # sweeps (their own tests), files that exist only in the other test
        args = [a for a in args if not a.startswith("hydra.")]
        if check_solver(compose_config(*args)) in ("certified", "newton"):
            commands.append(args)
    return commands


def test_every_readme_example_of_a_convex_model_reaches_its_optimum(tmp_path):
    """Without the other tests' epoch cap: the certified gap is within 1e-3 (the default tol is 1e-4)."""
    import json

    commands = convex_commands()
    assert len(commands) >= 5
    for i, args in enumerate(commands):
        folder = tmp_path / str(i)
        assert run_main(*args, "logger=none", f"hydra.run.dir={folder}").returncode == 0
        metrics = json.loads((folder / "metrics.json").read_text())
        assert metrics["train/converged"] is True and metrics["train/optimality_gap"] <= 1e-3, args


def test_the_readme_recomputes_a_runs_objective_from_its_split(tmp_path, monkeypatch, capsys):
    """The README's snippet, run as written against a run in outputs/my_svm."""
    import json

    text = (REPO / "README.md").read_text()
    snippet = next(b for b in re.findall(r"```python\n(.*?)```", text, flags=re.S) if "split.npz" in b)
    monkeypatch.chdir(tmp_path)
    assert run_main("model=svm", "logger=none", "hydra.run.dir=outputs/my_svm", cwd=tmp_path).returncode == 0
    capsys.readouterr()
    exec(compile(snippet, "README.md", "exec"), {})
    printed = float(capsys.readouterr().out.split()[-1])
    metrics = json.loads((tmp_path / "outputs/my_svm/metrics.json").read_text())
    assert printed == pytest.approx(metrics["train/objective"], rel=1e-5)
