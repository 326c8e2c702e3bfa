"""What a user sees first in TensorBoard, read from the event files of each fitter's default run as
TensorBoard orders them: Time Series cards, Custom Scalars charts, no one-point chart."""
import functools
import re

import pytest

from tests.conftest import run_main

# the runs below are one module fixture: every test here on one xdist worker, so they run once
pytestmark = pytest.mark.xdist_group("dashboard")

# one default run per fitter; the first two are the ones a newcomer tries first
RUNS = {"certified": ("model=svm",), "gradient": ("model=mlp", "data=digits"), "em": ("model=gmm",),
        "newton": ("model=logistic", "optim=newton"),
        "sgd": ("model=svm", "optim=sgd")}  # the gradient loop on a convex model: thinned certificate checks


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulators = {}
    for fitter, overrides in RUNS.items():
        folder = tmp_path_factory.mktemp(fitter) / "run"
        proc = run_main(*overrides, f"hydra.run.dir={folder}")
        assert proc.returncode == 0, proc.stderr
        acc = EventAccumulator(str(folder), size_guidance={"scalars": 0, "histograms": 0, "tensors": 0})
        acc.Reload()
        accumulators[fitter] = acc
    return accumulators


def _compare_tags(a: str, b: str, breaks: str = "/") -> int:
    """TensorBoard's Time Series tag order (webapp/metrics/views/utils.ts, compareTagNames): numbers
    compare by value, and a break ('/' or a digit) sorts before any other character. The Text tab's
    Polymer dashboard uses the older vz_sorting copy, where '_' is a break too (breaks="/_")."""
    i = j = 0
    while True:
        if i == len(a):
            return 0 if j == len(b) else -1
        if j == len(b):
            return 1
        if a[i].isdigit() and b[j].isdigit():
            number_a, number_b = re.match(r"\d+(\.\d*)?", a[i:]).group(), re.match(r"\d+(\.\d*)?", b[j:]).group()
            if float(number_a) != float(number_b):
                return -1 if float(number_a) < float(number_b) else 1
            i, j = i + len(number_a), j + len(number_b)
            continue
        break_a, break_b = a[i] in breaks or a[i].isdigit(), b[j] in breaks or b[j].isdigit()
        if break_a != break_b:
            return -1 if break_a else 1
        if not break_a and a[i] != b[j]:
            return -1 if a[i] < b[j] else 1
        i, j = i + 1, j + 1


def time_series_cards(acc) -> list:
    """The cards in the order Time Series shows them: tags sorted, then grouped by their first part,
    groups in the order of their first tag."""
    tags = sorted({t for kind in ("scalars", "histograms", "images") for t in acc.Tags()[kind]},
                  key=functools.cmp_to_key(_compare_tags))
    groups = {}
    for tag in tags:
        groups.setdefault(tag.split("/", 1)[0], []).append(tag)
    return [tag for group in groups.values() for tag in group]


def test_the_comparator_orders_as_tensorboard_documents():
    """The examples in compareTagNames' own documentation, and the groups dashboard.py relies on."""
    def order(*tags):
        return sorted(tags, key=functools.cmp_to_key(_compare_tags))

    assert order("a10b", "a2b") == ["a2b", "a10b"] and order("a+/a", "a/a") == ["a/a", "a+/a"]
    assert order("c.solver/lr", "c.more/x", "c/val/loss", "c/train/loss") == \
        ["c/train/loss", "c/val/loss", "c.more/x", "c.solver/lr"]


def text_tab_tags(acc) -> list:
    """The Text tab's tags in the order it shows them (tf-text-dashboard: sorted, then grouped by
    their first part, groups in the order of their first tag)."""
    names = [t.removesuffix("/text_summary") for t in acc.Tags()["tensors"] if t.endswith("/text_summary")]
    tags = sorted(names, key=functools.cmp_to_key(functools.partial(_compare_tags, breaks="/_")))
    groups = {}
    for tag in tags:
        groups.setdefault(tag.split("/", 1)[0], []).append(tag)
    return [tag for group in groups.values() for tag in group]


def test_the_text_tab_opens_on_the_results(runs):
    from derivtrain.logging.dashboard import CONFIG_TEXT, RESULTS_TEXT, analysis_text

    assert text_tab_tags(runs["certified"]) == [RESULTS_TEXT, CONFIG_TEXT]
    # a run with an analysis: its tables between the results and the config
    order = sorted([CONFIG_TEXT, analysis_text("metrics"), RESULTS_TEXT, analysis_text("saliency")],
                   key=functools.cmp_to_key(functools.partial(_compare_tags, breaks="/_")))
    assert order == [RESULTS_TEXT, analysis_text("metrics"), analysis_text("saliency"), CONFIG_TEXT]


