"""README's "Choosing the regularization strength" runs as written: its Python block, and its command
without the other README tests' epoch cap (every point certified, the path.csv it describes)."""
import json
import re

from tests.conftest import REPO, run_main

HEADING = "### Choosing the regularization strength"


def section() -> str:
    return (REPO / "README.md").read_text().split(HEADING, 1)[1].split("\n### ", 1)[0]


def test_the_python_example_runs_as_written(capsys):
    (code,) = re.findall(r"```python\n(.*?)```", section(), flags=re.S)
    namespace = {}
    exec(compile(code, "README.md", "exec"), namespace)
    chosen = namespace["chosen"]
    out = capsys.readouterr().out
    assert out.startswith("C = ") and "(5, 20)" in out
    assert chosen.C_ in chosen.Cs_ and chosen.coefs_path_.shape[1:] == (1, 30)


def test_the_command_runs_as_written_and_writes_what_the_text_says(tmp_path):
    (command,) = re.findall(r"```bash\n(python -m derivtrain .*?)\n```", section())
    run_dir = tmp_path / "run"
    proc = run_main(*command.split()[3:], "logger=none", f"hydra.run.dir={run_dir}")
    assert proc.returncode == 0, proc.stderr
    header = (run_dir / "path.csv").read_text().splitlines()[0].split(",")
    assert header[:9] == ["strength", "objective", "optimality_gap", "converged", "iterations", "cv_accuracy",
                          "cv_accuracy_se", "non_zeros", "mean radius"] and header[-1] == "bias"
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["path/points"] == 30 and metrics["path/not_converged"] == 0
    assert {"path/strength", "path/score", "test/accuracy"} <= set(metrics)
