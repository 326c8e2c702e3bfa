"""The linear algebra of second-order steps for a linear model: H d = -g with H = X^T D X + extras.

Parameters are one (K, d + 1) matrix T = [W | b]; the rows carry a last feature of ones, so the
scores are z = X_aug T^T and a gradient in scores G (n, K) becomes G^T X_aug in parameters (the
linear layer's part of the chain rule, written out: one pass over X). Second-order methods need

    H = sum_i (x_i x_i^T) (x) D_i  +  diag(extra on the weights)

with D_i the K x K curvature of row i in score space (diagonal when scores do not interact:
binary, one-vs-rest, regression). `factor` forms H's blocks X_aug^T diag(D_kl) X_aug (only the
diagonal ones when D is diagonal), each a symmetric rank-k product, and Cholesky-factors them
once, so one iteration can solve for several right-hand sides (the interior-point predictor and
corrector); past max_dense parameters it solves by preconditioned conjugate gradients with H v
products instead (two passes over X each).

X may be sparse (a CSR tensor, data=svmlight/npz): the products then go through
derivtrain/data/sparse.py, and CG's preconditioner past a dense block's size is H's diagonal,
diag(X^T D X) = (X*X)^T D, one more sparse product. Under trainer=ddp each rank holds its own
rows: scores stay per row, and every sum over rows (backproject, H's blocks, its diagonal) is
summed across ranks by `reduce` (derivtrain/trainer/distributed.py; one process: the identity).
"""
import torch

from derivtrain.data import sparse
from derivtrain.data.rank_k import float32_keeps, weighted_grams
from derivtrain.data.shards import OneProcess
from derivtrain.trainer.conjugate_gradient import conjugate_gradient, jacobi
from derivtrain.trainer.damped_cholesky import block_diagonal_solver, damped_cholesky

_MAX_BLOCK = 2048  # features a class past which CG's preconditioner is H's diagonal, not its blocks
_CG_STEPS = 500
_CG_RELATIVE = 1e-10  # CG's stop: the residual below this fraction of the right-hand side's norm
# Newton's own steps may be inexact (a truncated Newton method): CG stops at 1e-2 of the gradient's
# norm, which keeps the iteration count (digits multinomial to a 1e-10 gap: 7 steps either way)
# and cuts each step's CG iterations by ~4x; the interior point's predictor-corrector needs the exact solve
_CG_NEWTON = 1e-2
# far from the optimum (a sampled step) 1e-1, and H's diagonal for preconditioner: the direction need
# only descend, and K Cholesky-factored blocks a step cost about what the products they save do. Not for
# the softmax: its blocks, the classes' shift solved apart (shift_free), take digits to 1e-3 in 37
# products where H's diagonal took 129 (8 Newton steps either way; a fit in ~0.73x the time)
_CG_FAR = 1e-1
_COUPLED_CG_FROM = 4  # classes from which a coupled Newton step (the softmax) takes CG under hessian=auto
# a Newton step's Hessian from every _stride-th row once the rows outnumber _SAMPLE_PER * its size
# (and 1 << 13) _SPARSER times: far from the optimum any positive definite H gives a descent direction,
# and a sample's is H to ~sqrt(size / rows)
_SAMPLE_PER, _SAMPLE_LEAST, _SPARSER = 64, 1 << 13, 4
# a Newton step's CG preconditioner from H's diagonal blocks, formed and factored in float32: it shapes
# only the search directions (CG's products and residuals, and so the step, stay in float64), and the
# lower precision halves the blocks' syrks, most of a coupled Newton step (digits multinomial, 10
# blocks: 4.3 -> 3.3 ms; with X rounded once, _ROUND_WHOLE, and one weighted_grams call, 2.3 ms). The
# interior point's exact solves keep X's: its barrier's curvatures span many orders of magnitude,
# where float32 blocks would need damping.
_PRECONDITIONER = torch.float32
_ROUND_WHOLE = 1 << 22  # numbers of dense X rounded to the blocks' dtype in one copy (16 MB of float32)
_BACKPROJECT_NUMBERS = 1 << 18  # G^T X a block of rows at a time: one product over 100k rows blocks badly


