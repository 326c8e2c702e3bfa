"""A sweep owns its folder for its whole life (a second sweep, or a run inside it, is refused and
changes nothing), is never put into a run's folder, and records every job it launches: one whose
worker was killed, and the ones that never ran because of it, are `failed` rows with the reason."""
import csv
import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from derivtrain.errors import ConfigError
from derivtrain.lock import LOCK_NAME, held_by
from derivtrain.sweep.command_line import check_intervals
from derivtrain.sweep.launches import JOBS_FILE, _recorded, launch_error, read_jobs
from derivtrain.sweep.summary import collect
from tests.conftest import REPO, run_main

QUICK = ["model=logistic", "data=iris", "optim=sgd", "logger=none"]
LONG = "optim.tol=1e-300"  # no certificate stops it: a job runs its max_epochs (~30 s for 100000)


def start_sweep(folder, *args):
    """`python -m derivtrain -m args...` in its own process (the worktree's derivtrain)."""
    return subprocess.Popen([sys.executable, "-m", "derivtrain", "-m", *args, f"hydra.sweep.dir={folder}"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
                            env={**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"})


def job_pid(folder, prefix, timeout=120):
    """The pid a running job wrote into its folder's lock (the process that runs it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for lock in folder.glob(f"{prefix}*/{LOCK_NAME}"):
            text = lock.read_text().strip()
            if text.isdigit():
                return int(text)
        time.sleep(0.2)
    raise AssertionError(f"no job {prefix} started in {folder}")


def read_csv(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def test_a_second_sweep_and_a_run_inside_a_running_sweep_are_refused_and_change_nothing(tmp_path):
    folder = tmp_path / "sweep"
    first = start_sweep(folder, *QUICK, LONG, "trainer.max_epochs=100000,3")
    try:
        job_pid(folder, "0_")
        hydra_files = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.glob("*/.hydra/*")}
        assert hydra_files
        second = run_main("-m", *QUICK, "trainer.max_epochs=100000,3", f"hydra.sweep.dir={folder}")
        inside = run_main(*QUICK, f"hydra.run.dir={folder / 'mine'}")
        assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.glob("*/.hydra/*")} == hydra_files
        assert held_by(folder) == f"process {first.pid}"
    finally:
        first.kill()
        first.wait()
    assert second.returncode == 2 and second.stderr.count("\n") == 1, second.stderr
    assert f"hydra.sweep.dir={folder} is in use by process {first.pid}" in second.stderr
    assert inside.returncode == 2 and f"which is in use by process {first.pid}" in inside.stderr, inside.stderr
    assert not (folder / "mine").exists() and not (folder / "1_trainer.max_epochs=3").exists()


@pytest.mark.parametrize("where", ["the run's folder", "a folder inside it"])
def test_a_sweep_is_never_put_into_a_run(tmp_path, where):
    run = tmp_path / "run"
    assert run_main(*QUICK, "trainer.max_epochs=2", f"hydra.run.dir={run}").returncode == 0
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    sweep_dir = run if where == "the run's folder" else run / "sweep"
    proc = run_main("-m", *QUICK, "trainer.max_epochs=2,3", f"hydra.sweep.dir={sweep_dir}")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert ("is a run's folder" if sweep_dir == run else f"is inside the run folder {run}") in proc.stderr
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before


def test_a_sweep_refused_before_its_first_job_leaves_no_folder(tmp_path):
    proc = run_main("-m", *QUICK, "model=nosuch,svm", f"hydra.sweep.dir={tmp_path / 'new' / 'sweep'}")
    assert proc.returncode == 2 and "model=nosuch is not an option" in proc.stderr, proc.stderr
    assert not (tmp_path / "new").exists()


def test_a_killed_joblib_worker_leaves_every_job_in_the_summary(tmp_path):
    """4 jobs on 2 workers, one worker killed with SIGKILL while jobs 0 and 1 run: joblib gives up on
    the whole batch; jobs 2 and 3 never ran and are `failed` rows saying why."""
    folder = tmp_path / "sweep"
    sweep = start_sweep(folder, "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", *QUICK, LONG,
                        "trainer.max_epochs=100000,100001,3,4")
    try:
        job_pid(folder, "0_")
        os.kill(job_pid(folder, "1_"), signal.SIGKILL)
        _, err = sweep.communicate(timeout=240)
    finally:
        sweep.kill()
    assert sweep.returncode == 1 and "Traceback" not in err, err
    rows = read_csv(folder / "summary.csv")
    assert [row["job"] for row in rows][2:] == ["2", "3"] and len(rows) == 4
    assert all(row["status"] == "failed" and "TerminatedWorkerError" in row["reason"] for row in rows)
    assert [row["reason"].split(":")[0] for row in rows] == ["did not finish"] * 2 + ["never ran"] * 2
    assert "{SIGKILL(-9)}" in rows[1]["reason"] and "trainer.max_epochs=4" in rows[3]["overrides"]
    assert err.strip().splitlines()[-1] == f"derivtrain: error: 4 of 4 sweep jobs failed; see {folder / 'summary.md'}"
    assert not (folder / LOCK_NAME).exists()


def test_recorded_jobs_get_the_launchers_error_when_it_raises(tmp_path):
    def launch(job_overrides, initial_job_idx):
        (tmp_path / f"{initial_job_idx}_a=1" / ".hydra").mkdir(parents=True)  # the first job started, then
        (tmp_path / f"{initial_job_idx}_a=1" / ".hydra" / "overrides.yaml").write_text("- a=1\n")
        raise RuntimeError("worker lost.\nSecond sentence. The exit codes of the workers are {SIGKILL(-9)}")

    jobs = []
    with pytest.raises(RuntimeError):
        _recorded(launch, tmp_path, jobs)([["a=1"], ["a=2"]], initial_job_idx=4)
    assert [(j["job"], j["overrides"]) for j in read_jobs(tmp_path)] == [(4, ["a=1"]), (5, ["a=2"])]
    reason = "RuntimeError: worker lost. The exit codes of the workers are {SIGKILL(-9)}"
    assert [(job.folder, job.failed, job.reason) for job in collect(tmp_path)] == [
        ("4_a=1", True, f"did not finish: {reason}"), ("5", True, f"never ran: {reason}")]


def test_a_recorded_job_is_matched_to_its_folder_by_number_or_by_overrides(tmp_path):
    (tmp_path / JOBS_FILE).write_text(json.dumps([{"job": i, "overrides": [f"a={i}"], "error": None}
                                                  for i in range(3)]))
    for name, i in (("0_a=0", 0), ("custom", 1)):
        (tmp_path / name / ".hydra").mkdir(parents=True)
        (tmp_path / name / ".hydra" / "overrides.yaml").write_text(f"- a={i}\n")
        (tmp_path / name / "metrics.json").write_text("{}")
    jobs = collect(tmp_path)
    assert [(job.folder, job.reason) for job in jobs] == [
        ("0_a=0", None), ("2", "never ran: the sweep stopped before it"), ("custom", None)]


def test_launch_errors_are_one_bounded_line():
    assert launch_error(ValueError("")) == "ValueError"
    assert "\n" not in launch_error(OSError("a\n\nb")) and len(launch_error(ValueError("x " * 1000))) == 300


@pytest.mark.parametrize("arg, message", [
    ("optim.lr=interval(1.0,0.1)", "the interval's low end comes first: interval(0.1,1.0)"),
    ("hydra.sweeper.params.optim.lr='interval(1.0,0.1)'", "the interval's low end comes first"),
    ("regularizer.strength=tag(log,interval(0,10))", "a log-scaled interval needs a low end above 0"),
])
def test_a_bad_optuna_interval_is_one_line_and_exit_2(tmp_path, arg, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        check_intervals([arg])
    proc = run_main("-m", "hydra/sweeper=optuna", "hydra.sweeper.n_trials=2", arg, *QUICK,
                    f"hydra.sweep.dir={tmp_path / 'sweep'}")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and message in proc.stderr, proc.stderr
    assert not (tmp_path / "sweep").exists()


def test_good_intervals_pass():
    check_intervals(["optim.lr=interval(0.1,1.0)", "a=tag(log,interval(1e-4,10))", "b=1,2", "-m"])


def test_optunas_params_as_a_dotted_hydra_key_is_one_line_naming_the_form_that_works(tmp_path):
    """derivtrain's Optuna config has no hydra.sweeper.params to add a key to (Hydra: AssertionError)."""
    proc = run_main("-m", "hydra/sweeper=optuna", "hydra.sweeper.params.optim.lr='interval(0.1,1.0)'", *QUICK,
                    f"hydra.sweep.dir={tmp_path / 'sweep'}")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr.endswith("give Optuna's search space as the key itself, optim.lr=interval(0.1,1.0)\n")
    assert not (tmp_path / "sweep").exists()


def test_a_sweep_refused_before_its_first_job_leaves_an_existing_folder_as_it_was(tmp_path):
    (tmp_path / "sweep").mkdir()
    args = ["-m", *QUICK, "trainer.max_epochs=2,3", f"hydra.sweep.dir={tmp_path / 'sweep'}"]
    proc = run_main(*args, "model=nosuch,svm")
    assert proc.returncode == 2 and not list((tmp_path / "sweep").iterdir()), proc.stderr
    assert run_main(*args).returncode == 0  # the corrected command line runs there
    assert len(read_csv(tmp_path / "sweep" / "summary.csv")) == 2


def test_a_damaged_job_record_is_read_as_far_as_it_makes_sense(tmp_path):
    (tmp_path / JOBS_FILE).write_text(json.dumps([{"job": 0, "overrides": [1, "a=2"], "error": 5}, {"job": "x"}, 3]))
    assert read_jobs(tmp_path) == [{"job": 0, "overrides": ["1", "a=2"], "error": "5"}]
    (tmp_path / JOBS_FILE).write_text("{not json")
    assert read_jobs(tmp_path) == []
