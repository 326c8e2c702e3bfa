"""Global importance, ranks, the CSV, and rank agreement between methods."""
import csv

import numpy as np
import pytest
from scipy.stats import spearmanr

from scipy.stats import rankdata

from derivtrain.sensitivity.importance import (Importance, average_ranks, rank_agreement, row_spearman, spearman,
                                               write_importance_csv)


def test_importance_is_mean_absolute_attribution_with_ranks():
    values = np.array([[1.0, -4.0, 0.5], [-3.0, 2.0, 0.5]])
    table = Importance.of(values, ["a", "b", "c"])
    np.testing.assert_allclose(table.importance, [2.0, 3.0, 0.5])
    np.testing.assert_allclose(table.signed_mean, [-1.0, -1.0, 0.5])
    assert table.rank.tolist() == [2, 1, 3] and table.top(2) == ["b", "a"]


def test_ties_keep_the_feature_order():
    assert Importance.of(np.ones((2, 3)), ["a", "b", "c"]).rank.tolist() == [1, 2, 3]


def test_spearman_matches_scipy_with_ties():
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 4, size=(5, 12)).astype(float), rng.normal(size=(5, 12))
    for i in range(5):
        assert spearman(a[i], b[i]) == pytest.approx(spearmanr(a[i], b[i]).statistic, abs=1e-12)
    np.testing.assert_allclose(row_spearman(a, b), [spearmanr(a[i], b[i]).statistic for i in range(5)], atol=1e-12)
    np.testing.assert_array_equal(average_ranks(a), rankdata(a, axis=1))
    assert np.isnan(row_spearman(np.ones((1, 4)), b[:1, :4])[0])  # a constant map has no ranking


def test_rank_agreement_pairs_and_mean():
    same = Importance.of(np.array([[1.0, 2.0, 3.0]]), ["a", "b", "c"])
    reversed_ = Importance.of(np.array([[3.0, 2.0, 1.0]]), ["a", "b", "c"])
    agreement = rank_agreement({"x": same, "y": same, "z": reversed_})
    assert agreement == pytest.approx({"x_vs_y": 1.0, "x_vs_z": -1.0, "y_vs_z": -1.0, "mean": -1 / 3})
    assert rank_agreement({"x": same}) == {}


def test_csv_has_one_row_per_method_and_feature_in_rank_order(tmp_path):
    tables = {"m1": Importance.of(np.array([[1.0, -3.0]]), ["f0", "f1"]),
              "m2": Importance.of(np.array([[2.0, 0.0]]), ["f0", "f1"])}
    with open(tmp_path / "importance.csv", "w", newline="") as f:
        write_importance_csv(f, tables)
    rows = list(csv.DictReader(open(tmp_path / "importance.csv")))
    assert list(rows[0]) == ["feature", "importance", "rank", "signed_mean", "method"]
    assert [(r["method"], r["feature"], r["rank"]) for r in rows] == [
        ("m1", "f1", "1"), ("m1", "f0", "2"), ("m2", "f0", "1"), ("m2", "f1", "2")]
    assert float(rows[0]["importance"]) == 3.0 and float(rows[0]["signed_mean"]) == -3.0
