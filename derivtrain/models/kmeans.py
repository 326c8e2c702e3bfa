"""k-means++ seeding and Lloyd's iterations: where a mixture model's fitting starts.

EM only finds a local maximum of the likelihood, so its start matters. k-means++ (Arthur and
Vassilvitskii, 2007) picks centres far apart, each with probability proportional to its squared
distance to the centres already chosen; the greedy variant (scikit-learn's) draws a few candidates
per centre and keeps the one that lowers the k-means cost most. Lloyd's iterations then refine
the centres, and the clusters become the mixture's first responsibilities.
"""
import math

import torch


def _squared_distances(X: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    """(n, m) squared Euclidean distances; centred differences, exact also far from the origin."""
    return (X.unsqueeze(1) - centres.unsqueeze(0)).square_().sum(-1)


def _draw(weights: torch.Tensor, count: int, generator: torch.Generator) -> torch.Tensor:
    """`count` indices drawn with probability proportional to `weights` (by inverse CDF: unlike
    torch.multinomial, no limit of 2**24 categories)."""
    cdf = weights.double().cumsum(0)
    u = torch.rand(count, generator=generator, device=weights.device, dtype=cdf.dtype) * cdf[-1]
    return torch.searchsorted(cdf, u).clamp_(max=len(weights) - 1)


def kmeans_plus_plus(X: torch.Tensor, k: int, generator: torch.Generator) -> torch.Tensor:
    """k centres (k, d) chosen among the rows of X by greedy k-means++."""
    n = X.shape[0]
    n_trials = 2 + int(math.log(k))  # scikit-learn's choice for the greedy variant
    first = torch.randint(n, (1,), generator=generator, device=X.device)
    centres = [X[first]]
    closest = _squared_distances(X, centres[0]).squeeze(1)
    for _ in range(1, k):
        # all rows at distance 0 (fewer distinct rows than k): any row is as good as another
        weights = closest if bool(closest.sum() > 0) else torch.ones_like(closest)
        candidates = _draw(weights, n_trials, generator)
        with_candidate = torch.minimum(closest.unsqueeze(1), _squared_distances(X, X[candidates]))
        best = with_candidate.sum(0).argmin()
        closest = with_candidate[:, best]
        centres.append(X[candidates[best]].unsqueeze(0))
    return torch.cat(centres)


def assign(X: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    """The nearest centre of every row: (n,) int64."""
    return _squared_distances(X, centres).argmin(1)


def lloyd(X: torch.Tensor, centres: torch.Tensor, max_iter: int = 100) -> torch.Tensor:
    """Lloyd's iterations from `centres` until no row changes cluster; returns the final clusters.

    One host sync per iteration (has any label changed?), which k-means needs to stop; it runs
    tens of iterations, not thousands.
    """
    k = centres.shape[0]
    labels = assign(X, centres)
    for _ in range(max_iter):
        counts = torch.bincount(labels, minlength=k).to(X.dtype)
        sums = torch.zeros_like(centres).index_add_(0, labels, X)
        # an empty cluster keeps its centre rather than jumping to 0/0
        centres = torch.where(counts.unsqueeze(1) > 0, sums / counts.clamp_min(1).unsqueeze(1), centres)
        new_labels = assign(X, centres)
        if torch.equal(new_labels, labels):
            break
        labels = new_labels
    return labels
