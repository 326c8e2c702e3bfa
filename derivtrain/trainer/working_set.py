"""Working sets for proximal Newton (derivtrain/trainer/prox_newton.py): each step's model over the
features that matter, its Hessian X_S^T D X_S over those columns only.

Under an L1 penalty on many features most weights are zero at the optimum (20k x 2k tf-idf rows,
L1 logistic: 18 of 2,000). A step whose Hessian spans every column pays for all the zeros: n d^2
dense, or every pair of columns that share a row (scipy's sparse product there: 0.12 s a step,
97% of the fit). Here a step solves proximal Newton's model restricted to a working set S:

    S = every non-zero weight, and the zero weights whose optimality condition |grad_j| <= lam_j
        is most violated (largest |grad_j| - lam_j first, only those > 0), 2 |support| in all and
        at least _FIRST; or every violator, where there are at most 4 sqrt(d) of them

(the doubling rule of celer and skglm: Massias, Gramfort and Salmon, ICML 2018; Bertrand et al.,
NeurIPS 2022; written here from the papers' descriptions). Every violator joins while a set of
them costs little: its Hessian (n |S|^2 at syrk's rate) then costs about one gradient pass (n d
read from memory), which each step the doubling rule adds would cost. From w = 0 the violators
are the features a first step can move at all (20k x 2k tf-idf rows: 42 for the lasso, 18 for
the L1 logistic, against supports of 44 and 18): a lasso took 4 steps (sets of 10, 20, 40, 44),
now 2 (42, 44), 26.4-32.5 -> 16.8-20.9 ms (four alternating processes of 15 fits each); the L1
logistic's time did not move beyond this machine's spread. The direction is zero off S, so a step
is a block step of the whole objective: the line search and the certificate stay the whole
problem's, and the fit stops on the same duality gap as before. S is chosen again at every
iterate from the full gradient X^T G (one pass, which the certificate needs anyway): a weight the
last set left out but the optimum needs shows as a violation and joins the next set. Every
violator off S ranks below none of S's satisfied zeros, so a set whose own model is solved gives
way to the weights still violating: the sets grow until none does.

With few features (<= _WHOLE_UP_TO) the first step from w = 0 takes every feature and the later
sets are not capped: every non-zero weight and every violator. Grown from _FIRST a set would add
iterations (each a pass or two over the rows) to save a Hessian that costs a few passes, and a
quadratic loss, whose Hessian is formed once, would need a second one for the features that join
(from zero a lasso's one step lands on its optimum); the last steps of a smooth loss take only the
support and the few zeros still violating (100k x 50 L1 logistic: 26-29 of 50 columns).
"""
import numpy as np
import torch

from derivtrain.data import sparse
from derivtrain.data.rank_k import float32_keeps

_FIRST = 10
_WHOLE_UP_TO = 100
# a set's columns are gathered chunk by chunk only below this share of them: 100k x 50, all
# 15.4 ms, 29 gathered 13.7, 42 gathered 18.5
_TAKE_BELOW = 0.6
_CHUNK = 1 << 18  # numbers of X scaled at a time in a Hessian (2 MB of float64: within L2)


def choose(W: np.ndarray, grad: np.ndarray, lam: np.ndarray, most: int | None = None) -> list:
    """Per score column k, its working set: sorted feature indices, or None for every feature.
    W, grad, lam: (K, d) weights, the smooth part's gradient and the L1 coefficients; most: at most
    this many features a set (optim.max_dense - 1: the Hessian's size; the non-zero weights first,
    then the worst violators; past it the largest gradients among the non-zero weights go first,
    the others wait a step: the direction is zero off the set, so every step is still a descent
    step of the whole objective)."""
    K, d = W.shape
    most = d if most is None else max(1, min(d, most))
    sets = []
    for k in range(K):
        nonzero = W[k] != 0
        if d <= min(_WHOLE_UP_TO, most) and not nonzero.any():  # a first step: every feature (module docstring)
            sets.append(None)
            continue
        # the non-zero weights first (by how far their optimality condition is off, where they do not
        # all fit), then the zeros by their violation
        off = np.abs(grad[k] + lam[k] * np.sign(W[k]))
        violation = np.abs(grad[k]) - lam[k]
        violators = int(np.count_nonzero(violation[~nonzero] > 0))
        support = int(nonzero.sum())
        size = d if d <= _WHOLE_UP_TO else max(2 * support, _FIRST, support + min(violators, _every_violator_up_to(d)))
        size = min(size, most, d)
        first = max(float(off.max(initial=0.0)), float(violation.max(initial=0.0))) + 1.0
        score = np.where(nonzero, first + off, violation)
        top = np.argpartition(-score, size - 1)[:size] if size < d else np.arange(d)
        top = np.sort(top[score[top] > 0])
        sets.append(None if len(top) == d else top)
    return sets


