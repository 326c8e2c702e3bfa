import numpy as np
import pytest

from derivtrain.data.csv import load_csv
from derivtrain.errors import DataError


def write(tmp_path, text):
    path = tmp_path / "table.csv"
    path.write_text(text)
    return path


def test_csv_with_string_labels_and_chosen_features(tmp_path):
    path = write(tmp_path, "a,b,c,label\n1,2,3,cat\n4,5,6,dog\n7,8,9,cat\n")
    table = load_csv(str(path), target="label", features=["c", "a"])
    np.testing.assert_array_equal(table.X, [[3, 1], [6, 4], [9, 7]])
    assert table.feature_names == ["c", "a"] and table.task == "classification"
    assert list(table.y) == ["cat", "dog", "cat"]


def test_csv_task_auto_detects_regression(tmp_path):
    path = write(tmp_path, "x,y\n" + "".join(f"{i},{i * 0.37:.3f}\n" for i in range(40)))
    table = load_csv(str(path), target="y")
    assert table.task == "regression" and table.y.dtype == np.float64


@pytest.mark.parametrize("text,kwargs,match", [
    ("a,b\n1,2\n", {"target": "lable"}, "not a column"),
    ("a,b\n1,x\n2,3\n", {"target": "a"}, "not a number"),
    ("a,b\n", {"target": "a"}, "header row and at least one data row"),
    ("a,label\n1,x\n2,y\n", {"target": "label", "task": "regression"}, "non-numeric"),
])
def test_csv_errors_say_what_and_where(tmp_path, text, kwargs, match):
    with pytest.raises(DataError, match=match):
        load_csv(str(write(tmp_path, text)), **kwargs)


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        load_csv(str(tmp_path / "nope.csv"), target="y")
