"""The certificate's cheap parts give what the plain ones gave: the float64 passes over X a block at
a time, the closed-form bias scaling of one score column, the hinge's closed-form dual point."""
import pytest
import torch

import derivtrain.convex.passes as passes
import derivtrain.threads as threads
from derivtrain.convex.bias import _newton, _one_column, balance_rows
from derivtrain.convex.certificate import dual_point
from derivtrain.losses.hinge import HingeDatafit
from derivtrain.losses.squared_hinge import SquaredHingeDatafit


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.mark.filterwarnings("ignore:Sparse CSR tensor support")
@pytest.mark.parametrize("inference", [False, True])  # the certified solver certifies in inference mode
@pytest.mark.parametrize("layout", ["dense", "sparse", "compiled", "compiled-csr", "compiled-csr-int32"])
def test_blocks_give_the_float64_products_of_the_whole(monkeypatch, layout, inference):
    """Several blocks, on two threads (what a run on 2 cores has), in and out of inference mode; dense
    float32 rows both through float64 copies and through the compiled passes (passes_kernels.py)."""
    monkeypatch.setattr(threads, "available", lambda: 2)
    if layout.startswith("compiled"):
        if not passes.available():
            pytest.skip("no module compiled ahead of time here: the copies' blocks serve")
        monkeypatch.setattr(passes, "_COMPILED_ROWS", 256)  # 4 blocks and a part
        monkeypatch.setattr(passes, "block", lambda *args: pytest.fail("a float64 copy was made"))
        monkeypatch.setattr(passes, "astype", lambda *args: pytest.fail("a float64 copy was made"))
    else:
        monkeypatch.setattr(passes, "available", lambda build=True: False)
    with torch.inference_mode(inference):
        check_blocks(monkeypatch, {"compiled": "dense", "compiled-csr": "sparse"}.get(layout, layout))


def _csr_int32(X: torch.Tensor) -> torch.Tensor:
    """X as a CSR tensor with 32-bit indices, as derivtrain's own CSR rows are (torch's default: 64)."""
    import scipy.sparse as sp

    from derivtrain.data.sparse import from_scipy

    rows = from_scipy(sp.csr_matrix(X.numpy()), dtype=X.dtype)
    assert rows.col_indices().dtype == torch.int32
    return rows


def check_blocks(monkeypatch, layout):
    monkeypatch.setattr(passes, "_BUFFER_BYTES", 8 * 5 * 64)  # 256 rows a block (its floor): 4 blocks and a part
    monkeypatch.setattr(passes, "_SPARSE_ROWS", 100)
    X = torch.randn(1003, 5, generator=gen())  # the last block's last 3 rows: fewer than the kernel's group of 4
    X[X.abs() < 0.5] = 0
    W, b = torch.randn(3, 5, generator=gen(1), dtype=torch.float64), torch.randn(3, dtype=torch.float64)
    G = torch.randn(1003, 3, generator=gen(2), dtype=torch.float64)
    G[8:12, 1] = 0.0  # a group of rows with nothing to add to one column
    G[20:22] = 0.0  # rows with nothing to add to any column
    rows = {"dense": X, "sparse": X.to_sparse_csr(), "compiled-csr-int32": _csr_int32(X)}[layout]
    assert passes.block_rows(rows) == (256 if layout == "dense" else 100)
    torch.testing.assert_close(passes.scores(rows, W, b), X.double() @ W.T + b, rtol=1e-13, atol=1e-13)
    torch.testing.assert_close(passes.backproject(G.T, rows), G.T @ X.double(), rtol=1e-13, atol=1e-13)