def _every_violator_up_to(d: int) -> int:
    """A set may hold every violating zero up to this many features: its Hessian, n s^2 at syrk's rate,
    then costs about what one more step's gradient pass (n d, read from memory) would."""
    return int(4 * np.sqrt(d))


class Columns:
    """X read by column subsets, on the CPU through numpy and scipy. Sparse rows are copied once to
    scipy's CSC layout (a column slice is then a view of its entries; 20k x 2k, 440k non-zeros:
    4 ms to copy, and its X^T g takes 0.44 ms against 2.2 ms for torch's index_add over the CSR
    tensor). Dense rows are read in place as a numpy array: on the 2-core AMD EPYC here numpy's
    BLAS took G^T X (100k x 50, two columns of G) in 4.2 ms against torch's 7.9, and X^T D X in
    row chunks in 15.8 ms against 22.7 (torch's MKL). Elsewhere (a GPU) torch's products; sparse
    rows there take no working sets (`selectable`)."""

    def __init__(self, X: torch.Tensor):
        self.X, self.csc, self.dense = X, None, None
        self._single = None  # dense rows in float32 for the Hessian blocks (hessian_rows), made once
        if X.device.type == "cpu" and X.dtype == torch.float64:
            if sparse.is_sparse(X):
                self.csc = sparse.to_scipy(X).tocsc()
            else:
                self.dense = X.numpy()
        self.selectable = self.csc is not None or not sparse.is_sparse(X)

    def backproject(self, G: torch.Tensor) -> torch.Tensor:
        """G^T X, (K, d), for G (n, K)."""
        if self.csc is not None:
            return torch.from_numpy(np.ascontiguousarray((self.csc.T @ G.numpy()).T))
        if self.dense is not None:
            return torch.from_numpy(np.ascontiguousarray(G.numpy().T) @ self.dense)
        return sparse.backproject(G, self.X)

    def times(self, index, v: torch.Tensor) -> torch.Tensor:
        """X[:, index] v, (n,): a direction's scores (index None: every column)."""
        if self.csc is not None:
            return torch.from_numpy(np.asarray((self.csc if index is None else self.csc[:, index]) @ v.numpy()))
        if self.dense is not None:  # dense rows are read whole either way: v spread over every column,
            # not a copy of the set's columns (100k x 45: 36 MB written, then read)
            return torch.from_numpy(self.dense @ _spread(index, v.numpy(), self.dense.shape[1]))
        return self.X @ v if index is None else self.X.index_select(1, _indices(index, self.X)) @ v

    def hessian_rows(self) -> np.ndarray:
        """The dense rows rounded to float32, for the Hessian blocks alone: a block only shapes the
        step (the gradient, the line search and the certificate read the float64 rows), and BLAS
        takes float32's syrk at twice the rate over half the bytes (100k x 50: 16.5 -> 8.1 ms a
        block, entries within 1e-7 of the largest). The copy costs ~3 ms there, less than one block saves.
        The float64 rows serve where the copy would take more than a quarter of the memory available,
        and where a column sits far from zero for its spread (raw features with standardize=False:
        3e7 + N(0, 1) keeps none of its variation in float32's 7 digits)."""
        if self._single is None:
            from derivtrain.data.memory import available_memory

            free = available_memory()
            fits = free is None or self.dense.size * 4 <= free // 4
            keeps = fits and float32_keeps(torch.from_numpy(self.dense))
            self._single = self.dense.astype(np.float32) if keeps else self.dense
        return self._single

    def block(self, index, D: torch.Tensor, rounded: bool = True) -> torch.Tensor:
        """[X_S | 1]^T diag(D) [X_S | 1], (|S| + 1, |S| + 1), over this process's rows (index None:
        every column): a Hessian block of the loss's part, the bias's row and column last. `rounded`:
        dense rows in float32 (hessian_rows); False where the block must be exact (a quadratic loss,
        whose one step from its one Hessian lands on the optimum)."""
        if self.dense is not None:
            rows, d = self.hessian_rows() if rounded else self.dense, self.dense.shape[1]
            if index is not None and len(index) > _TAKE_BELOW * d:  # gathering the columns costs more
                return _restricted_block(_dense_block(rows, None, D.numpy()), index)
            return torch.from_numpy(_dense_block(rows, index, D.numpy()))
        if self.csc is not None:
            return torch.from_numpy(_sparse_block(self.csc, index, D.numpy()))
        rows = self.X if index is None else self.X.index_select(1, _indices(index, self.X))
        p = rows.shape[1]
        out = D.new_empty(p + 1, p + 1)
        out[:p, :p] = sparse.gram(rows, D)
        out[:p, p] = out[p, :p] = sparse.backproject(D[:, None], rows)[0]
        out[p, p] = D.sum()
        return out


