"""check_features reads the rows a block at a time (their extremes): a bad value in any block is
found, and named by its row in the whole table and its column's name."""
import numpy as np
import pytest

from derivtrain.data import table
from derivtrain.data.table import DataError, check_features

NAMES = ["a", "b", "c"]


@pytest.fixture
def small_blocks(monkeypatch):
    monkeypatch.setattr(table, "_CHECK_NUMBERS", 12)  # 4 rows of 3 a block: 25 blocks of the rows below


def rows():
    return np.random.default_rng(0).standard_normal((100, 3))


@pytest.mark.parametrize("value, says", [(np.nan, "NaN or infinite values (row 57, column b: nan)"),
                                         (-np.inf, "NaN or infinite values (row 57, column b: -inf)"),
                                         (1e300, "row 57, column b: 1e+300 is too large for float32"),
                                         (-4e38, "row 57, column b: -4e+38 is too large for float32")])
def test_a_bad_value_in_a_later_block_is_named_by_its_row_and_column(small_blocks, value, says):
    X = rows()
    X[57, 1] = value
    with pytest.raises(DataError, match=None) as error:
        check_features(X, NAMES)
    assert says in str(error.value)


def test_the_last_row_and_values_at_float32s_limit(small_blocks):
    X = rows()
    X[99, 2] = np.nan
    with pytest.raises(DataError, match="row 99, column c"):
        check_features(X, NAMES)
    X[99, 2] = -float(np.finfo(np.float32).max)  # the largest magnitude float32 holds: accepted
    X[0, 0] = float(np.finfo(np.float32).max)
    check_features(X, NAMES)
    check_features(X.astype(np.float32), NAMES)


def test_no_rows_or_no_columns_are_refused():
    with pytest.raises(DataError, match="no feature columns"):
        check_features(np.zeros((5, 0)), [])
    with pytest.raises(DataError, match="no rows"):
        check_features(np.zeros((0, 3)), NAMES)
