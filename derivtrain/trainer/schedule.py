"""When the loop does its periodic work: loss points, validation, histograms, certificate checks.

Each periodic job is budgeted by count, so a run is reproducible: whatever it costs, a job runs at
most `max_points` times a run, spread evenly (at least every `every` epochs as the user asked,
thinned on long runs). Two jobs whose cost against an epoch ranges widely are also thinned by their
measured time: the certificate check (100x between a full-batch and a minibatch loop), on a
geometric schedule (TimeShare), and a validation no decision reads (a quarter of a full-batch epoch
on a large table at an 80/20 split, a few hundredths of a minibatch epoch), at a stretched interval
(MeasuredInterval). On the 10,000-epoch full-batch runs of scripts/bench_overhead.py that keeps
logging and validation well under 10 % of a step; a short run still gets one loss point per epoch.
"""
import math
import time


def thinned_interval(every: int, total: int, max_points: int) -> int:
    """The interval (>= every) that gives at most max_points events in `total` units."""
    return max(int(every), math.ceil(total / max_points)) if every else 0


def default_log_interval(max_epochs: int, steps_per_epoch: int, max_points: int = 100) -> int:
    """trainer.log_every_n_steps=null: one loss point per epoch, or max_points a run if fewer."""
    points = min(max_epochs, max_points)
    return max(1, math.ceil(max_epochs * steps_per_epoch / points))


class Geometric:
    """Due at epochs 1, 2, 3, ... growing by `ratio` (1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 15, ...):
    for checks that cost a pass over the data (the optimality certificate), ~log(E) of them in E
    epochs, and a stop at most (ratio - 1) of the epochs after the first passing check."""

    def __init__(self, ratio: float = 1.25):
        self.ratio, self.next = ratio, 1

    def due(self, epoch: int) -> bool:
        """Whether `epoch` is in the sequence (epochs are asked in increasing order; a resumed run
        asks from its own epoch on and gets the same answers as the run it continues)."""
        while self.next < epoch:
            self._advance()
        if self.next != epoch:
            return False
        self._advance()
        return True

    def _advance(self) -> None:
        self.next = max(self.next + 1, math.floor(self.next * self.ratio))


class TimeShare:
    """Lets a costly periodic job (the optimality certificate: a float64 pass over every training
    row) run only while the time it took stays within `share` of the run's time so far.

    The next run's cost is the last one measured; before any, `first_in_epochs` times the mean
    epoch. A check on the geometric schedule that does not fit is skipped, so on a large table
    checked by a fast minibatch loop the checks thin out, and a long full-batch run on small data
    still checks every few epochs. The price: the epoch a run stops on its certificate depends on
    the machine's speed (the weights it stops at are certified either way).
    """

    def __init__(self, share: float, first_in_epochs: float, clock=time.perf_counter):
        self.share, self.first_in_epochs, self.clock = share, first_in_epochs, clock
        self.start, self.spent, self.cost = clock(), 0.0, None

    def allows(self, epochs_done: int) -> bool:
        elapsed = self.clock() - self.start - self.spent
        cost = self.cost if self.cost is not None else self.first_in_epochs * elapsed / max(epochs_done, 1)
        return self.spent + cost <= self.share * (elapsed + self.spent + cost)

    def measure(self, job):
        """job()'s result; its time counts towards the share."""
        start = self.clock()
        try:
            return job()
        finally:
            self.cost = self.clock() - start
            self.spent += self.cost


class MeasuredInterval:
    """Due every `every` epochs, the interval stretched (by whole multiples of `every`, so the points
    stay on the count schedule's grid) once the job's measured cost would take it past `share` of
    the loop's time: after each run of the job, the next is `stride` epochs on, with

        stride = every * ceil(cost / (share * every * mean epoch))

    from the job's last cost and the loop's mean epoch so far (the job's own time left out). While
    what the job has cost plus its remaining runs at `every` stays under `free` seconds, nothing is
    stretched (a short run's validations, which no user waits for). Evenly spread, unlike a
    time share's gate, which would spend the free seconds on the first epochs and then leave a gap."""

    def __init__(self, every: int, total_epochs: int, share: float, free: float, clock=time.perf_counter):
        self.every, self.total, self.share, self.free, self.clock = every, total_epochs, share, free, clock
        self.start, self.spent, self.next = clock(), 0.0, 0

    def due(self, epoch: int) -> bool:
        return bool(self.every) and epoch % self.every == 0 and epoch >= self.next

    def measure(self, epoch: int, epochs_done: int, job):
        """job()'s result; its time sets the next epoch it is due (epochs_done: the loop's epochs
        this process has timed, `epoch` among them)."""
        started = self.clock()
        try:
            return job()
        finally:
            cost = self.clock() - started
            self.spent += cost
            self.next = epoch + self._stride(cost, epoch, epochs_done)

    def _stride(self, cost: float, epoch: int, epochs_done: int) -> int:
        remaining = (self.total - epoch) // self.every
        if self.spent + remaining * cost <= self.free:
            return self.every
        mean_epoch = max(self.clock() - self.start - self.spent, 1e-9) / max(epochs_done, 1)
        return self.every * max(1, math.ceil(cost / (self.share * self.every * mean_epoch)))
