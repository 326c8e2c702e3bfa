"""derivtrain.train(*overrides, run_dir=None): the command line's run, from Python."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from sklearn.datasets import load_iris

import derivtrain
from derivtrain.errors import ConfigError
from tests.conftest import REPO, run_main


def test_train_returns_the_run_the_cli_would_write(tmp_path):
    import derivtrain.trainer.loop  # noqa: F401 - the training package loaded: derivtrain.train is still the function

    run = derivtrain.train("model=logistic", "data=iris", "logger=none", run_dir=tmp_path / "run")
    assert run.path == tmp_path / "run"
    assert run.metrics == json.loads((run.path / "metrics.json").read_text())
    assert {p.name for p in run.path.iterdir()} >= {".hydra", "metrics.json", "checkpoints", "split.npz"}
    assert run.metrics["test/accuracy"] > 0.8 and run.metrics["train/converged"] is True
    X = load_iris().data
    np.testing.assert_allclose(run.model.predict_proba(X), derivtrain.load_run(run.path).predict_proba(X))


def test_bad_configuration_raises_the_clis_message_and_leaves_nothing(tmp_path):
    cli = run_main("optim.tol=-1", f"hydra.run.dir={tmp_path / 'cli'}")
    with pytest.raises(ConfigError) as raised:
        derivtrain.train("optim.tol=-1", run_dir=tmp_path / "bad")
    assert cli.returncode == 2 and cli.stderr.strip() == f"derivtrain: error: {raised.value}"
    with pytest.raises(ConfigError, match="did you mean svm"):
        derivtrain.train("model=svmm", run_dir=tmp_path / "typo")
    assert not (tmp_path / "bad").exists() and not (tmp_path / "typo").exists()
    derivtrain.train("model=svm", "logger=none", run_dir=tmp_path / "done")
    with pytest.raises(ConfigError, match="already holds a run"):
        derivtrain.train("model=svm", run_dir=tmp_path / "done")


@pytest.mark.slow
def test_train_is_callable_before_and_after_the_training_package_loads(tmp_path):
    """A fresh interpreter: whether the training package (derivtrain.trainer) was imported yet is the point."""
    code = ("import sys, derivtrain\n"
            "assert 'derivtrain.trainer' not in sys.modules\n"
            "before = derivtrain.train('model=svm', 'logger=none', run_dir=sys.argv[1])\n"
            "import derivtrain.trainer.loop\n"
            "after = derivtrain.train('model=svm', 'data=iris', 'logger=none', run_dir=sys.argv[2])\n"
            "print(before.metrics['test/accuracy'], after.metrics['test/accuracy'],"
            " derivtrain.train is sys.modules['derivtrain.training_api'].train)\n")
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path / "a"), str(tmp_path / "b")], capture_output=True,
                          text=True, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=300)
    assert proc.returncode == 0, proc.stderr
    before, after, same = proc.stdout.split()
    assert float(before) > 0.9 and float(after) > 0.8 and same == "True"
