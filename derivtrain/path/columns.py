"""A path's rows stored by column: [X | 1]^T, (d + 1, n), for the passes a path makes many of.

A path makes ~2 passes over the rows per point (the search direction's scores X d, the gradient
X^T G) and a Hessian every few points, over the same rows 30 times; a certified fit makes a few.
torch's dense products with a tall row-major X were measured ~3x slower than the same products
on its transpose (100k x 51 float64, one thread, MKL, median of 9): X^T g 7.5 -> 2.1 ms, X d
7.0 -> 2.2 ms, X^T diag(D) X in chunks 25 -> 21 ms. So the path copies its rows once into this
layout (one copy of X, as the certified solver's [X | 1]) and offers LinearSystem's three
products (derivtrain/trainer/linear_system.py: scores, backproject, _blocks) on it.

Dense rows in one process only (the smooth path's own condition).
"""
import torch

_CHUNK = 1 << 19  # numbers scaled at a time in a Hessian (4 MB of float64: about L2's size)


class Columns:
    def __init__(self, X: torch.Tensor):
        n, d = X.shape
        self.Xt = X.new_empty(d + 1, n)
        self.Xt[:d] = X.T
        self.Xt[d] = 1.0

    def scores(self, T: torch.Tensor) -> torch.Tensor:
        """[X | 1] T^T, (n, K)."""
        return self.Xt.T @ T.T

    def backproject(self, G: torch.Tensor) -> torch.Tensor:
        """G^T [X | 1], (K, d + 1)."""
        return (self.Xt @ G).T

    def _blocks(self, D: torch.Tensor, extra: torch.Tensor) -> torch.Tensor:
        """H's (K, K, p, p) blocks sum_i D_i,kl x_i x_i^T plus `extra` on the weights' diagonal, as
        LinearSystem._blocks (D (n, K): the diagonal blocks only; (n, K, K): every block)."""
        p, K = self.Xt.shape[0], D.shape[1]
        blocks = self.Xt.new_zeros(K, K, p, p)
        for k in range(K):
            for l in range(k, K) if D.dim() == 3 else (k,):
                blocks[k, l] = signed_gram(self.Xt, D[:, k, l] if D.dim() == 3 else D[:, k])
                blocks[l, k] = blocks[k, l]
            blocks[k, k].diagonal()[:-1] += extra[k]
        return blocks


def signed_gram(Xt: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """[X | 1]^T diag(w) [X | 1]: weights of both signs (a multinomial's off-diagonal -p_k p_l) as
    two products of nonnegative ones, each A A^T with A the columns scaled by sqrt(w)."""
    weights = weights.to(Xt.dtype)
    if bool((weights >= 0).all()):
        return _gram(Xt, weights)
    return _gram(Xt, weights.clamp_min(0)) - _gram(Xt, (-weights).clamp_min(0))


def _gram(Xt: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    p, n = Xt.shape
    roots = weights.sqrt()
    out = Xt.new_zeros(p, p)
    cols = max(1, _CHUNK // p)
    scaled = Xt.new_empty(p, min(cols, n))
    for a in range(0, n, cols):
        A = torch.mul(Xt[:, a:a + cols], roots[a:a + cols], out=scaled[:, :min(cols, n - a)])
        out.addmm_(A, A.T)
    return (out + out.T) / 2  # the product's two triangles differ in rounding; Cholesky reads one
