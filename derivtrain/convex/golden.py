"""The best scale of a kinked loss's dual point: the maximum of a concave function on [0, upper]
(derivtrain/convex/certificate.py: the hinge family's D(s theta) along s)."""
import math


def best_on_interval(value, upper: float, steps: int = 60) -> float:
    """Golden-section search for the best s in [0, upper] of a concave function."""
    ratio = (math.sqrt(5) - 1) / 2
    a, b = 0.0, upper
    x1, x2 = b - ratio * (b - a), a + ratio * (b - a)
    f1, f2 = value(x1), value(x2)
    for _ in range(steps):
        if f1 < f2:
            a, x1, f1 = x1, x2, f2
            x2 = a + ratio * (b - a)
            f2 = value(x2)
        else:
            b, x2, f2 = x2, x1, f1
            x1 = b - ratio * (b - a)
            f1 = value(x1)
    return (a + b) / 2
