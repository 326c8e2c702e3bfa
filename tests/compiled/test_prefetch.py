"""derivtrain/compiled/prefetch.py: the prefetch hint compiles for every element type a kernel asks it for in
one module (float64 values, dual coordinate descent's (column, value) pairs) and changes no number."""
import numpy as np
import pytest

numba = pytest.importorskip("numba")


def test_a_prefetch_changes_no_number_and_takes_any_element_type():
    from derivtrain.compiled.prefetch import prefetch
    from derivtrain.trainer.dual_cd import PAIR

    @numba.njit
    def sums(values, pairs):
        total = 0.0
        for k in range(len(values)):
            prefetch(values, k + 8)  # past the end too: a hint reads nothing
            prefetch(pairs, k + 4)
            total += values[k] + pairs[k].v * pairs[k].j
        return total

    rng = np.random.default_rng(0)
    values = rng.standard_normal(1000)
    pairs = np.zeros(1000, dtype=PAIR)
    pairs["j"], pairs["v"] = rng.integers(0, 50, 1000), rng.standard_normal(1000)
    expected = 0.0
    for k in range(1000):
        expected += values[k] + pairs["v"][k] * pairs["j"][k]
    assert sums(values, pairs) == expected
