"""README's certified plugin walk-through ("A certified loss or penalty"), run as it is written: its
files written out, its losses and penalty fitted by the certified solver on diabetes and each gap
checked against Clarabel's exact optimum (the bound never below the true gap), its commands run."""
import importlib
import json
import sys

import pytest

from tests.conftest import REPO, run_main
from tests.convex.helpers import assert_certified_against, certified_fit
from tests.convex.reference import optimum
from tests.walkthrough import commands, run, write_files

SECTION = (REPO / "README.md").read_text().split("### A certified loss or penalty", 1)[1].split("\n## ", 1)[0]
pytest.importorskip("clarabel")


@pytest.fixture(scope="module")
def plugin(tmp_path_factory):
    folder = tmp_path_factory.mktemp("walkthrough")
    assert write_files(SECTION, "certified file", folder) == 8
    sys.path.insert(0, str(folder / "mycvx"))
    try:
        yield importlib.import_module("derivtrain_mycvx.losses"), importlib.import_module("derivtrain_mycvx.penalty")
    finally:
        sys.path.remove(str(folder / "mycvx"))
        for name in [m for m in sys.modules if m.startswith("derivtrain_mycvx")]:
            del sys.modules[name]


DIABETES = ["model=linear", "data=diabetes"]


@pytest.mark.parametrize("loss,param", [("huber", 1.0), ("pinball", 0.9)])
def test_each_loss_is_certified_and_the_bound_is_true(plugin, loss, param):
    losses, _ = plugin
    made = losses.HuberLoss(param) if loss == "huber" else losses.PinballLoss(param)
    metrics, objective, X, y, fitter = certified_fit(DIABETES, made)
    assert fitter == "certified"
    assert_certified_against(metrics, optimum(X, y, loss, param, l2=objective.penalty.strength), 1e-5)


@pytest.mark.parametrize("loss", ["squared", "pinball", "huber"])
def test_the_adaptive_lasso_is_certified_and_the_bound_is_true(plugin, loss):
    losses, penalties = plugin
    _, ridge, *_ = certified_fit(DIABETES)  # the first fit, whose weights make the adaptive lasso's
    weights = (1 / ridge.model.linear.weight.detach().double().abs()).reshape(-1).numpy()
    # Huber's straight parts have no curvature: proximal Newton damps its model there
    made = {"squared": None, "pinball": losses.PinballLoss(0.5), "huber": losses.HuberLoss(0.5)}[loss]
    metrics, objective, X, y, fitter = certified_fit(DIABETES, made, penalties.WeightedL1(0.05, weights.tolist()))
    assert fitter == "certified"
    l1 = objective.penalty.strength * weights
    assert_certified_against(metrics, optimum(X, y, loss, 0.5, l1=l1), 1e-3)


@pytest.mark.slow
def test_the_commands_as_written(tmp_path):
    write_files(SECTION, "certified file", tmp_path)
    lines = commands(SECTION, "shell")
    assert lines[0] == "pip install -e mycvx" and len(lines) == 5
    for i, command in enumerate(lines):
        run_dir = tmp_path / f"run{i}"
        proc = run(command, tmp_path, ["logger=none", f"hydra.run.dir={run_dir}"])
        assert proc.returncode == 0, f"{command}\n{proc.stdout}\n{proc.stderr}"
        if command.startswith("python -m derivtrain "):
            metrics = json.loads((run_dir / "metrics.json").read_text())
            assert metrics["train/converged"] and metrics["train/optimality_gap"] <= 1e-4, metrics
    bad = run_main("regularizer=weighted_l1", "regularizer.weights=[1,2]", "model=linear", "data=diabetes",
                   f"hydra.run.dir={tmp_path / 'bad'}", cwd=tmp_path, path=[tmp_path / "site"])
    assert bad.returncode == 2 and "regularizer.weights has 2 entries for 10 features" in bad.stderr, bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1 and not (tmp_path / "bad").exists()
