"""The compiled full-batch linear-SVM pass (derivtrain/losses/linear_svm_compiled.py): the composed
objective's value and gradients on real rows, the same numbers on one thread and two and in any number
of blocks, taken by the Objective for large dense CPU rows only, and a full-batch run trained with it."""
import pytest
import torch
from sklearn.datasets import load_breast_cancer, load_digits

import derivtrain.losses.linear_svm_compiled as compiled
from derivtrain.data.table import DataSpec
from derivtrain.losses import HingeLoss, L2Penalty, NoPenalty, NoSecondDerivativeError, Objective
from derivtrain.models.svm import LinearSVM


def _problem(dataset, dtype, penalty):
    """An SVM objective on standardized real rows (breast_cancer: binary; digits: one-vs-rest over
    10 classes) at random weights, which leave some rows inside the margin and some outside. (No row
    is put on a kink: which side of it a sum of 30 products lands depends on their order.)"""
    X, y = dataset(return_X_y=True)
    X = torch.tensor((X - X.mean(0)) / (X.std(0) + 1e-12), dtype=dtype)
    classes = sorted(set(y.tolist()))
    spec = DataSpec(task="classification", n_features=X.shape[1], classes=classes)
    torch.manual_seed(0)
    model = LinearSVM(spec).to(dtype)
    loss = HingeLoss()
    targets = loss.encode_targets(torch.as_tensor(y), spec.n_outputs)
    signs = targets.reshape(len(X), -1).to(dtype)
    return Objective(model, loss, penalty), X, targets, signs


@pytest.mark.parametrize("dataset", [load_breast_cancer, load_digits], ids=["binary", "ovr10"])
@pytest.mark.parametrize("penalty", [L2Penalty(0.05), NoPenalty()], ids=["l2", "none"])
def test_compiled_equals_composed_on_real_rows(dataset, penalty):
    objective, X, targets, signs = _problem(dataset, torch.float64, penalty)
    params = list(objective.model.parameters())
    expected = objective(X, targets)
    expected_grads = torch.autograd.grad(expected, params)
    value, _ = compiled.CompiledLinearSVMObjective.apply(X, signs, *params, objective.penalty.strength)
    grads = torch.autograd.grad(value, params)
    torch.testing.assert_close(value, expected, rtol=1e-12, atol=1e-12)
    for got, exact in zip(grads, expected_grads):
        torch.testing.assert_close(got, exact, rtol=1e-12, atol=1e-12)
    assert 0 < float(expected) and any(bool(g.abs().sum() > 0) for g in grads)


def test_the_same_numbers_in_any_blocks_on_any_threads(monkeypatch):
    objective, X, targets, signs = _problem(load_digits, torch.float32, L2Penalty(0.01))
    params = list(objective.model.parameters())

    def value_and_grads():
        value, _ = compiled.CompiledLinearSVMObjective.apply(X, signs, *params, 0.01)
        return [value.detach()] + list(torch.autograd.grad(value, params))

    one_block = value_and_grads()
    monkeypatch.setattr(compiled, "_BLOCK_BYTES", 1)  # blocks of 1024 rows: 2 of digits' 1,797
    before = torch.get_num_threads()
    results = []
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            results.append(value_and_grads())
    finally:
        torch.set_num_threads(before)
    assert all(torch.equal(a, b) for a, b in zip(*results))  # bit for bit on one thread and two
    for a, b in zip(results[0], one_block):  # float32 sums in other blocks: the same to rounding
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_taken_for_large_dense_cpu_rows_only(monkeypatch):
    objective, X, targets, _ = _problem(load_breast_cancer, torch.float32, L2Penalty(0.01))
    objective.model.float()
    assert objective.use_full_batch(X, targets) and not objective.fused.compiled  # 17k numbers: BLAS blocks
    monkeypatch.setattr(compiled, "COMPILED_FROM", 0)
    assert objective.use_full_batch(X, targets) and objective.fused.compiled
    assert not hasattr(objective.fused, "features")  # no feature-major copy of X
    assert not compiled.compiled_suits(X.to_sparse_csr()) and not compiled.compiled_suits(X.half())
    value = objective.full_batch()
    (grad,) = torch.autograd.grad(value, objective.model.linear.weight, create_graph=True)
    with pytest.raises(NoSecondDerivativeError):
        torch.autograd.grad(grad.sum(), objective.model.linear.weight)


def test_a_full_batch_run_trains_through_it(tmp_path, monkeypatch):
    """model=svm optim=sgd full batch on breast_cancer, compiled and not: the same training to float32
    rounding (objective within 1e-4 after 200 epochs, the same test accuracy)."""
    import derivtrain

    metrics, passes, forward = {}, [], compiled.CompiledLinearSVMObjective.forward
    monkeypatch.setattr(compiled.CompiledLinearSVMObjective, "forward",
                        staticmethod(lambda *inputs: passes.append(1) or forward(*inputs)))
    for name, threshold in (("compiled", 0), ("blas", compiled.COMPILED_FROM)):
        monkeypatch.setattr(compiled, "COMPILED_FROM", threshold)
        metrics[name] = derivtrain.train("model=svm", "data=breast_cancer", "optim=sgd", "trainer.max_epochs=200",
                                         "logger=none", f"hydra.run.dir={tmp_path / name}").metrics
    a, b = metrics["compiled"], metrics["blas"]
    assert len(passes) == 200  # one compiled pass an epoch, in the first run only
    assert abs(a["train/objective"] - b["train/objective"]) <= 1e-4 * abs(b["train/objective"])
    assert a["test/accuracy"] == b["test/accuracy"] > 0.9


@pytest.mark.parametrize("rows", [4, 7, 1])
def test_each_row_in_groups_of_four_and_after_them(rows):
    """The pass takes rows four at a time and the rest one at a time: every row counts once, and those
    on the kink (margin exactly 0) add nothing to either sum."""
    X = torch.tensor([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0], [3.0, -1.0], [0.5, 0.5], [2.0, 2.0], [0.0, 1.0]])[:rows]
    signs = torch.tensor([[1.0, -1.0], [-1.0, 1.0], [1.0, 1.0], [-1.0, -1.0], [1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]])
    signs = signs[:rows]
    W, b = torch.tensor([[1.0, 0.0], [0.0, 0.5]]), torch.tensor([0.0, 0.0])  # rows 0, 1 and 2 sit on kinks
    value, product = compiled.CompiledLinearSVMObjective.apply(X, signs, W, b, 0.0)
    margins = 1 - signs * (X @ W.T + b)
    A = torch.where(margins > 0, signs, 0.0)
    assert float(value) == pytest.approx(float(margins.clamp(min=0).sum()) / rows)
    torch.testing.assert_close(product.float(), A.T @ torch.cat([X, torch.ones(rows, 1)], 1))
    if rows >= 4:
        assert float(margins[:3].abs().min()) == 0.0 and float(A.abs().sum()) > 0  # kinks and violations both there
