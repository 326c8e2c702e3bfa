"""When dual coordinate descent (derivtrain/trainer/dual_cd.py) certifies, and when it gives up.

Clock: a certificate costs two passes over X and some O(n) work, 2-4 epochs over every row of
sparse rows. The next one waits for a tenth of the epochs so far and for epochs that cost as much as
the last certificates did, so checks cost at most about half of the epochs near the end and a tenth
before.

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
import time

_CHECK_SPACING = 0.1  # the next certificate no sooner than this fraction of the epochs so far
_WARM_UP = 20.0  # epochs over every row (in rows visited) before the rate is judged
_HOPELESS = 500.0  # epochs over every row the rate may promise to reach tol; more: hand over
_HOPELESS_WIDE = 2500.0  # the same against the interior point's conjugate-gradient steps


class Clock:
    """Seconds spent in epochs and in certificates, and the epochs the next certificate waits."""

    def __init__(self):
        self.epochs, self.checks = _Stopwatch(), _Stopwatch()

    def spacing(self, epoch: int) -> int:
        per_epoch = self.epochs.seconds / max(self.epochs.count, 1)
        per_check = self.checks.seconds / max(self.checks.count, 1)
        return max(1, math.ceil(_CHECK_SPACING * epoch), math.ceil(per_check / max(per_epoch, 1e-9)))


class _Stopwatch:
    def __init__(self):
        self.seconds, self.count = 0.0, 0

    def __enter__(self):
        self._start = time.perf_counter()

    def __exit__(self, *exc):
        self.seconds += time.perf_counter() - self._start
        self.count += 1


class Progress:
    """The estimated gap of each epoch over every row against the work done (epochs over every row, in
    rows visited): whether tol is out of reach at the rate of the second half of the work."""

    def __init__(self, tol: float, wide: bool = False):
        """wide: the interior point would take conjugate-gradient steps (_HOPELESS_WIDE)."""
        self.tol, self.seen, self.why = tol, [], ""
        self.limit = _HOPELESS_WIDE if wide else _HOPELESS

    def hopeless(self, work: float, primal_seen: float, dual_seen: float) -> bool:
        gap = max((primal_seen - dual_seen) / max(abs(primal_seen), 1e-300), 1e-300)
        self.seen.append((work, gap))
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
        self.why = f"the estimated gap went from {before:.2g} to {gap:.2g} over the last {work - then:.0f} epochs ({pace})"
        return True
