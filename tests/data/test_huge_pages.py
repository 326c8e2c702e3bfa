"""Where large row buffers lie (derivtrain/data/huge_pages.py): an estimator's standardized table in
numpy's allocation (where Linux gives it 2 MB pages), a split's rows in torch's unless
SPLITS_IN_HUGE_PAGES; the same numbers either way."""
import re
import sys

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

import derivtrain.data.huge_pages as huge_pages
from derivtrain.data import build_data, sparse
from derivtrain.data.huge_pages import empty_rows
from derivtrain.estimator.arrays import _features
from tests.conftest import compose_config


def _thp_mode() -> str:
    try:
        with open("/sys/kernel/mm/transparent_hugepage/enabled") as f:
            return re.search(r"\[(\w+)\]", f.read()).group(1)
    except (OSError, AttributeError):
        return "none"


def _huge_kb_at(address: int) -> int:
    """AnonHugePages of the mapping that holds `address` (Linux's /proc/self/smaps)."""
    with open("/proc/self/smaps") as f:
        inside = False
        for line in f:
            head = re.match(r"^([0-9a-f]+)-([0-9a-f]+) ", line)
            if head:
                inside = int(head.group(1), 16) <= address < int(head.group(2), 16)
            elif inside and line.startswith("AnonHugePages:"):
                return int(line.split()[1])
    return 0


@pytest.mark.skipif(not sys.platform.startswith("linux") or _thp_mode() not in ("always", "madvise"),
                    reason="transparent huge pages off here")
def test_a_large_buffer_lies_in_huge_pages():
    rows = empty_rows(1 << 15, 512, torch.float32)  # 64 MB
    rows.fill_(1.0)  # the pages are given on first touch
    assert rows.is_contiguous() and rows.shape == (1 << 15, 512) and rows.dtype == torch.float32
    assert _huge_kb_at(rows.data_ptr() + rows.numel() * 2) >= 2048


def test_dtypes_numpy_lacks_take_torchs_allocator():
    assert empty_rows(3, 2, torch.bfloat16).dtype == torch.bfloat16
    assert empty_rows(3, 2, torch.float64).shape == (3, 2)


def test_a_large_split_lies_in_torchs_rows_unless_switched_with_the_same_numbers(monkeypatch):
    """A synthetic table of 2^20 numbers (the compiled standardization's size) is standardized into
    torch's buffer by default, into empty_rows' numpy buffer where SPLITS_IN_HUGE_PAGES (what
    scripts/bench_row_memory.py measures), and the two builds give the same numbers bit for bit."""
    cfg = compose_config("model=svm", "data=synthetic", "data.n_samples=12000", "data.n_features=100")
    sizes = []
    real_empty = np.empty
    monkeypatch.setattr(huge_pages.np, "empty", lambda shape, dtype: sizes.append(shape) or real_empty(shape, dtype))
    data = build_data(cfg.data, torch.device("cpu"), seed=0)
    assert tuple(data.train.X.shape) not in sizes
    monkeypatch.setattr(huge_pages, "SPLITS_IN_HUGE_PAGES", True)
    again = build_data(cfg.data, torch.device("cpu"), seed=0)
    assert tuple(again.train.X.shape) in sizes
    for a, b in ((data.train, again.train), (data.val, again.val), (data.test, again.test)):
        assert torch.equal(a.X, b.X) and torch.equal(a.y, b.y)


def test_a_solvers_float64_copy_and_an_estimators_standardized_rows():
    X = torch.as_tensor(load_digits().data, dtype=torch.float32)
    copy = sparse.astype(X, torch.float64)
    assert copy.dtype == torch.float64 and copy.is_contiguous() and torch.equal(copy, X.to(torch.float64))
    assert sparse.astype(X, torch.float32) is X
    rows = load_digits().data
    mean, scale = rows.mean(0), np.where(rows.std(0) > 0, rows.std(0), 1.0)
    mean_t, scale_t = torch.as_tensor(mean), torch.as_tensor(scale)
    got = _features(rows, mean_t, scale_t, True, torch.device("cpu"))
    assert torch.equal(got, torch.sub(torch.from_numpy(rows), mean_t).div_(scale_t))
    got32 = _features(rows.astype(np.float32), mean_t, scale_t, True, torch.device("cpu"))
    assert torch.equal(got32, torch.sub(torch.from_numpy(rows.astype(np.float32)).double(), mean_t).div_(scale_t))
