"""From per-row attributions to one number per feature, and how far methods agree on the ranking.

Global importance is the mean |attribution| over the explained rows: positive and negative
contributions both count as the feature mattering. The signed mean says in which direction it
pushed on average (it can be near zero for an important feature that pushes both ways).
"""
import csv
from dataclasses import dataclass

import numpy as np


@dataclass
class Importance:
    features: list
    importance: np.ndarray  # (d,) mean |attribution|
    signed_mean: np.ndarray  # (d,) mean attribution
    rank: np.ndarray  # (d,) 1 = most important; ties keep the features' order

    @classmethod
    def of(cls, values: np.ndarray, features) -> "Importance":
        importance = np.abs(values).mean(axis=0)
        order = np.argsort(-importance, kind="stable")
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(1, len(order) + 1)
        return cls(list(features), importance, values.mean(axis=0), rank)

    def top(self, k: int) -> list:
        return [self.features[i] for i in np.argsort(self.rank)[:k]]


def write_importance_csv(file, tables: dict) -> None:
    """importance.csv into `file` (text, newline=""): feature, importance, rank, signed_mean, method;
    by method, then by rank."""
    writer = csv.writer(file)
    writer.writerow(["feature", "importance", "rank", "signed_mean", "method"])
    for method, table in tables.items():
        for i in np.argsort(table.rank):
            writer.writerow([table.features[i], f"{table.importance[i]:.9g}", int(table.rank[i]),
                             f"{table.signed_mean[i]:.9g}", method])


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation of two vectors (ties get their average rank)."""
    return float(row_spearman(a[None], b[None])[0])


def row_spearman(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Spearman rank correlation of each row of a with the same row of b; nan for a constant row."""
    ra, rb = average_ranks(a), average_ranks(b)
    ra -= ra.mean(axis=1, keepdims=True)
    rb -= rb.mean(axis=1, keepdims=True)
    denom = np.sqrt((ra ** 2).sum(axis=1) * (rb ** 2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, (ra * rb).sum(axis=1) / np.where(denom > 0, denom, 1), np.nan)


def average_ranks(a: np.ndarray) -> np.ndarray:
    """Ranks 1..d along each row, tied values sharing their average rank (scipy's rankdata).

    A value's ties occupy sorted positions [left, right), so its average 1-based rank is
    (left + right + 1) / 2; torch.searchsorted finds both ends for every row at once (and keeps
    scipy.stats and its ~0.8 s import out of the analysis).
    """
    import torch

    values = torch.as_tensor(np.asarray(a, dtype=np.float64))
    ordered = values.sort(dim=1).values
    left = torch.searchsorted(ordered, values, right=False)
    right = torch.searchsorted(ordered, values, right=True)
    return ((left + right + 1) / 2).numpy().astype(np.float64)


def rank_agreement(tables: dict) -> dict:
    """Spearman correlation of the global importance between every pair of methods, and their mean."""
    names = list(tables)
    pairs = {f"{a}_vs_{b}": spearman(tables[a].importance, tables[b].importance)
             for i, a in enumerate(names) for b in names[i + 1:]}
    if pairs:
        pairs["mean"] = float(np.nanmean(list(pairs.values())))
    return pairs
