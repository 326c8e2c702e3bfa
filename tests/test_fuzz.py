"""Hypothesis fuzzes the two doors bad input comes through: CSV files and command-line overrides.

Whatever arrives, the answer is a table or a UserError with a message, never another exception.
"""
import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from derivtrain.config import check_overrides, validate
from derivtrain.data.csv import load_csv
from derivtrain.errors import UserError
from derivtrain.error_messages import describe_user_error
from tests.conftest import compose_config

cells = st.one_of(st.floats(allow_nan=True, allow_infinity=True).map(repr), st.integers().map(str),
                  st.text(alphabet=string.ascii_letters + " -_.", max_size=6), st.just(""))


@st.composite
def csv_text(draw):
    n_cols = draw(st.integers(1, 4))
    header = draw(st.lists(st.sampled_from(["a", "b", "label", "x y", ""]), min_size=n_cols, max_size=n_cols))
    rows = draw(st.lists(st.lists(cells, min_size=0, max_size=n_cols + 1), max_size=8))
    return "\n".join([",".join(header)] + [",".join(r) for r in rows]) + draw(st.sampled_from(["", "\n"]))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=csv_text(), target=st.sampled_from(["label", "a", "missing"]),
       task=st.sampled_from(["auto", "classification", "regression"]))
def test_csv_loader_returns_a_table_or_a_user_error(tmp_path, text, target, task):
    path = tmp_path / "fuzz.csv"
    path.write_text(text)
    try:
        table = load_csv(str(path), target=target, task=task)
    except UserError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    assert table.X.shape[0] == len(table.y) and table.task in ("classification", "regression")


KEYS = ["trainer.max_epochs", "trainer.batch_size", "optim.lr", "data.test_size", "trainer.device",
        "regularizer.strength", "model", "optim", "data", "trainer.max_epoch", "loss", "trainer.seed"]
VALUES = st.one_of(st.integers(-3, 5).map(str), st.floats(-2, 2, allow_nan=False).map(str),
                   st.sampled_from(["svm", "svmm", "adam", "cuda:7", "auto", "null", "abc", "wine", "[1,2]"]))


# 30 examples: each composes a config (~0.15 s); the 12 keys x 3 value kinds are covered many times over
@settings(max_examples=30, deadline=None)
@given(pairs=st.lists(st.tuples(st.sampled_from(KEYS), VALUES), max_size=3, unique_by=lambda kv: kv[0]))
def test_overrides_compose_or_fail_with_a_readable_message(pairs):
    overrides = [f"{k}={v}" for k, v in pairs]
    try:
        check_overrides(overrides)  # what the CLI runs before Hydra sees the overrides
        validate(compose_config(*overrides))
    except Exception as exc:  # noqa: BLE001 - the point: every failure must be one the CLI explains
        message = describe_user_error(exc)
        assert message, f"{overrides} raised {type(exc).__name__}: {exc}"
