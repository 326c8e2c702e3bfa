"""The minibatch SVM step by hand: the composed objective's value and gradients without a graph,
and the gradient loop takes it exactly where it computes that objective."""
import pytest
import torch

from derivtrain.losses import ElasticNetPenalty, HingeLoss, L2Penalty, NoPenalty, Objective, SquaredHingeLoss
from tests.losses.test_linear_svm import grads_of, hinge_objective, svm_problem
from tests.trainer.helpers import fit_config


@pytest.mark.parametrize("n_classes", [2, 4])
@pytest.mark.parametrize("penalty", [L2Penalty(0.05), NoPenalty()])
def test_by_hand_equals_composed_value_and_gradients(n_classes, penalty):
    objective, X, targets, expected_value, expected_grads = hinge_objective(n_classes, penalty)
    assert objective.by_hand_on(X)
    value = objective.step_by_hand(X, targets)
    assert not value.requires_grad  # no graph: the gradients are in .grad already
    torch.testing.assert_close(value, expected_value, rtol=1e-12, atol=1e-12)
    for p, e in zip(objective.model.parameters(), expected_grads):
        torch.testing.assert_close(p.grad, e, rtol=1e-12, atol=1e-12)


@pytest.mark.filterwarnings("ignore:Sparse CSR tensor support")
@pytest.mark.parametrize("n_classes", [2, 4])
@pytest.mark.parametrize("penalty", [L2Penalty(0.05), NoPenalty()])
@pytest.mark.parametrize("loops", [True, False], ids=["scipy-loops", "operators"])
def test_by_hand_on_sparse_rows_equals_composed(n_classes, penalty, loops, monkeypatch):
    """A CSR batch (a third of its entries stored, an empty row among them): the composed objective's
    value and gradients on the same rows made dense. One score column goes through scipy's loops
    (derivtrain/data/sparse_loops.py) where they import, through scipy's operators where not."""
    from derivtrain.data import sparse_loops

    calls = []
    if loops:
        add = sparse_loops.add_transposed_product
        monkeypatch.setattr(sparse_loops, "add_transposed_product", lambda *a: calls.append(1) or add(*a))
    else:
        monkeypatch.setattr(sparse_loops, "csr_matvec", None)
    model, X, y, spec = svm_problem(n_classes)
    X = X * (torch.rand(X.shape, generator=torch.Generator().manual_seed(1)) < 0.3)
    X[3] = 0
    loss = HingeLoss()
    targets = loss.encode_targets(y, spec.n_outputs)
    objective = Objective(model, loss, penalty)
    expected_value, expected_grads = grads_of(objective, X, targets)
    rows = X.to_sparse_csr()
    assert objective.by_hand_on(rows)
    value = objective.step_by_hand(rows, targets)
    torch.testing.assert_close(value, expected_value.detach(), rtol=1e-12, atol=1e-12)
    for p, e in zip(objective.model.parameters(), expected_grads):
        torch.testing.assert_close(p.grad, e, rtol=1e-12, atol=1e-12)
    assert len(calls) == (1 if loops and n_classes == 2 else 0)


@pytest.mark.filterwarnings("ignore:Sparse CSR tensor support")
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_a_margin_on_the_kink_takes_the_hinge_subgradient_zero(sparse):
    model, X, y, spec = svm_problem(2, n=4)
    signs = HingeLoss().encode_targets(y, 1)
    with torch.no_grad():  # row 0's margin exactly 1: y s = 1
        model.linear.weight.zero_()
        model.linear.bias.fill_(float(signs[0]))
    objective = Objective(model, HingeLoss(), NoPenalty())
    _, expected = grads_of(objective, X, signs)
    objective.step_by_hand(X.to_sparse_csr() if sparse else X, signs)
    torch.testing.assert_close(model.linear.weight.grad, expected[0], rtol=0, atol=1e-15)


@pytest.mark.filterwarnings("ignore:Sparse CSR tensor support")
def test_by_hand_only_for_the_objective_it_computes():
    model, X, y, spec = svm_problem(3)
    assert Objective(model, HingeLoss(), L2Penalty(0.1)).by_hand_on(X)
    assert not Objective(model, HingeLoss(multiclass="crammer_singer"), L2Penalty(0.1)).by_hand_on(X)
    assert not Objective(model, HingeLoss(class_weight=[1, 2, 3]), L2Penalty(0.1)).by_hand_on(X)
    assert not Objective(model, SquaredHingeLoss(), L2Penalty(0.1)).by_hand_on(X)
    assert not Objective(model, HingeLoss(), ElasticNetPenalty(0.1)).by_hand_on(X)
    assert not Objective(model, HingeLoss(), L2Penalty(0.1)).by_hand_on(X.float())  # another dtype
    assert Objective(model, HingeLoss(), L2Penalty(0.1)).by_hand_on(X.to_sparse_csr())  # CPU CSR: through scipy
    assert not Objective(model, HingeLoss(), L2Penalty(0.1)).by_hand_on(X.float().to_sparse_csr())


@pytest.mark.parametrize("overrides", [("data=breast_cancer",), ("data=wine",)])
def test_the_loop_by_hand_trains_the_weights_autograd_trains(tmp_path, monkeypatch, overrides):
    """Minibatch SGD on model=svm: the same weights, to float32 rounding, as through autograd."""
    common = ("model=svm", "optim=sgd", "trainer.batch_size=32", "trainer.max_epochs=4", *overrides)
    steps, step_by_hand = [], Objective.step_by_hand
    monkeypatch.setattr(Objective, "step_by_hand", lambda self, X, t: steps.append(1) or step_by_hand(self, X, t))
    result, _, by_hand = fit_config(tmp_path / "a", *common)
    assert len(steps) == result.steps
    monkeypatch.setattr(Objective, "by_hand_on", lambda self, X: False)
    expected, _, composed = fit_config(tmp_path / "b", *common)
    assert len(steps) == result.steps  # through autograd this time
    for p, q in zip(by_hand.parameters(), composed.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)
    assert result.metrics["train/accuracy"] == pytest.approx(expected.metrics["train/accuracy"], abs=0.01)


