"""The GPU path (skipped without CUDA; scripts/gpu_check.sh runs these on a GPU machine)."""
import pytest
import torch

from tests.train.helpers import fit_config

pytestmark = [pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]


@pytest.mark.parametrize("overrides", [[], ["trainer.precision=bf16"], ["trainer.batch_size=64"],
                                       ["trainer.batch_size=64", "trainer.shuffle=batches"]])
def test_training_on_cuda_keeps_everything_on_the_device(tmp_path, overrides):
    result, _, model = fit_config(tmp_path, "trainer.device=cuda", "trainer.max_epochs=30", *overrides)
    assert all(p.device.type == "cuda" for p in model.parameters())
    assert result.metrics["val/accuracy"] >= 0.93


def test_cuda_and_cpu_agree_on_full_batch_training(tmp_path):
    _, _, gpu = fit_config(tmp_path / "gpu", "trainer.device=cuda", "trainer.max_epochs=10")
    _, _, cpu = fit_config(tmp_path / "cpu", "trainer.device=cpu", "trainer.max_epochs=10")
    for (name, a), (_, b) in zip(gpu.named_parameters(), cpu.named_parameters()):
        assert torch.allclose(a.cpu(), b, atol=1e-4), name
