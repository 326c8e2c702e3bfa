"""The GPU path (skipped without CUDA; scripts/gpu_check.sh runs these on a GPU machine)."""
import pytest
import torch

from tests.trainer.helpers import fit_config

pytestmark = [pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]


@pytest.mark.parametrize("overrides", [[], ["trainer.precision=bf16"], ["trainer.batch_size=64"],
                                       ["trainer.batch_size=64", "trainer.shuffle=batches"]])
def test_training_on_cuda_keeps_everything_on_the_device(tmp_path, overrides):
    result, _, model = fit_config(tmp_path, "trainer.device=cuda", "trainer.max_epochs=30", *overrides)
    assert all(p.device.type == "cuda" for p in model.parameters())
    assert result.metrics["val/accuracy"] >= 0.93


def test_optimizers_on_the_gpu_are_fused(tmp_path):
    from derivtrain.trainer.optimizers import build_optimizer
    from tests.conftest import compose_config

    params = [torch.nn.Parameter(torch.zeros(3, device="cuda"))]
    for name in ("sgd", "adam", "adamw"):
        assert build_optimizer(params, compose_config(f"optim={name}").optim).defaults.get("fused"), name


def test_cuda_and_cpu_agree_on_full_batch_training(tmp_path):
    _, _, gpu = fit_config(tmp_path / "gpu", "trainer.device=cuda", "trainer.max_epochs=10")
    _, _, cpu = fit_config(tmp_path / "cpu", "trainer.device=cpu", "trainer.max_epochs=10")
    for (name, a), (_, b) in zip(gpu.named_parameters(), cpu.named_parameters()):
        assert torch.allclose(a.cpu(), b, atol=1e-4), name


def _sync_warnings(tmp_path, *overrides) -> int:
    """Host-device synchronizations torch reports while fit() runs one epoch on the GPU."""
    import warnings

    torch.cuda.set_sync_debug_mode("warn")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fit_config(tmp_path, "trainer.device=cuda", "trainer.max_epochs=1", "trainer.log_every_n_steps=100000",
                       "trainer.val_every_n_epochs=0", *overrides)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    return sum("synchroniz" in str(w.message) for w in caught)


@pytest.mark.parametrize("shuffle,optim", [("rows", "sgd"), ("batches", "sgd"), ("rows", "adam")])
def test_the_step_loop_does_not_wait_for_the_gpu(tmp_path, shuffle, optim):
    """Four times the steps, the same number of host syncs: none of them is per step (the ones
    left are per epoch and per run: the shuffle's block order, the final evaluation, the checkpoint)."""
    few = _sync_warnings(tmp_path / "few", "trainer.batch_size=128", f"trainer.shuffle={shuffle}", f"optim={optim}")
    many = _sync_warnings(tmp_path / "many", "trainer.batch_size=32", f"trainer.shuffle={shuffle}", f"optim={optim}")
    assert many == few, (few, many)


def test_out_of_core_rows_train_on_the_gpu(tmp_path):
    import numpy as np
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(y))
    np.save(tmp_path / "X.npy", X[order])
    np.save(tmp_path / "y.npy", y[order])
    result, _, model = fit_config(tmp_path, "trainer.device=cuda", "data=npy", f"data.path={tmp_path / 'X.npy'}",
                                  f"data.target={tmp_path / 'y.npy'}", "model=svm", "trainer.batch_size=64",
                                  "data.chunk_rows=128", "data.out_of_core=true", "trainer.max_epochs=20")
    assert all(p.device.type == "cuda" for p in model.parameters())
    assert result.metrics["val/accuracy"] >= 0.93


def test_compiled_model_trains_on_the_gpu(tmp_path):
    from derivtrain.run import run
    from tests.conftest import compose_config

    cfg = compose_config("model=mlp", "data=digits", "trainer.device=cuda", "trainer.compile=true",
                         "trainer.batch_size=256", "trainer.max_epochs=15", "logger=none")
    metrics = run(cfg, tmp_path)
    assert metrics["test/accuracy"] >= 0.93


def test_sensitivity_analysis_runs_on_the_gpu(tmp_path):
    from tests.conftest import run_cli

    proc = run_cli("model=mlp", "trainer.device=cuda", "trainer.max_epochs=30", "analysis=compare", "logger=none",
                   f"hydra.run.dir={tmp_path / 'run'}")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "run" / "attributions").is_dir()


@pytest.mark.parametrize("overrides", [
    ["trainer.batch_size=100"],  # 398 training rows: the last batch of each epoch is shorter (eager)
    ["trainer.batch_size=100", "optim=adam", "optim.lr=0.01"],
    ["trainer.batch_size=64", "optim.schedule=cosine", "trainer.shuffle=batches"],  # a new lr each epoch
    ["trainer.batch_size=null"],  # full batch: the graph reads the data in place (fused SVM objective)
    ["trainer.batch_size=100", "trainer.gradient_clip_norm=0.5"],
])
def test_a_captured_step_trains_like_the_eager_one(tmp_path, overrides):
    args = ("trainer.device=cuda", "trainer.max_epochs=8", *overrides)
    graphed, _, g_model = fit_config(tmp_path / "graph", *args, "trainer.cuda_graph=true")
    eager, _, e_model = fit_config(tmp_path / "eager", *args)
    assert graphed.steps == eager.steps
    for (name, a), (_, b) in zip(g_model.named_parameters(), e_model.named_parameters()):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4, msg=name)


def test_a_captured_step_does_not_wait_for_the_gpu(tmp_path):
    # both capture once (after 3 warm-up steps) and replay: 6 and 24 full batches, then a short one
    few = _sync_warnings(tmp_path / "few", "trainer.batch_size=64", "trainer.cuda_graph=true")
    many = _sync_warnings(tmp_path / "many", "trainer.batch_size=16", "trainer.cuda_graph=true")
    assert many == few, (few, many)


def test_a_captured_mlp_trains_in_bf16(tmp_path):
    result, _, _ = fit_config(tmp_path, "trainer.device=cuda", "model=mlp", "data=digits", "trainer.batch_size=128",
                              "trainer.precision=bf16", "trainer.cuda_graph=true", "trainer.max_epochs=20")
    assert result.metrics["val/accuracy"] >= 0.93
