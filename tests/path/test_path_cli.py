"""regularizer.path from the command line: path.csv, the choice by validation or by K folds in one
process, the run folder's other files as for any run, and the points that miss tol said once."""
import csv
import json

import numpy as np
import pytest

from tests.conftest import run_main


def read_path(run_dir) -> list:
    with open(run_dir / "path.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_a_path_writes_every_point_and_finishes_at_the_best_validation_score(tmp_path):
    run_dir = tmp_path / "run"
    proc = run_main("model=logistic", "regularizer.path=auto", "regularizer.path_points=12", "logger=none",
                    f"hydra.run.dir={run_dir}")
    assert proc.returncode == 0, proc.stderr
    rows, metrics = read_path(run_dir), json.loads((run_dir / "metrics.json").read_text())
    assert len(rows) == 12 and metrics["path/points"] == 12 and metrics["path/not_converged"] == 0
    assert list(rows[0])[:7] == ["strength", "objective", "optimality_gap", "converged", "iterations", "val_accuracy",
                                 "non_zeros"]
    assert "mean radius" in rows[0] and "bias" in rows[0]  # a column per feature, named, and the bias
    assert all(r["converged"] == "true" and float(r["optimality_gap"]) <= 1e-4 for r in rows)
    scores = [float(r["val_accuracy"]) for r in rows]
    best = int(np.argmax(scores))  # the first best: the strongest penalty among equals
    assert metrics["path/strength"] == pytest.approx(float(rows[best]["strength"]))
    assert metrics["val/accuracy"] == pytest.approx(scores[best])  # the run's model is that point's
    assert metrics["train/converged"] and metrics["train/optimality_gap"] <= 1e-4
    assert (run_dir / "checkpoints" / "last.pt").is_file() and (run_dir / "split.npz").is_file()


def test_cross_validation_runs_the_folds_and_refits_on_train_plus_val(tmp_path):
    run_dir = tmp_path / "run"
    proc = run_main("model=logistic", "regularizer=l1", "regularizer.path=auto", "regularizer.path_points=8",
                    "data.cv_folds=4", "regularizer.path_rule=1se", "logger=none", f"hydra.run.dir={run_dir}")
    assert proc.returncode == 0, proc.stderr
    rows, metrics = read_path(run_dir), json.loads((run_dir / "metrics.json").read_text())
    mean = np.array([float(r["cv_accuracy"]) for r in rows])
    se = np.array([float(r["cv_accuracy_se"]) for r in rows])
    best = int(np.argmax(mean))
    chosen = int(np.flatnonzero(mean >= mean[best] - se[best])[0])  # one standard error: the strongest within it
    assert metrics["path/strength"] == pytest.approx(float(rows[chosen]["strength"]))
    assert not any(k.startswith("val/") for k in metrics)  # the refit trains on train+val: no val split left
    split = np.load(run_dir / "split.npz")
    assert len(split["val"]) == 0 and len(split["train"]) + len(split["test"]) == 569
    assert int(rows[0]["non_zeros"]) == 0 and int(rows[-1]["non_zeros"]) > 0


def test_points_that_hit_the_iteration_cap_are_marked_and_said_once(tmp_path):
    run_dir = tmp_path / "run"
    proc = run_main("model=svm", "regularizer.path=[1,0.1,0.01,0.001]", "trainer.max_epochs=3", "logger=none",
                    f"hydra.run.dir={run_dir}")
    assert proc.returncode == 0, proc.stderr
    rows = read_path(run_dir)
    missed = [r for r in rows if r["converged"] == "false"]
    assert missed and len(rows) == 4  # the rest of the path went on
    warnings = [line for line in proc.stderr.splitlines() if "did not reach optim.tol" in line]
    assert len(warnings) == 1 and f"{len(missed)} of 4 points" in warnings[0], proc.stderr


BAD = {
    "an empty grid": (["regularizer.path=[]"], "regularizer.path=[] is empty"),
    "a negative strength": (["regularizer.path=[1,-0.1]"], "every strength must be a finite number > 0"),
    "a zero strength": (["regularizer.path=[0.1,0]"], "every strength must be a finite number > 0"),
    "a word": (["regularizer.path=many"], "regularizer.path=many is not a grid"),
    "one point": (["regularizer.path=auto", "regularizer.path_points=1"], "regularizer.path_points=1"),
    "an mlp": (["model=mlp", "regularizer.path=auto"], "MLP is not one"),
    "a mixture": (["model=gmm", "data=blobs", "regularizer.path=auto"], "GaussianMixture is not one"),
    "sgd": (["model=logistic", "optim=sgd", "regularizer.path=auto"], "which optim=sgd is not"),
    "no penalty": (["regularizer=none", "regularizer.path=auto"], "regularizer=none"),
    "no validation rows": (["regularizer.path=auto", "data.val_size=0"], "data.val_size=0 leaves none"),
    "a fold with the path": (["regularizer.path=auto", "data.cv_folds=3", "data.fold=0"], "drop data.fold"),
    "an unknown rule": (["regularizer.path=auto", "regularizer.path_rule=2se"], "regularizer.path_rule=2se"),
}


@pytest.mark.parametrize("name", list(BAD))
def test_bad_path_input_exits_2_with_one_line_and_writes_nothing(tmp_path, name):
    args, expected = BAD[name]
    proc = run_main(*args, f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1 and lines[0].startswith("derivtrain: error: ") and expected in lines[0], proc.stderr
    assert list(tmp_path.iterdir()) == []  # no run folder
