"""Every Function under torch.func.vmap, torch.func.grad, torch.compile(fullgraph=True), and on CUDA."""
import pytest
import torch

from derivtrain.losses import L2Penalty, regularized
from derivtrain.losses import functional as F
from derivtrain.losses.linear_svm import LinearSVMObjectiveFunction
from tests.losses.points import binary_point, multiclass_point

# (name, function of a (n, 4) score matrix and a data seed) -> scalar; each wraps one custom Function
_, _SIGNS = binary_point((6, 4), seed=1)
_, _CLASSES = multiclass_point(6, 4, seed=2)
LOSSES = {
    "hinge": lambda s: F.hinge(s, _SIGNS.to(s.dtype)),
    "squared_hinge": lambda s: F.squared_hinge(s, _SIGNS.to(s.dtype)),
    "crammer_singer": lambda s: F.multiclass_hinge(s, _CLASSES, "crammer_singer"),
    "weston_watkins": lambda s: F.multiclass_hinge(s, _CLASSES, "weston_watkins"),
    "l1": lambda s: F.l1(s),
    "l2": lambda s: F.l2(s),
    "elastic_net": lambda s: F.elastic_net(s, l1_ratio=0.3),
    "regularized": lambda s: regularized(s.sum(), L2Penalty(0.1), [s]),
}


def point(dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(6, 4, generator=g, dtype=dtype) * 1.5).requires_grad_()


@pytest.mark.parametrize("name", LOSSES)
def test_vmap_over_a_batch_of_problems_equals_a_loop(name):
    fn = LOSSES[name]
    batch = torch.stack([point(seed=i).detach() for i in range(3)])
    expected = torch.stack([fn(b) for b in batch])
    torch.testing.assert_close(torch.func.vmap(fn)(batch), expected)


@pytest.mark.parametrize("name", LOSSES)
def test_vmap_of_grad_equals_a_loop_of_backward_passes(name):
    fn = LOSSES[name]
    batch = torch.stack([point(seed=i).detach() for i in range(3)])
    expected = torch.stack([_grad(fn, b) for b in batch])
    torch.testing.assert_close(torch.func.vmap(torch.func.grad(fn))(batch), expected)


def _grad(fn, x):
    x = x.clone().requires_grad_()
    return torch.autograd.grad(fn(x), x)[0]


def test_per_sample_gradients_of_the_hinge_with_vmap():
    scores, signs = binary_point((10,), seed=3)
    per_sample = torch.func.vmap(torch.func.grad(lambda s, y: F.hinge(s, y)))(scores.detach(), signs)
    expected = torch.where(signs * scores.detach() < 1, -signs, 0.0)
    torch.testing.assert_close(per_sample, expected)


@pytest.mark.parametrize("name", LOSSES)
def test_compile_fullgraph_forward_and_backward(name):
    fn = LOSSES[name]
    torch._dynamo.reset()
    compiled = torch.compile(fn, fullgraph=True, backend="aot_eager")  # graph capture, no C++ build
    x, x_ref = point(), point()
    value = compiled(x)
    value.backward()
    fn(x_ref).backward()
    torch.testing.assert_close(value, fn(x_ref.detach()))
    torch.testing.assert_close(x.grad, x_ref.grad)


def test_compile_fullgraph_fused_linear_svm_objective():
    g = torch.Generator().manual_seed(0)
    features = torch.cat([torch.randn(5, 30, generator=g, dtype=torch.float64), torch.ones(1, 30, dtype=torch.float64)])
    signs = torch.sign(torch.randn(1, 30, generator=g, dtype=torch.float64))
    weight = torch.randn(1, 5, generator=g, dtype=torch.float64, requires_grad=True)
    bias = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    fn = lambda w, b: LinearSVMObjectiveFunction.apply(features, signs, w, b, 0.1)[0]  # noqa: E731
    torch._dynamo.reset()
    compiled = torch.compile(fn, fullgraph=True, backend="aot_eager")
    grads = torch.autograd.grad(compiled(weight, bias), (weight, bias))
    expected = torch.autograd.grad(fn(weight, bias), (weight, bias))
    torch.testing.assert_close(grads, expected)


@pytest.mark.slow
def test_compile_with_inductor_generates_a_working_kernel():
    scores, signs = binary_point((1000,), seed=4, dtype=torch.float32)
    torch._dynamo.reset()
    compiled = torch.compile(lambda s: F.hinge(s, signs), fullgraph=True)
    value = compiled(scores)
    (grad,) = torch.autograd.grad(value, scores)
    torch.testing.assert_close(value, torch.clamp(1 - signs * scores, min=0).mean())
    torch.testing.assert_close(grad, torch.where(signs * scores < 1, -signs, 0.0) / 1000)


cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@cuda
@pytest.mark.cuda
@pytest.mark.parametrize("name", LOSSES)
def test_cuda_matches_cpu(name):
    fn = LOSSES[name]
    global _SIGNS, _CLASSES
    x_cpu = point()
    signs_cpu, classes_cpu = _SIGNS, _CLASSES
    value_cpu = fn(x_cpu)
    (grad_cpu,) = torch.autograd.grad(value_cpu, x_cpu)
    try:
        _SIGNS, _CLASSES = _SIGNS.cuda(), _CLASSES.cuda()
        x = x_cpu.detach().cuda().requires_grad_()
        value = fn(x)
        (grad,) = torch.autograd.grad(value, x)
    finally:
        _SIGNS, _CLASSES = signs_cpu, classes_cpu
    torch.testing.assert_close(value.cpu(), value_cpu)
    torch.testing.assert_close(grad.cpu(), grad_cpu)


@cuda
@pytest.mark.cuda
def test_cuda_fused_linear_svm_objective_matches_cpu():
    g = torch.Generator().manual_seed(0)
    features = torch.cat([torch.randn(5, 40, generator=g), torch.ones(1, 40)])  # last row: the bias's feature
    inputs = (features, torch.sign(torch.randn(2, 40, generator=g)),
              torch.randn(2, 5, generator=g), torch.randn(2, generator=g))
    results = []
    for device in ("cpu", "cuda"):
        features, signs, weight, bias = (t.to(device, copy=True) for t in inputs)
        weight.requires_grad_(), bias.requires_grad_()
        value, *_ = LinearSVMObjectiveFunction.apply(features, signs, weight, bias, 0.01)
        results.append([value, *torch.autograd.grad(value, (weight, bias))])
    for cpu, gpu in zip(*results):
        torch.testing.assert_close(gpu.cpu(), cpu, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("variant", ["crammer_singer", "weston_watkins"])
def test_multiclass_vmap_rule_folds_any_batched_dimension_into_rows(variant):
    scores = torch.stack([multiclass_point(5, 4, seed=i)[0].detach() for i in range(3)], dim=1)  # (5, 3, 4)
    classes = torch.stack([multiclass_point(5, 4, seed=i)[1] for i in range(3)])  # (3, 5)
    fn = lambda s, y: F.multiclass_hinge(s, y, variant, reduction="none")  # noqa: E731
    got = torch.func.vmap(fn, in_dims=(1, 0))(scores, classes)
    expected = torch.stack([fn(scores[:, i], classes[i]) for i in range(3)])
    torch.testing.assert_close(got, expected)
    grads = torch.func.vmap(torch.func.grad(lambda s, y: fn(s, y).sum()), in_dims=(1, 0))(scores, classes)
    torch.testing.assert_close(grads, torch.stack([_grad(lambda s: fn(s, classes[i]).sum(), scores[:, i])
                                                   for i in range(3)]))
