"""Read the run's TensorBoard events back as TensorBoard does: curves, layout, text, HPARAMS."""
import json

import pytest


@pytest.fixture(scope="module")
def events(svm_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    folder, _ = svm_run
    acc = EventAccumulator(str(folder), size_guidance={"scalars": 0, "histograms": 0, "tensors": 0})
    acc.Reload()
    return folder, acc


def text(acc, tag):
    return acc.Tensors(f"{tag}/text_summary")[0].tensor_proto.string_val[0].decode()


def session_row(acc) -> dict:
    from tensorboard.plugins.hparams import plugin_data_pb2

    content = acc.PluginTagToContent("hparams")["_hparams_/session_start_info"]
    start = plugin_data_pb2.HParamsPluginData.FromString(content).session_start_info
    return {k: v.WhichOneof("kind") and getattr(v, v.WhichOneof("kind")) for k, v in start.hparams.items()}


def test_curves_are_filed_under_the_task(events):
    _, acc = events
    tags = set(acc.Tags()["scalars"])
    # loss and the task's metric under the task; other curves in <task>.more; the fitter's own in <task>.solver
    assert {f"classification/{t}" for t in ("train/loss", "val/loss", "val/accuracy")} <= tags
    assert {"classification.more/train/objective", "classification.more/val/f1_macro"} <= tags
    assert {"classification.solver/lr", "classification.solver/grad_norm"} <= tags
    # one loss point per epoch by default (a full-batch epoch is one step)
    assert [e.step for e in acc.Scalars("classification/train/loss")] == list(range(1, 31))
    assert len(acc.Scalars("classification.more/train/objective")) == 30  # the penalized objective has its own name
    assert len(acc.Scalars("classification/val/loss")) == 30  # validation every epoch
    rates = [e.value for e in acc.Scalars("classification.solver/lr")]  # no schedule: the default rate
    assert len(rates) == 30 and 0 < rates[0] <= 0.1 and all(r == rates[0] for r in rates)  # (sgd_rate.py) throughout


def test_no_scalar_is_a_one_point_chart(events):
    """Test metrics and analysis results (this run has analysis=integrated_gradients) are tables."""
    _, acc = events
    assert {tag: len(acc.Scalars(tag)) for tag in acc.Tags()["scalars"] if len(acc.Scalars(tag)) < 2} == {}
    assert "| analysis/ig_max_abs_delta |" in text(acc, "results/analysis/metrics")


def test_custom_scalars_layout_puts_train_and_val_loss_on_one_chart(events):
    import re

    from tensorboard.plugins.custom_scalar import layout_pb2

    _, acc = events
    layout = layout_pb2.Layout.FromString(acc.Tensors("custom_scalars__config__")[-1].tensor_proto.string_val[0])
    category, = layout.category
    assert category.title == "classification: is it learning?"
    tags = acc.Tags()["scalars"]
    shown = [[t for t in tags if any(re.match(r, t) for r in chart.multiline.tag)] for chart in category.chart]
    assert category.chart[0].title == "loss: train, val (and the training objective)"
    assert sorted(shown[0]) == ["classification.more/train/objective", "classification/train/loss",
                                "classification/val/loss"]
    # the optimality gap's chart only if a certificate check ran (they are thinned by their measured time)
    gap = [["classification.more/train/optimality_gap"]] if "classification.more/train/optimality_gap" in tags else []
    assert shown[1:] == [["classification/val/accuracy"], *gap, ["classification.solver/lr"],
                         ["classification.solver/grad_norm"]]


def test_results_table_and_hparams_row_hold_the_final_numbers(events):
    folder, acc = events
    metrics = json.loads((folder / "metrics.json").read_text())
    row = session_row(acc)
    assert len(row) <= 20
    # no test/* in the row: they differ between any two runs and would take TensorBoard's first columns
    assert not [k for k in row if k.startswith(("test/", "val/", "train/"))]
    # the choices and the command-line keys come first, the curves (val/* among them) are its metrics
    assert {"data": "breast_cancer", "model": "svm", "optim": "sgd", "analysis": "integrated_gradients"}.items() \
        <= row.items()
    assert "logger" not in row and "diagnostics" not in row  # they change no model: only when set
    assert row["trainer.max_epochs"] == 30 and row["logger.histogram_every_n_epochs"] == 10
    assert {"classification/val/accuracy", "classification/val/loss", "classification.more/val/f1_macro"} <= \
        set(acc.Tags()["scalars"])
    assert acc.Scalars("classification/val/accuracy")[-1].value == pytest.approx(metrics["val/accuracy"], abs=1e-6)
    results = text(acc, "results")
    assert results.startswith("| metric | value |") and f"| test/accuracy | {metrics['test/accuracy']:.6g} |" in results


def test_weight_and_gradient_histograms_skip_one_number_tensors(events):
    _, acc = events
    tags = set(acc.Tags()["histograms"])
    assert tags == {"classification.weights/linear.weight", "classification.weights/linear.weight/grad"}
    # (the binary SVM's bias is one number: a histogram of it would be a spike)
    assert [e.step for e in acc.Histograms("classification.weights/linear.weight")] == [10, 20, 30]
    assert acc.Histograms("classification.weights/linear.weight")[-1].histogram_value.num == 30  # 30 features


def test_time_series_opens_on_the_curves(events):
    """Time Series groups cards by the tag's first part, in TensorBoard's tag order (tests/test_dashboard.py)."""
    from tests.test_dashboard import time_series_cards

    _, acc = events
    groups = list(dict.fromkeys(tag.split("/", 1)[0] for tag in time_series_cards(acc)))
    assert groups == ["classification", "classification.more", "classification.solver", "classification.weights",
                      "sensitivity"]  # the importance bars come last


def test_config_text_and_hparams_in_the_same_run(events):
    folder, acc = events
    assert "LinearSVM" in text(acc, "run/config") and "max_epochs: 30" in text(acc, "run/config")
    plugins = acc.PluginTagToContent("hparams")
    assert "_hparams_/session_start_info" in plugins and "_hparams_/session_end_info" in plugins
    assert not [p for p in folder.iterdir() if p.is_dir() and p.name not in (".hydra", "checkpoints", "attributions")]


def test_a_regression_run_gets_its_own_charts():
    from derivtrain.logging.dashboard import layout

    chart = layout("regression")["regression: is it learning?"]
    assert chart["r2: train, val"] == ["Multiline", [r"^regression/(train|val)/r2$"]]
    only_val = layout("regression", ["regression/val/r2", "regression/val/loss", "regression.more/val/mse"])
    assert list(only_val["regression: is it learning?"]) == ["loss: val", "r2: val"]  # no chart without a curve


def test_batched_checksums_equal_tensorboards():
    import numpy as np
    from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c as reference

    from derivtrain.logging.events import masked_crc32c

    rng = np.random.default_rng(0)
    records = [rng.integers(0, 256, size=n, dtype=np.uint8).tobytes() for n in (0, 1, 8, 63, 200, 512, 5)]
    assert masked_crc32c(records).tolist() == [reference(r) for r in records]


def test_points_logged_before_a_crash_reach_the_file(tmp_path):
    """A run that stops without closing its logger (an exception) still leaves its curves."""
    import gc

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from derivtrain.logging.tensorboard import TensorBoardLogger

    logger = TensorBoardLogger(tmp_path)
    for step in range(1, 4):
        logger.log_scalars({"train/loss": 1.0 / step}, step)
    del logger
    gc.collect()
    acc = EventAccumulator(str(tmp_path))
    acc.Reload()
    assert [(e.step, e.value) for e in acc.Scalars("train/loss")] == [(1, 1.0), (2, 0.5), (3, pytest.approx(1 / 3))]


def test_hparams_row_puts_the_command_line_first_and_stays_within_20():
    """As in a sweep job: the keys on the command line (the swept ones among them) are in the row."""
    from hydra import compose, initialize_config_dir
    from hydra.core.hydra_config import HydraConfig

    from derivtrain.logging.dashboard import hparams
    from derivtrain.paths import config_dir
    from tests.conftest import compose_config

    many = ["optim=sgd"] + [f"optim.{k}={v}" for k, v in (("lr", 0.05), ("momentum", 0.5), ("weight_decay", 0.01), ("gamma", 0.2),
                                          ("step_size", 7), ("patience", 3), ("schedule", "step"))]
    many += ["trainer.max_epochs=7", "trainer.seed=3", "trainer.batch_size=32", "logger=none", "data.val_size=0.2",
             "trainer.log_every_n_steps=5", "trainer.keep_checkpoints=1", "model.C=2.0"]
    cfg = compose_config(*many)
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        HydraConfig.instance().set_config(compose(config_name="config", overrides=many, return_hydra_config=True))
    try:
        row = hparams(cfg)
    finally:
        HydraConfig.instance().cfg = None  # as outside a run
    assert len(row) == 20 and list(row)[:7] == ["data", "model", "loss", "regularizer", "optim", "trainer", "logger"]
    assert row["logger"] == "none" and row["optim.lr"] == 0.05 and row["optim.schedule"] == "step"
    assert row["trainer.batch_size"] == 32 and row["trainer.keep_checkpoints"] == 1  # the command line, in order
    assert "model.C" not in row and "regularizer.strength" not in row  # past 20 values: the last ones give way
