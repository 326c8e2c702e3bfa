"""Shared helpers: compose configs in-process, run the CLI in this process or in a subprocess."""
import importlib
import io
import os
import subprocess
import sys
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from derivtrain.config import register_schemas
from derivtrain.paths import config_dir

REPO = Path(__file__).resolve().parents[1]

if os.environ.get("PYTEST_XDIST_WORKER"):
    # under pytest-xdist (-n 2 on two cores) each worker, and each CLI it starts, computes on one
    # thread: two workers with two threads each would only take turns on the cores. numpy's BLAS
    # read OMP_NUM_THREADS when it loaded (above, with hydra and derivtrain.config): it is limited
    # through threadpoolctl (scikit-learn's dependency); a reference LogisticRegression on digits
    # took 10.8 s on two BLAS threads of a busy machine, 0.11 s on one
    import torch
    from threadpoolctl import threadpool_limits

    os.environ["OMP_NUM_THREADS"] = "1"
    torch.set_num_threads(1)
    threadpool_limits(1)


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


@contextmanager
def derivtrain_logging():
    """configure_logging() for the time of a block: the `derivtrain` logger (stderr, no propagation)
    is restored afterwards, so later tests' caplog sees its messages again."""
    from derivtrain.logging import configure_logging, log

    saved = log.handlers[:], log.propagate, log.level
    configure_logging()
    try:
        yield
    finally:
        log.handlers[:], log.propagate = saved[0], saved[1]
        log.setLevel(saved[2])


@dataclass
class Completed:
    """What a test reads of a finished command (as subprocess.CompletedProcess)."""
    returncode: int
    stdout: str
    stderr: str


@contextmanager
def on_path(folders):
    """`folders` first on sys.path for a block, as PYTHONPATH puts them first for a process: installed
    plugins are discovered afresh (derivtrain/plugins.py caches its scan), and the modules imported
    from those folders are forgotten afterwards, so the next test's plugin of the same name is its own."""
    from derivtrain import plugins

    folders = [str(folder) for folder in folders]

    def rescan():
        importlib.invalidate_caches()
        plugins.discover.cache_clear()
        plugins._warn_once.cache_clear()  # a broken plugin warns once a process: each run is a process here

    sys.path[:0] = folders
    rescan()
    try:
        yield
    finally:
        for folder in folders:
            sys.path.remove(folder)
        for name, module in list(sys.modules.items()):
            if any(str(getattr(module, "__file__", None) or "").startswith(f) for f in folders):
                del sys.modules[name]
        rescan()


def run_main(*args, module="derivtrain", env=None, cwd=None, path=()) -> Completed:
    """`python -m <module> args...` run in this process: the same main(), exit code and output,
    without starting an interpreter and importing torch again (~2 s a run). `path`: folders first on
    sys.path (on_path), where a subprocess would get them from PYTHONPATH. Use run_cli where the
    process itself is the point (signals, start-up, the installed console script).

    Hydra keeps global state between runs (GlobalHydra): it is cleared after each one.
    """
    from hydra.core.global_hydra import GlobalHydra

    main = importlib.import_module("derivtrain.cli" if module == "derivtrain" else module).main
    saved_argv, saved_env, saved_cwd = sys.argv[:], dict(os.environ), os.getcwd()
    out, err = io.StringIO(), io.StringIO()
    sys.argv = [module, *map(str, args)]
    os.environ.update(env or {})
    os.environ.pop("HYDRA_FULL_ERROR", None)
    try:
        os.chdir(cwd or REPO)
        with redirect_stdout(out), redirect_stderr(err), derivtrain_logging(), on_path(path):
            try:
                code = main() or 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.argv = saved_argv
        os.environ.clear()
        os.environ.update(saved_env)
        os.chdir(saved_cwd)
        GlobalHydra.instance().clear()
    return Completed(code, out.getvalue(), err.getvalue())


@pytest.fixture(scope="session")
def svm_run(tmp_path_factory):
    """One `model=svm` CLI run of the gradient loop (few epochs, with an analysis), shared by the tests that read
    a run folder; in this process (the console script's own process: tests/test_cli.py)."""
    folder = tmp_path_factory.mktemp("svm") / "run"
    proc = run_main("model=svm", "optim=sgd", "trainer.max_epochs=30", "logger.histogram_every_n_epochs=10",
                    "analysis=integrated_gradients", f"hydra.run.dir={folder}")
    assert proc.returncode == 0, proc.stderr
    return folder, proc


@pytest.fixture
def derivtrain_log(caplog):
    """caplog for the `derivtrain` logger, whether or not an earlier in-process run configured it
    (configure_logging stops its messages from propagating to the root logger caplog listens to)."""
    import logging

    logger = logging.getLogger("derivtrain")
    logger.addHandler(caplog.handler)
    caplog.set_level(logging.INFO, logger="derivtrain")
    try:
        yield caplog
    finally:
        logger.removeHandler(caplog.handler)
