"""Sweeps (`python -m derivtrain -m ...`) select on validation, survive failed jobs, repeat over
seeds and folds, and name their jobs. The CLI runs in this process (a sweep's jobs run in it under
Hydra's basic launcher, so no start-up per sweep); the other launchers run in subprocesses."""
import csv
import json
import re
import shlex
import statistics
import sys

import pytest
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf

from derivtrain.config import validate
from derivtrain.errors import ConfigError
from derivtrain.sweep.command_line import prepare_sweep, sweep_outcome
from derivtrain.sweep.jobs import MAX_FOLDER_NAME, FailedJob, job_folder_name, record_failure
from derivtrain.sweep.selection import optuna_direction
from derivtrain.sweep.summary import collect, rank
from tests.conftest import compose_config, run_main

FAST = ("trainer.max_epochs=3", "logger=none")
# the sweeps README.md shows, each run below (with FAST settings added)
README_SWEEPS = {
    "seeds": "trainer.seed=0,1,2 model=svm,logistic",
    "folds": "data.cv_folds=5 model=svm",
    "failed": "model=svm optim=sgd optim.lr=0.1,1e12",
    "optuna": "hydra/sweeper=optuna hydra.sweeper.n_trials=8 model=svm,logistic "
              "'regularizer.strength=tag(log,interval(1e-4,10))'",
}


def readme_sweep(name):
    return shlex.split(README_SWEEPS[name])


def sweep(tmp_path, monkeypatch, *args):
    """`python -m derivtrain -m args...` in this process: (exit code, sweep folder)."""
    from derivtrain.cli import main

    folder = tmp_path / "sweep"
    monkeypatch.setattr(sys, "argv", ["derivtrain", "-m", *args, f"hydra.sweep.dir={folder}"])
    monkeypatch.setenv("HYDRA_FULL_ERROR", "1")
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code
    finally:
        GlobalHydra.instance().clear()
    return code, folder