def test_passes_run_on_one_thread_and_give_the_threads_back():
    before = torch.get_num_threads()
    seen = []
    original = torch.Tensor.copy_

    def spy(self, *args, **kwargs):
        seen.append(torch.get_num_threads())
        return original(self, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(passes, "available", lambda build=True: False)  # the copies' blocks (the compiled passes copy nothing)
        patch.setattr(torch.Tensor, "copy_", spy)
        passes.scores(torch.randn(10, 3), torch.ones(1, 3, dtype=torch.float64), torch.zeros(1, dtype=torch.float64))
    assert seen and set(seen) == {1} and torch.get_num_threads() == before


@pytest.mark.parametrize("shift", [0.0, 0.3, -0.3])
def test_one_column_scaling_in_closed_form_is_newtons(shift):
    """theta of both signs, unbalanced either way (and balanced): the same scaled rows as Newton."""
    theta = torch.randn(5000, 1, generator=gen(), dtype=torch.float64) + shift
    c = torch.rand(5000, generator=gen(1), dtype=torch.float64)
    c /= c.sum()
    scale = (c[:, None] * theta.abs()).sum(dim=0).max()
    closed, residual = balance_rows(theta, c)
    newton, newton_residual = _newton(theta, c, scale, lambda t: t)
    assert residual <= 1e-12 and newton_residual <= 1e-12
    torch.testing.assert_close(closed, newton, rtol=1e-10, atol=1e-12)
    assert bool(((closed / theta >= 0) & (closed / theta <= 1 + 1e-15)).all())  # rows scaled toward 0


def test_a_row_that_would_reach_zero_goes_to_newton():
    """theta (2, 1, -0.1, -0.1): the linear root lambda = 0.56 would scale the first row by
    1 - 2 lambda < 0; the answer scales it to 0 and the second by 1 - lambda = 0.2 (lambda = 0.8)."""
    theta = torch.tensor([[2.0], [1.0], [-0.1], [-0.1]], dtype=torch.float64)
    c = torch.full((4,), 0.25, dtype=torch.float64)
    scale = (c[:, None] * theta.abs()).sum(dim=0).max()
    assert _one_column(theta, c, scale, lambda t: t) is None
    scaled, residual = balance_rows(theta, c)
    assert residual <= 1e-12
    torch.testing.assert_close(scaled[:, 0], torch.tensor([0.0, 0.2, -0.1, -0.1], dtype=torch.float64))


@pytest.mark.parametrize("mu", [1e-1, 1e-4, 1e-12])
def test_the_hinges_closed_form_dual_point_is_autograds_bit_for_bit(mu):
    z = torch.randn(2000, 3, generator=gen(), dtype=torch.float64) * 2
    y = torch.sign(torch.randn(2000, 3, generator=gen(1), dtype=torch.float64))
    hinge = HingeDatafit(3)
    with torch.enable_grad():
        leaf = z.clone().requires_grad_(True)
        (expected,) = torch.autograd.grad(hinge.smoothed(leaf, y, mu).sum(), leaf)
    assert torch.equal(dual_point(hinge, z, y, mu), expected)
    squared = SquaredHingeDatafit(3)  # smooth: its derivative in closed form, whatever mu
    with torch.enable_grad():
        (expected,) = torch.autograd.grad(squared.values(leaf, y).sum(), leaf)
    torch.testing.assert_close(dual_point(squared, z, y, mu), expected, rtol=1e-14, atol=0)


@pytest.mark.parametrize("overrides", [(), ("optim=sgd", "trainer.batch_size=64", "trainer.max_epochs=2")])
def test_a_run_certifies_the_same_on_two_threads_in_many_blocks(tmp_path, monkeypatch, overrides):
    """The certified solver (whose report runs in inference mode) and a minibatch run, with blocks of
    256 rows shared by two threads: the same objective and gap as on one thread, to rounding."""
    from tests.trainer.helpers import fit_config

    import derivtrain.convex.rowwise as rowwise

    monkeypatch.setattr(passes, "_BUFFER_BYTES", 1)
    monkeypatch.setattr(rowwise, "BLOCK_ROWS", 100)
    results = {}
    for workers in (1, 2):
        monkeypatch.setattr(threads, "available", lambda: workers)
        result, _, _ = fit_config(tmp_path / str(workers), "model=svm", *overrides, natural=not overrides)
        results[workers] = result.metrics
    for key in ("train/objective", "train/optimality_gap"):
        assert results[2][key] == pytest.approx(results[1][key], rel=1e-9, abs=1e-12)


def test_the_pass_buffer_serves_in_and_out_of_inference_mode():
    """The thread's float64 buffer outlives a pass: made in inference mode (the certified solver's
    report), it is written again by a gradient run's certificate, out of it."""
    X, W, b = torch.randn(50, 3), torch.ones(1, 3, dtype=torch.float64), torch.zeros(1, dtype=torch.float64)
    passes._buffers.__dict__.clear()
    with torch.inference_mode():
        inside = passes.scores(X, W, b)
    torch.testing.assert_close(passes.scores(X * 2, W, b), inside * 2)


def test_the_golden_section_search_finds_a_concave_functions_best_point():
    from derivtrain.convex.golden import best_on_interval

    assert best_on_interval(lambda s: -(s - 0.3) ** 2, 2.0) == pytest.approx(0.3, abs=1e-9)
    assert best_on_interval(lambda s: s, 2.0) == pytest.approx(2.0, abs=1e-9)  # at the end of the interval


@pytest.mark.filterwarnings("ignore:Sparse CSR tensor support")
@pytest.mark.parametrize("layout", ["compiled", "float64", "compiled-csr", "csr-float64"])
def test_a_G_written_a_block_at_a_time_gives_its_products_and_its_sums(monkeypatch, layout):
    """backproject_written: G^T X and the sum of write's parts as from the whole G, on two threads and
    several blocks; on the compiled passes' rows every block is written into one of the threads'
    reused buffers (never a whole G), elsewhere the blocks are joined into G for the general pass."""
    monkeypatch.setattr(threads, "available", lambda: 2)
    monkeypatch.setattr(passes, "_COMPILED_ROWS", 256)  # 1003 rows: 3 blocks and a part
    monkeypatch.setattr(passes, "_SPARSE_ROWS", 256)  # (the compiled passes' CSR blocks)
    compiled = layout.startswith("compiled")
    if compiled and not passes.available():
        pytest.skip("no module compiled ahead of time here")
    X = torch.randn(1003, 5, generator=gen())
    X[X.abs() < 0.5] = 0
    G = torch.randn(3, 1003, generator=gen(2), dtype=torch.float64)
    rows = {"compiled": X, "float64": X.double(), "compiled-csr": X.to_sparse_csr(),
            "csr-float64": X.double().to_sparse_csr()}[layout]
    buffers, spans = set(), []

    def write(block, start, stop):
        assert block.shape == (3, stop - start) and block.flags.c_contiguous
        buffers.add(block.__array_interface__["data"][0])
        spans.append((start, stop))
        block[:] = G[:, start:stop].numpy()
        return block.sum(axis=1)

    parts, V = passes.backproject_written(write, 3, rows)
    torch.testing.assert_close(V, G @ X.double(), rtol=1e-13, atol=1e-13)
    torch.testing.assert_close(torch.from_numpy(parts), G.sum(dim=1), rtol=1e-13, atol=1e-13)
    assert sorted(spans) == [(a, min(a + 256, 1003)) for a in range(0, 1003, 256)]
    assert len(buffers) <= 2 if compiled else len(buffers) == 4  # a buffer a thread, or a G a block
