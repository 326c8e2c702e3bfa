"""Test points for kinked losses: random, but at least a fixed distance from every kink.

Finite differences across a kink measure the average of two one-sided slopes, not the derivative;
gradcheck is meaningful only where the function is smooth within its step.
"""
import torch

GAP = 0.05  # distance kept from the kink; gradcheck's step is 1e-6


def binary_point(shape, seed=0, dtype=torch.float64):
    """(scores, signs) with every margin y*s at least GAP away from 1."""
    g = torch.Generator().manual_seed(seed)
    signs = (torch.randint(0, 2, shape, generator=g) * 2 - 1).to(dtype)
    margins = torch.rand(shape, generator=g, dtype=torch.float64) * 3 - 1  # y*s in [-1, 2]
    margins[(margins - 1).abs() < GAP] += 2 * GAP
    return (signs * margins.to(dtype)).requires_grad_(), signs


def multiclass_point(n, k, seed=0, dtype=torch.float64):
    """(scores (n, k), classes (n,)): every rival's margin 1 + s_j - s_y at least GAP from 0, no two
    rivals within GAP of each other (Crammer-Singer's max has no tie)."""
    g = torch.Generator().manual_seed(seed)
    grid = torch.arange(-1.65, 1.7, 0.3, dtype=torch.float64)  # 12 margins, >= 0.15 from 0, 0.3 apart
    assert k - 1 <= len(grid)
    y = torch.randint(0, k, (n,), generator=g)
    offset = torch.randn(n, 1, generator=g, dtype=torch.float64)  # s_y itself
    margins = torch.stack([grid[torch.randperm(len(grid), generator=g)[:k - 1]] for _ in range(n)])
    margins += (torch.rand(margins.shape, generator=g, dtype=torch.float64) - 0.5) * 0.1  # jitter < GAP
    rival_scores = offset + margins - 1
    scores = torch.empty(n, k, dtype=torch.float64)
    for i in range(n):
        scores[i, y[i]] = offset[i, 0]
        scores[i, torch.arange(k) != y[i]] = rival_scores[i]
    return scores.to(dtype).requires_grad_(), y