class LinearSystem:
    def __init__(self, X_aug: torch.Tensor, n_outputs: int, max_dense: int, hessian: str = "auto", reduce=None):
        self.X, self.K, self.p = X_aug, n_outputs, X_aug.shape[1]
        self.max_dense, self.hessian = max_dense, hessian
        self.reduce = reduce or OneProcess()
        self._sparse = sparse.is_sparse(X_aug)
        # row ids for torch's index_add, reused by every backproject; on the CPU scipy's product needs none
        self._rows = sparse.row_ids(X_aug) if self._sparse and X_aug.device.type != "cpu" else None
        self._float32_keeps = None  # _rounds_safely's answer, once asked

    def scores(self, T: torch.Tensor) -> torch.Tensor:
        return sparse.times_transposed(self.X, T)

    def backproject(self, G: torch.Tensor) -> torch.Tensor:
        """Score gradients (n, K) -> parameter gradients (K, d + 1), summed over every rank's rows."""
        if self._sparse:
            return self.reduce.all_sum(sparse.backproject(G, self.X, self._rows))
        # in blocks of rows (one thread, 100k x 51, 3 columns: 14 -> 6.3 ms; 1 column: the same)
        out, step = G.new_zeros(G.shape[1], self.p), max(256, _BACKPROJECT_NUMBERS // self.p)
        for a in range(0, len(G), step):
            out.addmm_(G[a:a + step].T, self.X[a:a + step])
        return self.reduce.all_sum(out)

    def diagonal(self, D: torch.Tensor, extra: torch.Tensor) -> torch.Tensor:
        """diag(H) as (K, d + 1): (X*X)^T D_kk, plus `extra` on the weights (Jacobi's preconditioner)."""
        diag_D = D if D.dim() == 2 else D.diagonal(dim1=1, dim2=2)
        squares = sparse.squared(self.X)
        if self._sparse:
            out = sparse.backproject(diag_D, squares, self._rows)
        else:
            out = diag_D.T @ squares
        out = self.reduce.all_sum(out)
        out[:, :-1] += extra
        return out

    def factor(self, D: torch.Tensor, extra: torch.Tensor, newton: bool = False, sampled: bool = False):
        """A solver for H = X^T D X + diag(extra) (extra: (K, d) on the weights, none on the bias).
        newton: a Newton step, which may be solved inexactly; where the classes are coupled (the
        softmax) and many, hessian=auto then takes CG: the dense H has K (K + 1) / 2 blocks, each a
        pass of p^2 multiply-adds a row, CG's preconditioner K of them (digits, 10 classes: a
        multinomial fit 0.44 -> 0.15 s on one thread). Sparse rows (CSR) take CG with H's diagonal as
        its preconditioner too: a Hessian-vector product is two passes over the non-zeros, where
        X^T D X fills a dense (d + 1)^2 matrix to factor (tf-idf 20,000 x 2,000, 30 non-zeros a row,
        logistic to a 1e-3 gap: 0.73 -> 0.09 s, one thread; LIBLINEAR 0.16 s).

        Many dense rows (_stride > 1), a dense Newton step: `sampled` (far from the optimum) solves
        with the Hessian of a sample of the rows; otherwise a coupled H is solved by CG to _CG_NEWTON
        preconditioned by that sample's Hessian (a few products, each two passes, where the dense
        H costs K (K + 1) / 2 syrks of every row), an uncoupled one exactly (one syrk a class).
        100k x 51, 3 classes, one thread: 165 -> ~60 ms a step."""
        diagonal = D.dim() == 2
        size = self.p if diagonal else self.K * self.p
        many_coupled = newton and not diagonal and self.K >= _COUPLED_CG_FROM
        sparse_newton = newton and self._sparse and self.hessian == "auto"
        dense = self.hessian == "dense" or (self.hessian == "auto" and size <= self.max_dense
                                            and not many_coupled and not sparse_newton)
        stride = self._stride(size) if newton and dense and self.hessian == "auto" else 1
        if stride > 1 and (sampled or not diagonal):
            sample = _DenseFactor(self._blocks(D, extra, stride), diagonal)
            return sample if sampled else _ConjugateGradients(self, D, extra, _CG_NEWTON, preconditioner=sample.solve)
        if dense:
            return _DenseFactor(self._blocks(D, extra), diagonal)
        relative = (_CG_FAR if sampled else _CG_NEWTON) if newton else _CG_RELATIVE
        # far from the optimum H's diagonal preconditions well enough, except for the softmax's coupled
        # classes, whose blocks (with the shift taken out: shift_free) need a few products where it needs tens
        return _ConjugateGradients(self, D, extra, relative, jacobi=sparse_newton or (sampled and not many_coupled),
                                   blocks_dtype=_PRECONDITIONER if newton else None)

    def _rounds_safely(self) -> bool:
        """Whether blocks may be summed from these rows rounded to float32 (sparse rows: the sums are
        in their own dtype, only the result is rounded); found once, on the features (not the ones)."""
        if self._float32_keeps is None:
            self._float32_keeps = self._sparse or float32_keeps(self.X[:, :-1])
        return self._float32_keeps

    def _stride(self, size: int) -> int:
        """Every how many rows a sampled Hessian takes (1: all; always 1 for sparse rows)."""
        rows = max(_SAMPLE_LEAST, _SAMPLE_PER * size)
        return len(self.X) // rows if not self._sparse and len(self.X) >= _SPARSER * rows else 1

    def _blocks(self, D, extra, stride: int = 1, dtype: torch.dtype | None = None) -> torch.Tensor:
        """H's (K, K, p, p) blocks: sum_i D_i,kl x_i x_i^T, plus `extra` on the weights' diagonal.

        One X^T diag(D_kl) X per block, k <= l (D is symmetric), each a symmetric rank-k product
        for dense rows (derivtrain/data/rank_k.py: a block whose curvatures change sign, as the
        multinomial's off-diagonal -p_k p_l, is two). Measured against forming the rows' outer
        products once and multiplying by every block's curvatures (fewer multiply-adds, but n p^2 / 2
        numbers written a Hessian), one thread of a loaded 2-core machine (scripts/bench_second_order.py):
        one-vs-rest 100k x 51 x 3 1423 -> 135 ms, multinomial 1454 -> 210 ms. stride > 1: every
        stride-th row, its curvature scaled by n / rows (the sum's estimate). dtype: the blocks' (None: X's)."""
        K, p, X = self.K, self.p, self.X
        dtype = dtype if dtype is not None and self._rounds_safely() else X.dtype
        if dtype != X.dtype and not self._sparse and X.numel() <= _ROUND_WHOLE:
            X = X.to(dtype)  # rounded once for all K blocks, not chunk by chunk in each (2.7x a chunk's scaling)
        if stride > 1:
            X, D = X[::stride], D[::stride] * (len(X) / len(X[::stride]))
        if K == 1:  # one score column (binary, regression): X^T diag(D) X is the only block
            blocks = sparse.gram(X, D.reshape(-1), dtype).to(dtype).view(1, 1, p, p)
        elif D.dim() == 2 and not self._sparse:  # independent classes' blocks, in one call
            blocks = torch.zeros(K, K, p, p, dtype=dtype, device=X.device)
            blocks.diagonal(dim1=0, dim2=1).copy_(weighted_grams(X, D, dtype).permute(1, 2, 0))
        else:
            blocks = torch.zeros(K, K, p, p, dtype=dtype, device=X.device)
            for k in range(K):
                for l in range(k, K) if D.dim() == 3 else (k,):
                    blocks[k, l] = sparse.gram(X, D[:, k, l] if D.dim() == 3 else D[:, k], dtype)
                    blocks[l, k] = blocks[k, l]
        blocks = self.reduce.all_sum(blocks)
        for k in range(K):  # the penalty's curvature on the weights (not the bias: the last row/column)
            blocks[k, k].diagonal()[:-1] += extra[k]
        return blocks

    def apply(self, D, extra, V: torch.Tensor) -> torch.Tensor:
        """H V for a direction V (K, d + 1): two passes over X."""
        U = self.scores(V)
        # each row's D_i U_i as one batched product (einsum's route: 0.19 against 0.15 ms on digits, 10 classes)
        curved = D * U if D.dim() == 2 else torch.matmul(D, U.unsqueeze(2)).squeeze(2)
        out = self.backproject(curved)
        out[:, :-1] += extra * V[:, :-1]
        return out


class _DenseFactor:
    def __init__(self, blocks: torch.Tensor, diagonal: bool):
        K, _, p, _ = blocks.shape
        if diagonal:  # independent columns: K small systems, solved together
            self._solve = block_diagonal_solver(blocks)
        else:
            L = damped_cholesky(blocks.permute(0, 2, 1, 3).reshape(K * p, K * p))
            self._solve = lambda R: torch.cholesky_solve(R.reshape(-1, 1), L).view(K, p)

    def solve(self, R: torch.Tensor) -> torch.Tensor:
        """H^-1 R for R (K, d + 1)."""
        return self._solve(R)


class _ConjugateGradients:
    """H^-1 R by preconditioned CG (derivtrain/trainer/conjugate_gradient.py). The preconditioner is
    H's per-class diagonal blocks, Cholesky-factored: for problems whose classes do not interact
    (binary, one-vs-rest) they are H itself and CG ends in one step; coupled ones (multinomial,
    Crammer-Singer, Weston-Watkins) converge in a few. Past _MAX_BLOCK features a class the blocks
    would not fit, and the preconditioner is H's diagonal (Jacobi)."""

    def __init__(self, system: LinearSystem, D, extra, relative: float, jacobi: bool = False, preconditioner=None,
                 blocks_dtype: torch.dtype | None = None):
        self.system, self.D, self.extra, self.relative, self.jacobi = system, D, extra, relative, jacobi
        self.blocks_dtype = blocks_dtype  # the preconditioner's blocks' (None: X's)
        self.preconditioner = preconditioner  # R -> M R, M ~ H^-1 (a sample's Hessian), else from H's blocks (solve)

    def solve(self, R: torch.Tensor) -> torch.Tensor:
        system, D, extra = self.system, self.D, self.extra
        if self.preconditioner is None:  # formed at the first solve, kept for the next (the interior
            # point's corrector solves with its predictor's factor)
            if system.p <= _MAX_BLOCK and not self.jacobi:
                diag_D = D if D.dim() == 2 else D.diagonal(dim1=1, dim2=2)
                blocks = system._blocks(diag_D, extra, dtype=self.blocks_dtype)
                self.preconditioner = shift_free(_blocks_solver(blocks), D, extra)
            else:
                self.preconditioner = jacobi(system.diagonal(D, extra))
        return conjugate_gradient(lambda V: system.apply(D, extra, V), R, self.relative * R.norm().item(),
                                  _CG_STEPS, self.preconditioner)


def _blocks_solver(blocks: torch.Tensor):
    """block_diagonal_solver of blocks in a lower precision than the residuals it is given."""
    solve = block_diagonal_solver(blocks)
    return lambda R: solve(R.to(blocks.dtype)).to(R.dtype)


def shift_free(precondition, D: torch.Tensor, extra: torch.Tensor):
    """The preconditioner with the classes' common shift solved exactly, where scores matter only
    through their differences (the softmax, and any curvature D_i with D_i 1 = 0) and the penalty
    treats every class alike; else `precondition` itself.

    Adding one vector v to every class's weights (1 (x) v) then changes no loss: H (1 (x) v) is the
    penalty's curvature times v, and H maps the directions whose mean over classes is zero to
    themselves. H's diagonal blocks see neither: on the shift they are about p (1 - p) X^T X where H is
    only the penalty's (alpha 1e-4: eigenvalues 1e4 times too small), and the preconditioned
    residual's shift part then took CG most of its steps (digits, 10 classes: 16 products a Newton
    step -> 5). Here the mean over classes of the residual's penalized weights is solved by the
    penalty's curvature alone, the rest by the blocks, projected back off those shifts: the
    preconditioner stays symmetric and positive definite. The bias's shift, which H does not curve at
    all (and a gradient has no part along: the softmax's p - y sums to 0 over classes), stays with the
    blocks: a preconditioner that sent it to 0 would leave CG dividing 0 by 0 on a right-hand side
    with such a part."""
    if D.dim() != 3 or D.shape[1] < 2 or extra.dim() != 2 or not bool((extra == extra[:1]).all()):
        return precondition
    scale = D.diagonal(dim1=1, dim2=2).amax()  # a curvature's largest entry is on its diagonal (D_i >= 0)
    if not bool((D.sum(dim=2).abs().amax() <= 1e-10 * scale)):
        return precondition
    per_feature = extra[0]
    penalized = (per_feature > 0).to(extra.dtype)  # the weights whose shift the penalty curves
    shift_inverse = penalized / per_feature.clamp_min(torch.finfo(extra.dtype).tiny)

    def solve(R: torch.Tensor) -> torch.Tensor:
        shift = R[:, :-1].mean(dim=0, keepdim=True) * penalized
        within = R.clone()
        within[:, :-1] -= shift
        Z = precondition(within)
        Z[:, :-1] -= Z[:, :-1].mean(dim=0, keepdim=True) * penalized
        Z[:, :-1] += shift * shift_inverse
        return Z
    return solve
