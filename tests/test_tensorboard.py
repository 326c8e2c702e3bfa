"""Read the run's TensorBoard events back: tags, values, histograms, config text, hparams."""
import json

import pytest


@pytest.fixture(scope="module")
def events(svm_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    folder, _ = svm_run
    acc = EventAccumulator(str(folder), size_guidance={"scalars": 0, "histograms": 0, "tensors": 0})
    acc.Reload()
    return folder, acc


def test_scalar_tags_and_steps(events):
    _, acc = events
    tags = set(acc.Tags()["scalars"])
    assert {"train/loss", "val/loss", "val/accuracy", "val/f1_macro", "lr", "grad_norm", "test/accuracy"} <= tags
    steps = [e.step for e in acc.Scalars("train/loss")]
    assert steps == [10, 20, 30]  # log_every_n_steps=10 over 30 full-batch steps
    assert len(acc.Scalars("val/loss")) == 30  # validation every epoch
    assert all(e.value == pytest.approx(0.1) for e in acc.Scalars("lr"))


def test_final_metrics_equal_metrics_json(events):
    folder, acc = events
    metrics = json.loads((folder / "metrics.json").read_text())
    assert acc.Scalars("test/accuracy")[-1].value == pytest.approx(metrics["test/accuracy"], abs=1e-6)
    assert acc.Scalars("val/accuracy")[-1].value == pytest.approx(metrics["val/accuracy"], abs=1e-6)


def test_weight_and_gradient_histograms(events):
    _, acc = events
    tags = set(acc.Tags()["histograms"])
    assert {"weights/linear.weight", "weights/linear.bias", "gradients/linear.weight"} <= tags
    assert [e.step for e in acc.Histograms("weights/linear.weight")] == [10, 20, 30]
    assert acc.Histograms("weights/linear.weight")[-1].histogram_value.num == 30  # 30 features


def test_config_text_and_hparams_in_the_same_run(events):
    folder, acc = events
    text = acc.Tensors("config/text_summary")[0].tensor_proto.string_val[0].decode()
    assert "LinearSVM" in text and "max_epochs: 30" in text
    plugins = acc.PluginTagToContent("hparams")
    assert "_hparams_/experiment" in plugins and "_hparams_/session_start_info" in plugins
    assert not [p for p in folder.iterdir() if p.is_dir() and p.name not in (".hydra", "checkpoints")]
