"""Which strength the validation metric picks along a path.

scores[k, p] is the metric of fold k (one row without folds: the validation split) at point p,
points strongest first. rule=min takes the best mean (glmnet's lambda.min; ties go to the stronger
penalty); rule=1se the strongest penalty whose mean is within one standard error of the best
(glmnet's lambda.1se, Hastie, Tibshirani and Friedman, ESL 7.10): a simpler model the data cannot
tell apart from the best. The standard error is the folds' standard deviation / sqrt(K); with one
validation split there is none, and 1se is min.
"""
from dataclasses import dataclass

import numpy as np


@dataclass
class Choice:
    index: int
    mean: np.ndarray  # per point
    se: np.ndarray  # per point (zeros without folds)


def choose(scores, higher_is_better: bool, rule: str = "min") -> Choice:
    scores = np.asarray(scores, dtype=np.float64)
    mean = scores.mean(axis=0)
    k = scores.shape[0]
    se = scores.std(axis=0, ddof=1) / np.sqrt(k) if k > 1 else np.zeros_like(mean)
    signed = mean if higher_is_better else -mean
    signed = np.where(np.isfinite(signed), signed, -np.inf)  # a NaN score (constant targets' r2) never wins
    best = int(np.argmax(signed))  # the first of equals: the strongest penalty
    if rule == "1se":
        threshold = signed[best] - se[best]
        best = int(np.flatnonzero(signed >= threshold)[0])
    return Choice(best, mean, se)