def read_csv(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def job_metrics(folder):
    return {p.parent.name: json.loads(p.read_text()) for p in folder.glob("*/metrics.json")}


def test_seeds_and_models_rank_on_validation_and_average_per_config(tmp_path, monkeypatch, capsys):
    code, folder = sweep(tmp_path, monkeypatch, *readme_sweep("seeds"), *FAST)
    assert code == 0, capsys.readouterr().err
    metrics = job_metrics(folder)
    assert sorted(metrics) == sorted(f"{2 * s + m}_model={name},trainer.seed={s}"  # the overrides that vary
                                     for s in range(3) for m, name in enumerate(("svm", "logistic")))
    rows = read_csv(folder / "summary.csv")
    columns = list(rows[0])
    assert columns[:5] == ["rank", "job", "status", "overrides", "val/accuracy"]
    first_test = min(i for i, c in enumerate(columns) if c.startswith("test/"))
    assert all(c.startswith("test/") for c in columns[first_test:-1]) and columns[-1] == "reason"
    assert not any(c.startswith("val/") for c in columns[first_test:])  # test/* trail: reported, not ranked
    accuracies = [float(r["val/accuracy"]) for r in rows]
    assert accuracies == sorted(accuracies, reverse=True) and [r["rank"] for r in rows] == list("123456")
    for row in rows:
        assert float(row["val/accuracy"]) == pytest.approx(metrics[row["job"]]["val/accuracy"])
        assert float(row["test/accuracy"]) == pytest.approx(metrics[row["job"]]["test/accuracy"])
    assert "Select on validation, report test once" in (folder / "summary.md").read_text()

    by_config = read_csv(folder / "summary_by_config.csv")
    assert [r["n"] for r in by_config] == ["3", "3"] and [r["failed"] for r in by_config] == ["0", "0"]
    means = [float(r["val/accuracy_mean"]) for r in by_config]
    assert means == sorted(means, reverse=True)
    for row in by_config:
        model = row["config"].split()[0]
        values = [m["val/accuracy"] for job, m in metrics.items() if f"_{model}," in job]
        assert len(values) == 3
        assert float(row["val/accuracy_mean"]) == pytest.approx(statistics.fmean(values))
        assert float(row["val/accuracy_std"]) == pytest.approx(statistics.stdev(values))
    assert "trainer.seed" not in " ".join(r["config"] for r in by_config)
    out = capsys.readouterr().out
    assert "job 0: trainer.seed=0 model=svm trainer.max_epochs=3 logger=none\n" in out
    assert "job 5: trainer.seed=2 model=logistic" in out


def test_a_diverging_job_is_recorded_and_the_sweep_exits_1(tmp_path, monkeypatch, capsys):
    code, folder = sweep(tmp_path, monkeypatch, *readme_sweep("failed"), *FAST)
    err = capsys.readouterr().err
    assert code == 1, err
    ok, failed = read_csv(folder / "summary.csv")
    assert (ok["rank"], ok["status"], ok["reason"]) == ("1", "ok", "")
    assert ok["job"] == "0_optim.lr=0.1" and float(ok["val/accuracy"]) > 0.8
    assert (failed["rank"], failed["status"], failed["val/accuracy"]) == ("", "failed", "")
    assert "diverged" in failed["reason"] and "\n" not in failed["reason"]
    assert json.loads((folder / failed["job"] / "failed.json").read_text())["reason"] == failed["reason"]
    assert f"job 1: model=svm optim=sgd optim.lr={1e12}" in err
    assert err.strip().splitlines()[-1] == f"derivtrain: error: 1 of 2 sweep jobs failed; see {folder / 'summary.md'}"


def test_optuna_maximizes_the_validation_metric_and_its_best_trial_is_the_best_job(tmp_path, monkeypatch, capsys):
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper")
    # optuna's own stderr handler would outlive this test's captured stderr (a "Logging error" later)
    __import__("optuna").logging.disable_default_handler()
    code, folder = sweep(tmp_path, monkeypatch, *readme_sweep("optuna"), "hydra.sweeper.sampler.seed=0", *FAST)
    assert code == 0, capsys.readouterr().err
    metrics = job_metrics(folder)
    assert len(metrics) == 8
    accuracy = {job: m["val/accuracy"] for job, m in metrics.items()}
    assert min(accuracy.values()) < max(accuracy.values())  # so the direction shows
    result = OmegaConf.load(folder / "optimization_results.yaml")
    assert result.best_value == pytest.approx(max(accuracy.values()))  # maximized: sweep.mode=auto
    best = {f"{k}={v}" for k, v in result.best_params.items()}
    best_jobs = [r for r in read_csv(folder / "summary.csv") if best <= set(r["overrides"].split())]
    assert best_jobs and float(best_jobs[0]["val/accuracy"]) == pytest.approx(result.best_value)
    rows = read_csv(folder / "summary.csv")
    assert float(rows[0]["val/accuracy"]) == pytest.approx(result.best_value)
    assert [float(r["val/accuracy"]) for r in rows] == sorted(accuracy.values(), reverse=True)


def test_optuna_with_no_finished_trial_still_writes_the_summary(tmp_path, monkeypatch, capsys):
    """Optuna's sweeper raises when no trial finished; the CLI reports the jobs' own reasons."""
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper")
    # optuna's own stderr handler would outlive this test's captured stderr (a "Logging error" later)
    __import__("optuna").logging.disable_default_handler()
    code, folder = sweep(tmp_path, monkeypatch, "hydra/sweeper=optuna", "hydra.sweeper.n_trials=2",
                         "regularizer.strength=interval(0.1,1)", "data.val_size=0", *FAST)
    err = capsys.readouterr().err
    assert code == 2, err  # every job failed on the configuration: no validation rows to select on
    assert [r["status"] for r in read_csv(folder / "summary.csv")] == ["failed", "failed"]
    assert err.strip().splitlines()[-1].startswith("derivtrain: error: every job of the sweep failed: data.val_size=0")
    assert "Traceback" not in err, err


def test_cv_folds_run_one_job_per_fold_and_average_them(tmp_path, monkeypatch, capsys):
    code, folder = sweep(tmp_path, monkeypatch, *readme_sweep("folds"), *FAST)
    assert code == 0, capsys.readouterr().err
    assert sorted(job_metrics(folder)) == [f"{k}_data.fold={k}" for k in range(5)]
    (row,) = read_csv(folder / "summary_by_config.csv")
    assert row["config"] == "data.cv_folds=5 model=svm trainer.max_epochs=3 logger=none" and row["n"] == "5"
    values = [m["val/accuracy"] for m in job_metrics(folder).values()]
    assert float(row["val/accuracy_mean"]) == pytest.approx(statistics.fmean(values))
    assert float(row["val/accuracy_std"]) == pytest.approx(statistics.stdev(values))


@pytest.mark.parametrize("launcher", ["joblib", "submitit_local"])
def test_worker_processes_name_jobs_and_record_failures(tmp_path, launcher):
    """Jobs in other processes: the folder-name resolver is there, a failure is recorded, exit 1."""
    folder = tmp_path / "sweep"
    proc = run_main("-m", f"hydra/launcher={launcher}", *readme_sweep("failed"), *FAST, f"hydra.sweep.dir={folder}")
    assert proc.returncode == 1, proc.stderr
    rows = read_csv(folder / "summary.csv")
    assert [(r["job"], r["status"]) for r in rows] == [("0_optim.lr=0.1", "ok"), (f"1_optim.lr={1e12}", "failed")]
    assert "diverged" in rows[1]["reason"] and "| rank | job | status |" in (folder / "summary.md").read_text()


def test_the_readme_shows_the_sweeps_run_here():
    from tests.conftest import REPO

    shown = re.findall(r"`python -m derivtrain -m ([^`]+)`", (REPO / "README.md").read_text())
    assert sorted(shown) == sorted(README_SWEEPS.values())


def test_an_existing_sweep_folder_is_not_overwritten(tmp_path):
    (tmp_path / "sweep").mkdir()
    (tmp_path / "sweep" / "summary.csv").write_text("keep me")
    proc = run_main("-m", "model=svm", f"hydra.sweep.dir={tmp_path / 'sweep'}")
    assert proc.returncode == 2 and "already holds a sweep" in proc.stderr
    assert (tmp_path / "sweep" / "summary.csv").read_text() == "keep me"


# ---- the parts, in this process ---------------------------------------------------------------
def fake_job(folder, name, overrides, metrics=None, failure=None):
    job = folder / name
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))
    if metrics is not None:
        (job / "metrics.json").write_text(json.dumps(metrics))
    if failure is not None:
        record_failure(job, *failure)


