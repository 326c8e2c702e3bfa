"""The analysis as a user runs it: after training, on a saved run, and its start-up cost."""
import csv
import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

import derivtrain
from tests.conftest import REPO, run_main

DIGITS = [f"pixel_{r}_{c}" for r in range(8) for c in range(8)]


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("digits") / "run"
    proc = run_main("model=mlp", "data=digits", "trainer.max_epochs=20", "logger.histogram_every_n_epochs=0",
                   "analysis=compare", "analysis.methods=[saliency,integrated_gradients]",
                   "analysis.sanity_check=true", f"hydra.run.dir={folder}")
    assert proc.returncode == 0, proc.stderr
    return folder, proc


def test_run_writes_attributions_and_importance(digits_run):
    folder, proc = digits_run
    out = folder / "attributions"
    assert sorted(p.name for p in out.iterdir()) == ["importance.csv", "integrated_gradients.npz", "saliency.npz"]
    rows = list(csv.DictReader(open(out / "importance.csv")))
    for method in ("saliency", "integrated_gradients"):
        mine = [r for r in rows if r["method"] == method]
        assert sorted(r["feature"] for r in mine) == sorted(DIGITS)
        assert [int(r["rank"]) for r in mine] == list(range(1, 65))
        importance = [float(r["importance"]) for r in mine]
        assert importance == sorted(importance, reverse=True) and importance[-1] >= 0
    assert "analysis integrated_gradients: 359 rows" in proc.stderr


def test_saved_attributions_are_complete_for_the_saved_model(digits_run):
    # closes the loop: the npz's IG, for the model load_run gives back, sums to s(x) - s(baseline)
    folder, _ = digits_run
    saved = np.load(folder / "attributions" / "integrated_gradients.npz")
    assert str(saved["space"]) == "standardized" and list(saved["feature_names"]) == DIGITS
    assert saved["attributions"].shape == saved["inputs"].shape == saved["random_model_attributions"].shape == (359, 64)
    model = derivtrain.load_run(folder)
    with torch.no_grad():
        scores = model(torch.from_numpy(saved["inputs"])) - model(torch.from_numpy(saved["baseline"])[None])
    explained = scores.gather(1, torch.from_numpy(saved["targets"])[:, None]).squeeze(1).numpy()
    np.testing.assert_allclose(saved["attributions"].sum(1) - saved["delta"], explained, atol=1e-3)
    # a ReLU MLP is integrated exactly (integration=auto): complete without the delta's correction
    np.testing.assert_allclose(saved["attributions"].sum(1), explained, atol=1e-3)
    np.testing.assert_array_equal(saved["targets"], model.predict(saved["inputs"] * model.feature_scale.numpy()
                                                                  + model.feature_mean.numpy()))


def test_metrics_report_completeness_agreement_and_sanity(digits_run):
    folder, proc = digits_run
    metrics = json.loads((folder / "metrics.json").read_text())
    assert 0 <= metrics["analysis/ig_max_abs_delta"] <= 1e-3  # exact piecewise integral: float rounding only
    assert 0.5 < metrics["analysis/rank_agreement/saliency_vs_integrated_gradients"] <= 1
    assert metrics["analysis/n_samples"] == 359
    # Adebayo et al.: saliency changes with random weights; IG, multiplied by the input, much less
    assert metrics["analysis/sanity/saliency/rank_corr"] < 0.3 and not metrics["analysis/sanity/saliency/flagged"]
    assert metrics["analysis/sanity/integrated_gradients/rank_corr"] > metrics["analysis/sanity/saliency/rank_corr"]
    assert "analysis/ig_max_abs_delta" in proc.stdout


def test_tensorboard_gets_importance_bars_and_class_heatmaps(digits_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    folder, _ = digits_run
    acc = EventAccumulator(str(folder), size_guidance={"images": 0, "tensors": 0})
    acc.Reload()
    images = set(acc.Tags()["images"])
    for method in ("saliency", "integrated_gradients"):
        assert {f"sensitivity/{method}/importance", f"sensitivity/{method}/class_heatmaps"} <= images
    bars = acc.Images("sensitivity/saliency/importance")[0]
    assert bars.width > 300 and bars.height > 300
    table = acc.Tensors("results/analysis/metrics/text_summary")[0].tensor_proto.string_val[0].decode()
    assert "| analysis/ig_max_abs_delta |" in table and not [t for t in acc.Tags()["scalars"] if "analysis" in t]


def test_analyze_a_saved_run_rebuilds_the_same_test_rows(digits_run, tmp_path):
    folder, _ = digits_run
    before = (folder / "metrics.json").read_text()
    proc = run_main(f"run={folder}", "analysis=compare", "analysis.methods=[integrated_gradients,kernel_shap]",
                   "analysis.max_samples=4", "analysis.n_samples=80", f"out={tmp_path / 'out'}",
                   module="derivtrain.analyze")
    assert proc.returncode == 0, proc.stderr
    assert "analysis/rank_agreement/integrated_gradients_vs_kernel_shap" in proc.stdout
    again = np.load(tmp_path / "out" / "integrated_gradients.npz")
    original = np.load(folder / "attributions" / "integrated_gradients.npz")
    np.testing.assert_allclose(again["attributions"], original["attributions"][:4], atol=1e-6)
    assert np.load(tmp_path / "out" / "kernel_shap.npz")["attributions"].shape == (4, 64)
    assert json.loads((tmp_path / "out" / "metrics.json").read_text())["analysis/n_samples"] == 4
    assert (folder / "metrics.json").read_text() == before  # the training record stays as it was


@pytest.mark.parametrize("module,args,expected", [
    ("derivtrain", ["model=mlp", "model.activation=gelu", "analysis=deeplift"],
     "analysis method deeplift cannot explain this model: it has no rule for GELU"),
    ("derivtrain.analyze", ["analysis=saliency"], "which run?"),
    ("derivtrain.analyze", ["run=/no/such/run", "analysis=saliency", "data=wine"], "data cannot be changed"),
])
def test_bad_analysis_configuration_exits_2_before_training(tmp_path, module, args, expected):
    proc = run_main(*args, *([f"hydra.run.dir={tmp_path / 'run'}"] if module == "derivtrain" else []), module=module)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and expected in lines[0], proc.stderr
    assert not (tmp_path / "run" / "checkpoints").exists()  # refused before training


def test_captum_and_matplotlib_load_only_when_an_analysis_needs_them(tmp_path):
    script = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        import derivtrain.run
        assert "captum" not in sys.modules and "matplotlib" not in sys.modules, "imported at start-up"
        from tests.conftest import compose_config
        cfg = compose_config("model=logistic", "data=iris", "trainer.max_epochs=3", "logger=none",
                             "analysis=saliency")
        derivtrain.run.run(cfg, {str(tmp_path)!r})
        # derivtrain's own saliency needs neither; with logger=none no figure is drawn
        assert "captum" not in sys.modules and "matplotlib" not in sys.modules, "imported by an own method"
        assert (Path({str(tmp_path)!r}) / "attributions" / "saliency.npz").is_file()
        print("ok")
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0 and proc.stdout.strip().endswith("ok"), proc.stderr