@pytest.mark.filterwarnings("ignore:Sparse CSR tensor support")
def test_the_loop_by_hand_on_sparse_rows_trains_the_weights_autograd_trains(tmp_path, monkeypatch):
    """Minibatch SGD on model=svm over a CSR .npz: by hand (scipy's products) and through autograd
    reach the same weights, to float32 rounding."""
    import numpy as np
    import scipy.sparse as sp

    X = sp.random(600, 300, density=0.05, format="csr", random_state=3, dtype=np.float64)
    y = (X @ np.random.default_rng(0).normal(size=300) > 0).astype(np.int64)
    sp.save_npz(tmp_path / "X.npz", X)
    np.save(tmp_path / "y.npy", y)
    common = ("model=svm", "data=npz", f"data.path={tmp_path / 'X.npz'}", f"data.target={tmp_path / 'y.npy'}",
              "optim=sgd", "trainer.batch_size=64", "trainer.max_epochs=3")
    steps, step_by_hand = [], Objective.step_by_hand
    monkeypatch.setattr(Objective, "step_by_hand", lambda self, X, t: steps.append(1) or step_by_hand(self, X, t))
    result, _, by_hand = fit_config(tmp_path / "a", *common)
    assert len(steps) == result.steps > 0
    monkeypatch.setattr(Objective, "by_hand_on", lambda self, X: False)
    expected, _, composed = fit_config(tmp_path / "b", *common)
    for p, q in zip(by_hand.parameters(), composed.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)


def _real_rows(n_classes: int, dtype):
    """(model, standardized rows, one-vs-rest signs): breast_cancer (2 classes) or wine (3), with weights
    part way to a fit, so that some margins are violated and some are not."""
    from sklearn.datasets import load_breast_cancer, load_wine

    from derivtrain.data import DataSpec
    from derivtrain.models.svm import LinearSVM

    X, y = (load_breast_cancer if n_classes == 2 else load_wine)(return_X_y=True)
    X = torch.as_tensor((X - X.mean(0)) / X.std(0), dtype=dtype).contiguous()
    spec = DataSpec(task="classification", n_features=X.shape[1], classes=list(range(n_classes)))
    torch.manual_seed(0)
    model = LinearSVM(spec).to(dtype)
    with torch.no_grad():
        model.linear.weight.mul_(20)
    return model, X, HingeLoss().encode_targets(torch.as_tensor(y), spec.n_outputs).to(dtype).contiguous()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("alpha", [0.05, 0.0])
def test_dense_rows_take_one_compiled_pass_with_the_products_numbers(monkeypatch, dtype, n_classes, alpha):
    """Dense CPU rows, the loops built: value and gradients from the compiled row loop (the module's,
    not numba's JIT), equal to the two products' to the dtype's rounding, laid out as the parameters."""
    import derivtrain.compiled as compiled
    from derivtrain.losses import linear_svm_rows

    if compiled._ahead_of_time() is None:
        pytest.skip("no ahead-of-time module here")
    model, X, signs = _real_rows(n_classes, dtype)
    W, b = model.linear.weight, model.linear.bias
    monkeypatch.setattr(compiled, "_jit", lambda name: pytest.fail(f"{name}: not the module's loop"))
    calls, kernel = [], linear_svm_rows.kernel
    monkeypatch.setattr(linear_svm_rows, "kernel", lambda *a, **k: calls.append(a[0]) or kernel(*a, **k))
    value, grad_weight, grad_bias = linear_svm_rows.value_and_grad(X, signs, W, b, alpha)
    assert calls == [f"hinge_rows_f{8 if dtype == torch.float64 else 4}"]
    monkeypatch.setattr(linear_svm_rows, "_compiled_takes", lambda *a: False)
    expected = linear_svm_rows.value_and_grad(X, signs, W, b, alpha)
    assert len(calls) == 1 and 0 < float(expected[0])
    tol = dict(rtol=1e-12, atol=1e-12) if dtype == torch.float64 else dict(rtol=1e-5, atol=1e-6)
    for got, want in zip((value, grad_weight, grad_bias), expected):
        assert got.dtype == want.dtype and got.shape == want.shape and got.is_contiguous()
        torch.testing.assert_close(got, want, **tol)


def test_rows_the_compiled_pass_cannot_take_go_to_the_products(monkeypatch):
    """A strided view of the rows, and a machine without the module built: the two products."""
    from derivtrain.losses import linear_svm_rows

    model, X, signs = _real_rows(2, torch.float64)
    W, b = model.linear.weight, model.linear.bias
    monkeypatch.setattr(linear_svm_rows, "_compiled_takes", lambda *a: False)
    expected = linear_svm_rows.value_and_grad(X, signs, W, b, 0.1)
    monkeypatch.undo()
    monkeypatch.setattr(linear_svm_rows, "kernel", lambda *a, **k: pytest.fail("the compiled pass ran"))
    strided = torch.stack([X, X], dim=2)[:, :, 0]  # the same numbers, every other one in memory
    assert not strided.is_contiguous()
    monkeypatch.setattr(linear_svm_rows, "available", lambda build=True: True)
    for got, want in zip(linear_svm_rows.value_and_grad(strided, signs, W, b, 0.1), expected):
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
    monkeypatch.setattr(linear_svm_rows, "available", lambda build=True: False)  # no module built here
    for got, want in zip(linear_svm_rows.value_and_grad(X, signs, W, b, 0.1), expected):
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