@pytest.mark.parametrize("fitter", ["certified", "gradient"])
def test_time_series_opens_on_loss_and_accuracy(runs, fitter):
    cards = time_series_cards(runs[fitter])
    assert all(re.fullmatch(r"classification/(train|val)/(loss|accuracy)", tag) for tag in cards[:2]), cards
    # the solver's internals come after every curve of the run
    internals = [i for i, tag in enumerate(cards) if tag.startswith("classification.solver/")]
    curves = [i for i, tag in enumerate(cards) if tag.startswith(("classification/", "classification.more/"))]
    assert internals and max(curves) < min(internals)


@pytest.mark.parametrize("fitter", list(RUNS))
def test_no_one_point_chart_in_a_default_run(runs, fitter):
    acc = runs[fitter]
    assert {tag: len(acc.Scalars(tag)) for tag in acc.Tags()["scalars"] if len(acc.Scalars(tag)) < 2} == {}


@pytest.mark.parametrize("fitter", list(RUNS))
def test_every_custom_scalars_chart_has_data(runs, fitter):
    from tensorboard.plugins.custom_scalar import layout_pb2

    acc = runs[fitter]
    last = acc.Tensors("custom_scalars__config__")[-1]  # TensorBoard reads the run's last layout
    category, = layout_pb2.Layout.FromString(last.tensor_proto.string_val[0]).category
    tags = acc.Tags()["scalars"]
    empty = [c.title for c in category.chart if not [t for t in tags if any(re.match(r, t) for r in c.multiline.tag)]]
    assert category.chart and empty == []


def test_the_certified_solver_draws_its_gap_every_iteration(runs):
    acc = runs["certified"]
    gap = [e.step for e in acc.Scalars("classification.more/train/optimality_gap")]
    assert len(gap) > 2 and gap == [e.step for e in acc.Scalars("classification/train/loss")]
    charts = _chart_titles(acc)
    assert "optimality gap (an upper bound, relative)" in charts and "accuracy: val" in charts
    assert "learning rate" not in charts and "gradient norm" not in charts  # no such curves in this fitter


def test_newtons_method_opens_on_its_loss(runs):
    acc = runs["newton"]
    assert time_series_cards(acc)[0] == "classification/train/loss"
    loss, objective = acc.Scalars("classification/train/loss"), acc.Scalars("classification.more/train/objective")
    assert len(loss) == len(objective) > 1 and all(l.value < o.value for l, o in zip(loss, objective))  # L2 > 0


def test_the_gradient_loop_charts_its_learning_rate(runs):
    charts = _chart_titles(runs["gradient"])
    assert {"learning rate", "gradient norm", "accuracy: val"} <= set(charts)


def _chart_titles(acc) -> list:
    from tensorboard.plugins.custom_scalar import layout_pb2

    layout = layout_pb2.Layout.FromString(acc.Tensors("custom_scalars__config__")[-1].tensor_proto.string_val[0])
    return [chart.title for category in layout.category for chart in category.chart]


def test_hparams_opens_on_what_a_sweep_varies(tmp_path):
    """TensorBoard shows the first 5 hparams, those whose values differ between runs first, then by name
    (tensorboard/plugins/hparams/backend_context.py, _sort_and_reduce_to_hparams_limit): for a sweep
    over seeds and models, the swept keys and the choices they move."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    sweep = tmp_path / "sweep"
    proc = run_main("-m", "trainer.seed=0,1", "model=svm,logistic", f"hydra.sweep.dir={sweep}")
    assert proc.returncode == 0, proc.stderr
    values = {}
    for job in sorted(p for p in sweep.iterdir() if p.is_dir()):
        acc = EventAccumulator(str(job))
        acc.Reload()
        content = acc.PluginTagToContent("hparams")["_hparams_/session_start_info"]
        start = plugin_data_pb2.HParamsPluginData.FromString(content).session_start_info
        for name, value in start.hparams.items():
            values.setdefault(name, set()).add(value.SerializeToString())
    shown = sorted(values, key=lambda name: (len(values[name]) == 1, name))[:5]
    assert shown[:3] == ["loss", "model", "trainer.seed"], shown
    assert not [name for name in values if name.startswith(("test/", "val/", "train/"))]