def _restricted_block(block: np.ndarray, index) -> torch.Tensor:
    take = np.append(index, len(block) - 1)
    return torch.from_numpy(block[np.ix_(take, take)])


def _spread(index, v: np.ndarray, d: int) -> np.ndarray:
    if index is None:
        return v
    out = np.zeros(d)
    out[index] = v
    return out


def _indices(index, X) -> torch.Tensor:
    return torch.as_tensor(index, device=X.device)


def _dense_block(X: np.ndarray, index, D: np.ndarray) -> np.ndarray:
    """Over row chunks, A = sqrt(D) X_S: numpy's A.T @ A is one BLAS syrk, and A^T sqrt(D) = X_S^T D
    the bias's column, both while the chunk is in cache (chunks of 4,096 rows of 51 were 15 ms at
    100k rows, of 10,000 18 ms; np.take into the chunk, 8.6 ms over half the columns, where numpy's
    fancy index made a copy of its own: 23 ms)."""
    n = X.shape[0]
    p = X.shape[1] if index is None else len(index)
    rows = max(1, _CHUNK // max(p, 1))
    buffer = np.empty((min(rows, n), p), dtype=X.dtype)  # X's precision (hessian_rows: float32)
    out = np.zeros((p + 1, p + 1))  # the chunks' sums in float64
    roots = np.sqrt(D).astype(X.dtype)
    for a in range(0, n, rows):
        A, root = buffer[:min(rows, n - a)], roots[a:a + rows]
        if index is None:
            np.multiply(X[a:a + rows], root[:, None], out=A)
        else:
            np.take(X[a:a + rows], index, axis=1, out=A)
            A *= root[:, None]
        out[:p, :p] += A.T @ A
        out[:p, p] += A.T @ root
    out[p, :p] = out[:p, p]
    out[p, p] = D.sum()
    return out


def _sparse_block(csc, index, D: np.ndarray) -> np.ndarray:
    import scipy.sparse as sp

    A = csc if index is None else csc[:, index]
    p = A.shape[1]
    # the rows scaled by D: a CSC matrix's row indices pick each entry's weight
    scaled = sp.csc_matrix((A.data * D[A.indices], A.indices, A.indptr), shape=A.shape)
    out = np.empty((p + 1, p + 1))
    out[:p, :p] = (A.T @ scaled).toarray()
    out[:p, p] = out[p, :p] = A.T @ D
    out[p, p] = D.sum()
    return out
