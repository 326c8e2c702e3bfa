"""derivtrain.threads.map_blocks on two workers (the calling thread and one of the pool's): every item
once, results in the items' order, the work shared, nested maps inline, errors raised after every
worker has stopped, the caller's grad and inference modes in every worker."""
import threading
import time

import pytest
import torch

import derivtrain.threads as threads


@pytest.fixture
def two_workers(monkeypatch):
    monkeypatch.setattr(threads, "available", lambda: 2)


def test_every_item_once_in_order_and_the_work_shared(two_workers):
    seen, lock = [], threading.Lock()

    def square(i):
        with lock:
            seen.append((i, threading.get_ident()))
        time.sleep(0.002)  # long enough that the helper thread takes some of the items
        return i * i

    assert threads.map_blocks(square, range(40)) == [i * i for i in range(40)]
    assert sorted(i for i, _ in seen) == list(range(40))
    workers = {ident for _, ident in seen}
    assert threading.get_ident() in workers and len(workers) == 2


def test_a_nested_map_runs_inline_in_either_worker(two_workers):
    def inner(i):
        outer_thread = threading.get_ident()
        return threads.map_blocks(lambda j: (j, threading.get_ident() == outer_thread), range(3))

    for row in threads.map_blocks(inner, range(6)):
        assert row == [(0, True), (1, True), (2, True)]


@pytest.mark.parametrize("failing", [0, 7])  # an item the calling thread takes first, and a later one
def test_an_error_is_raised_once_every_worker_has_stopped(two_workers, failing):
    running, done, lock = [0], [], threading.Lock()

    def item(i):
        with lock:
            running[0] += 1
        time.sleep(0.001)
        with lock:
            running[0] -= 1
        if i == failing:
            raise ValueError(f"item {i}")
        done.append(i)
        return i

    with pytest.raises(ValueError, match=f"item {failing}"):
        threads.map_blocks(item, range(200))
    assert running[0] == 0 and len(done) < 199  # nothing still running; the claims stopped early
    assert threads.map_blocks(lambda i: i + 1, range(5)) == [1, 2, 3, 4, 5]  # the pool still serves


def test_every_worker_runs_in_the_callers_modes(two_workers):
    def modes(_):
        return torch.is_grad_enabled(), torch.is_inference_mode_enabled(), torch.get_num_threads()

    with torch.inference_mode():
        got = set(threads.map_blocks(lambda i: (time.sleep(0.001), modes(i))[1], range(20)))
    assert got == {(False, True, 1)}
    with torch.no_grad():
        assert set(threads.map_blocks(modes, range(20))) == {(False, False, 1)}
