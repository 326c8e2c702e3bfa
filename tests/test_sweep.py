"""Multiruns through Hydra's launchers end with one summary table, best job first."""
import csv
import json

import pytest

from derivtrain.sweep import rank
from tests.conftest import run_cli


def test_rank_uses_the_first_metric_every_job_has():
    jobs = [("0", [], {"test/accuracy": 0.9, "test/loss": 0.3}), ("1", [], {"test/accuracy": 0.95, "test/loss": 0.4})]
    ordered, metric = rank(jobs)
    assert metric == "test/accuracy" and [j[0] for j in ordered] == ["1", "0"]
    ordered, metric = rank([("0", [], {"test/loss": 0.3}), ("1", [], {"test/loss": 0.1})])
    assert metric == "test/loss" and [j[0] for j in ordered] == ["1", "0"]


@pytest.mark.parametrize("launcher", [None, "joblib", "submitit_local"])
def test_two_job_sweep_leaves_two_runs_and_a_summary(tmp_path, launcher):
    sweep = tmp_path / "sweep"
    extra = [f"hydra/launcher={launcher}"] if launcher else []
    proc = run_cli("-m", *extra, "model=svm,logistic", "trainer.max_epochs=5", "logger=none",
                   f"hydra.sweep.dir={sweep}")
    assert proc.returncode == 0, proc.stderr
    metrics = sorted(sweep.glob("*/metrics.json"))
    assert len(metrics) == 2
    with open(sweep / "summary.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["rank"] for r in rows] == ["1", "2"]
    assert {r["overrides"].split()[0] for r in rows} == {"model=svm", "model=logistic"}
    accuracies = [float(r["test/accuracy"]) for r in rows]
    assert accuracies == sorted(accuracies, reverse=True)
    by_job = {r["job"]: float(r["test/accuracy"]) for r in rows}
    for path in metrics:
        assert json.loads(path.read_text())["test/accuracy"] == pytest.approx(by_job[path.parent.name])
    assert "| rank | job | overrides |" in (sweep / "summary.md").read_text()


def test_an_existing_sweep_folder_is_not_overwritten(tmp_path):
    (tmp_path / "sweep").mkdir()
    (tmp_path / "sweep" / "summary.csv").write_text("keep me")
    proc = run_cli("-m", "model=svm", f"hydra.sweep.dir={tmp_path / 'sweep'}")
    assert proc.returncode == 2 and "already holds a sweep" in proc.stderr
    assert (tmp_path / "sweep" / "summary.csv").read_text() == "keep me"
