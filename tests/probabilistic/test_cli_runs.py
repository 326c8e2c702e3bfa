"""Run folders of probabilistic models: metrics.json, checkpoints, TensorBoard curves, load_run."""
import json

import numpy as np
import pytest
import torch
from sklearn.datasets import load_iris

import derivtrain
from tests.conftest import run_main
from tests.probabilistic.helpers import run_in_process


def scalars(folder):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(folder), size_guidance={"scalars": 0, "tensors": 0})
    events.Reload()
    curves = {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}
    # curves are filed under the run's task: <task>/, <task>.more/, <task>.solver/ (derivtrain/logging/dashboard.py)
    task, = {tag.split("/", 1)[0].split(".", 1)[0] for tag in curves}
    results = events.Tensors("results/text_summary")[0].tensor_proto.string_val[0].decode()
    return {tag.split("/", 1)[1]: points for tag, points in curves.items()} | {"task": task, "results": results}


@pytest.fixture(scope="module")
def gmm_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gmm") / "run"
    proc = run_main("model=gmm", "data=iris", "optim.n_init=2", "optim.tol=1e-4", f"hydra.run.dir={folder}")
    assert proc.returncode == 0, proc.stderr
    return folder


def test_gmm_run_folder(gmm_run):
    metrics = json.loads((gmm_run / "metrics.json").read_text())
    for split in ("train", "val", "test"):
        assert {f"{split}/log_likelihood", f"{split}/bic", f"{split}/aic"} <= set(metrics)
    assert metrics["train/converged"] is True and metrics["train/steps"] > 1 and metrics["train/n_init"] == 2
    state = torch.load(gmm_run / "checkpoints" / "last.pt", weights_only=True)
    assert state["fitted_by"] == "em" and state["step"] == metrics["train/steps"]
    curves = scalars(gmm_run)
    kept = curves["train/log_likelihood"]
    assert [step for step, _ in kept] == list(range(1, metrics["train/steps"] + 1))  # one point per EM iteration
    assert kept[-1][1] == pytest.approx(metrics["train/log_likelihood"], abs=1e-4)
    assert "em/log_likelihood/init_0" in curves and "em/log_likelihood/init_1" in curves
    assert curves["task"] == "density"
    assert f"| test/log_likelihood | {metrics['test/log_likelihood']:.6g} |" in curves["results"]


def test_load_run_of_a_gmm_is_a_density_estimator(gmm_run):
    model = derivtrain.load_run(gmm_run)
    X = load_iris().data
    log_density = model.score_samples(X)
    assert log_density.shape == (150,) and np.isfinite(log_density).all()
    proba = model.predict_proba(X)
    assert proba.shape == (150, 3) and np.allclose(proba.sum(1), 1, atol=1e-5)
    np.testing.assert_array_equal(model.predict(X), proba.argmax(1))
    samples, components = model.sample(500, seed=0)
    assert samples.shape == (500, 4) and set(components) <= {0, 1, 2}
    # tensors in, tensors out
    assert torch.is_tensor(model.score_samples(torch.as_tensor(X, dtype=torch.float32)))


def test_newton_run_logs_the_log_likelihood_per_iteration(tmp_path):
    fitted = run_in_process(tmp_path, "model=logistic", "optim=newton", "logger=tensorboard")
    curves = scalars(fitted.folder)
    steps = fitted.metrics["train/steps"]
    assert [s for s, _ in curves["train/log_likelihood"]] == list(range(steps + 1))
    assert len(curves["newton/predicted_decrease"]) == steps + 1 and len(curves["newton/step_size"]) == steps
    state = torch.load(fitted.folder / "checkpoints" / "last.pt", weights_only=True)
    assert state["fitted_by"] == "newton" and state["converged"] is True
    # a convex linear model on the CPU keeps float64 weights: what was certified is what load_run predicts with
    assert state["model"]["linear.weight"].dtype == torch.float64


def test_gradient_fit_of_a_gmm_logs_the_log_likelihood(tmp_path, gmm_run):
    fitted = run_in_process(tmp_path, "model=gmm", "data=iris", "optim=adam", "optim.lr=0.05", "trainer.max_epochs=60",
                            "trainer.log_every_n_steps=5", "logger=tensorboard")
    curves = scalars(fitted.folder)
    assert [s for s, _ in curves["train/log_likelihood"]] == list(range(5, 61, 5))
    em = json.loads((gmm_run / "metrics.json").read_text())
    # a gradient fit from the same k-means++ start climbs the likelihood towards EM's optimum, never above it
    climb = [v for _, v in curves["train/log_likelihood"]]
    assert climb[-1] > climb[0] and fitted.metrics["train/log_likelihood"] <= em["train/log_likelihood"] + 0.05


def test_resuming_an_em_run_with_another_optimizer_is_refused(gmm_run, tmp_path):
    """A resumed run continues the same training: EM's run does not go on as an Adam run."""
    proc = run_main("model=gmm", "data=iris", "optim=adam", f"trainer.resume={gmm_run}",
                    f"hydra.run.dir={tmp_path / 'run'}")
    assert proc.returncode == 2 and "optim.name was 'em' in the saved run, 'adam' here" in proc.stderr, proc.stderr
    assert not (tmp_path / "run").exists()


def test_em_on_a_supervised_model_is_refused_in_one_line(tmp_path):
    proc = run_main("model=logistic", "optim=em", "logger=none", f"hydra.run.dir={tmp_path / 'run'}")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "derivtrain: error: optim=em fits mixture models (model=gmm, model=gaussian), not model=logistic; "
        "use optim=auto"]
