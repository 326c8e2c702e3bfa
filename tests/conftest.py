"""Shared helpers: compose configs in-process, run the CLI in a subprocess."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from derivtrain.config import register_schemas
from derivtrain.paths import config_dir

REPO = Path(__file__).resolve().parents[1]


def compose_config(*overrides):
    """The config `python -m derivtrain <overrides>` would run, composed in this process."""
    register_schemas()
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides))


def run_cli(*args, module="derivtrain", env=None, cwd=None, timeout=300):
    """`python -m derivtrain args...` in a subprocess; returns the CompletedProcess (text)."""
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    full_env.pop("HYDRA_FULL_ERROR", None)
    return subprocess.run([sys.executable, "-m", module, *map(str, args)], capture_output=True, text=True,
                          env=full_env, cwd=cwd or REPO, timeout=timeout)


@pytest.fixture(scope="session")
def svm_run(tmp_path_factory):
    """One default `model=svm` CLI run (few epochs, with an analysis), shared by the tests that read a run folder."""
    folder = tmp_path_factory.mktemp("svm") / "run"
    proc = run_cli("model=svm", "trainer.max_epochs=30", "logger.histogram_every_n_epochs=10",
                   "analysis=integrated_gradients", f"hydra.run.dir={folder}")
    assert proc.returncode == 0, proc.stderr
    return folder, proc
