"""When dual coordinate descent (derivtrain/trainer/dual_cd.py) certifies, and when it gives up.

spacing: a certificate costs two passes over X and some O(n) work, 2-4 epochs over every row of
sparse rows. The next one waits for a tenth of the work so far and at least _CHECK_COST epochs' worth,
so checks cost at most about half of the epochs near the end and a tenth before.

Progress: dual coordinate descent converges linearly, at a rate set by the rows' length against
the penalty (C R^2 in LIBLINEAR's terms): tf-idf rows of unit norm gain a decade of gap every ~20
epochs; the same rows with standardized columns (squared norms ~2,000) stood at 0.35 for 30 epochs
and reached 3e-3 after 1,000. Each epoch over every row gives an estimate of the gap for free; once
the estimates of the second half of the work so far say tol is more than _HOPELESS epochs away (or
they do not fall at all), the fitter hands the problem to the interior point, whose ~20-30 steps do
not depend on that conditioning. Where the interior point's steps would be conjugate gradients (more
parameters than optim.max_dense), each of them tens to hundreds of passes over X, it hands over only
past _HOPELESS_WIDE: 140k x 100k standardized tf-idf rows, C R^2 = 710, were on course for ~900
epochs after 24 and reached 1e-4 after 267 (29 s for the run), where the interior point had not
finished 20 steps in 400 s.
"""
import math

_CHECK_SPACING = 0.1  # the next certificate no sooner than this fraction of the work so far
_CHECK_COST = 3.0  # and no sooner than this many epochs over every row (what one costs, at most)
_WARM_UP = 20.0  # epochs over every row (in rows visited) before the rate is judged
_HOPELESS = 500.0  # epochs over every row the rate may promise to reach tol; more: hand over
_HOPELESS_WIDE = 2500.0  # the same against the interior point's conjugate-gradient steps


def spacing(work: float) -> float:
    """The work (epochs over every row, in rows visited) the next certificate waits after one made at
    `work`: a tenth of the work so far, and at least _CHECK_COST. Counted in rows visited, not seconds,
    so that every run of the same problem certifies at the same epochs (and a resumed run at the
    uninterrupted run's)."""
    return max(_CHECK_COST, _CHECK_SPACING * work)


class Progress:
    """The estimated gap of each epoch over every row against the work done (epochs over every row, in
    rows visited): whether tol is out of reach at the rate of the second half of the work."""

    def __init__(self, tol: float, wide: bool = False):
        """wide: the interior point would take conjugate-gradient steps (_HOPELESS_WIDE)."""
        self.tol, self.seen, self.why = tol, [], ""
        self.limit = _HOPELESS_WIDE if wide else _HOPELESS

    def hopeless(self, work: float, primal_seen: float, dual_seen: float) -> bool:
        gap = max((primal_seen - dual_seen) / max(abs(primal_seen), 1e-300), 1e-300)
        self.seen.append((float(work), float(gap)))  # plain floats: a checkpoint holds them
        if work < _WARM_UP:
            return False
        then, before = next((w, g) for w, g in self.seen if w >= work / 2)
        if then == work or gap <= self.tol:
            return False
        rate = math.log(gap / before) / (work - then)  # < 0 while the gap falls
        needed = math.inf if rate >= 0 else work + math.log(self.tol / gap) / rate
        if needed <= self.limit:
            return False
        pace = "no progress" if rate >= 0 else f"at that pace optim.tol={self.tol:g} takes ~{needed:.0f} epochs"
        self.why = (f"the estimated gap went from {before:.2g} to {gap:.2g} over the last {work - then:.0f} epochs "
                    f"({pace})")
        return True