def test_rank_puts_failed_jobs_last_and_follows_the_mode(tmp_path):
    fake_job(tmp_path, "0_a", ["a=0"], {"val/loss": 0.3, "test/loss": 0.1})
    fake_job(tmp_path, "1_a", ["a=1"], failure=("bad value", 2))
    fake_job(tmp_path, "2_a", ["a=2"], {"val/loss": 0.2, "test/loss": 0.5})
    fake_job(tmp_path, "10_a", ["a=10"])  # never finished: neither metrics.json nor failed.json
    jobs = collect(tmp_path)
    assert [j.folder for j in jobs] == ["0_a", "1_a", "2_a", "10_a"]  # job-number order, not text order
    ordered, key = rank(jobs, "val/loss", "auto")
    assert key == "val/loss" and [j.folder for j in ordered] == ["2_a", "0_a", "1_a", "10_a"]
    assert [j.folder for j in rank(jobs, "val/loss", "max")[0][:2]] == ["0_a", "2_a"]
    assert ordered[3].reason.startswith("did not finish")
    assert sweep_outcome(tmp_path)[0] == 1


def test_sweep_exit_code(tmp_path):
    fake_job(tmp_path / "ok", "0_a", ["a=0"], {"val/accuracy": 0.9})
    assert sweep_outcome(tmp_path / "ok") == (0, None)
    for i in range(2):
        fake_job(tmp_path / "bad", f"{i}_a", [f"a={i}"], failure=("data.val_size=0 leaves no validation rows", 2))
    code, message = sweep_outcome(tmp_path / "bad")  # every job failed on configuration: bad input
    assert code == 2 and message.endswith("data.val_size=0 leaves no validation rows")


def test_failed_job_value_is_not_a_number_for_optuna():
    with pytest.raises(ValueError, match="diverged"):
        float(FailedJob("diverged"))  # Optuna's sweeper marks such a trial failed and goes on


def test_job_folder_names_are_safe_and_bounded():
    assert job_folder_name(3, "model=svm,optim.lr=0.1") == "3_model=svm,optim.lr=0.1"
    assert job_folder_name(0, "data.path=/a/b.csv,model.hidden_sizes=[8,4]") == \
        "0_data.path=_a_b.csv,model.hidden_sizes=_8,4_"
    assert job_folder_name(7, "") == "7"
    assert len(job_folder_name(12, "x=" + "9" * 500)) == MAX_FOLDER_NAME


def test_prepare_sweep_adds_folder_folds_direction_and_shared_keys():
    args, folder = prepare_sweep(["-m", "data.cv_folds=5", "model=svm,logistic", "logger=none"])
    assert f"hydra.sweep.dir={folder}" in args and str(folder).startswith("multirun/")
    assert "data.fold=range(5)" in args
    assert "hydra.job.config.override_dirname.exclude_keys=['data.cv_folds','logger']" in args
    args, _ = prepare_sweep(["-m", "hydra/sweeper=optuna", "optim.lr=interval(0.01,1)", "hydra.sweep.dir=x"])
    assert any(a.startswith("hydra.sweeper.direction=") for a in args)
    assert prepare_sweep(["model=svm"]) == (["model=svm"], None)
    with pytest.raises(ConfigError, match="one number of folds"):
        prepare_sweep(["-m", "data.cv_folds=3,5"])
    with pytest.raises(ConfigError, match="basic sweeper"):
        prepare_sweep(["-m", "data.cv_folds=3", "hydra/sweeper=optuna"])


def test_optuna_direction_follows_sweep_mode():
    assert optuna_direction("auto", "auto") == "maximize"  # val/accuracy, val/r2, val/log_likelihood
    assert optuna_direction("val/loss", "auto") == "minimize"
    assert optuna_direction("val/loss", "max") == "maximize"


@pytest.mark.parametrize("override,message", [
    ("sweep.monitor=test/accuracy", "selects on validation and reports test once; use sweep.monitor=val/accuracy"),
    ("sweep.monitor=val/acuracy", "did you mean val/accuracy"),
    ("sweep.mode=best", "sweep.mode=best is not valid"),
    ("data.cv_folds=4", "needs data.fold (0..3)"),
    ("data.fold=2", "set data.cv_folds too"),
])
def test_bad_sweep_settings_are_config_errors(override, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        validate(compose_config(override))


def test_folds_partition_the_train_and_val_rows_and_keep_test_apart():
    import numpy as np
    import torch

    from derivtrain.data import build_data
    from derivtrain.data.split import fold_indices

    y = np.array([0] * 30 + [1] * 12)
    rows = np.arange(2, 42)
    vals = [fold_indices(y, rows, 4, k, seed=0, stratify=True) for k in range(4)]
    assert sorted(np.concatenate([v for _, v in vals])) == list(rows)  # each row validates once
    for train, val in vals:
        assert not set(train) & set(val) and sorted(np.concatenate([train, val])) == list(rows)
        assert list(np.bincount(y[val])) == [7, 3]  # stratified: 28 and 12 rows dealt over 4 folds
    plain = build_data(compose_config().data, torch.device("cpu"), seed=0)
    folded = build_data(compose_config("data.cv_folds=5", "data.fold=1").data, torch.device("cpu"), seed=0)
    def raw(data, split):
        # standardization is fitted on other rows; the rows are float32 (the statistics float64)
        return (split.X * data.feature_scale + data.feature_mean).float()

    torch.testing.assert_close(raw(plain, plain.test), raw(folded, folded.test))  # the test rows stay apart
    assert len(folded.train) + len(folded.val) == len(plain.train) + len(plain.val)
    assert abs(len(folded.val) - (len(plain.train) + len(plain.val)) / 5) < 1
