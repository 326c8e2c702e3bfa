"""A plugin's convex loss or penalty checked at a probe point when the config is composed: the
methods its solver needs are there, its datafit agrees with its forward, and its conjugate is
right where Fenchel-Young makes it exact (at a (sub)gradient theta of l at z, l*(theta) =
theta . z - l(z)), and derivatives it gives in closed form (elementwise_derivatives) are
autograd's. A conjugate that is too low would make a certificate claim a gap it does not have; one
too high would stop a run that had converged: either is one line, exit 2, before any data is read.
A few tensor ops on 8 rows (~1 ms); derivtrain's own losses and penalties are checked by its tests
instead, so a run of theirs pays nothing.
"""
import torch

from derivtrain.errors import ConfigError

_ROWS = 8
_TOL = 1e-6  # relative: a closed form or a computed conjugate is right to ~1e-14 at these points
_DATAFIT = ("values", "conjugate", "prepare", "row_weights", "smoothed", "pieces")
_PIECES = ("values", "linear_values", "combine", "curvature")
_PENALTY = ("value", "conjugate", "feasible_scale", "smooth_part", "pieces", "weight_bound")


def _fail(group: str, target: str, what: str):
    raise ConfigError(f"{group}._target_={target}: {what} (see README, Writing a plugin: a certified loss / penalty)")


def _missing(obj, names) -> list:
    return [name for name in names if not callable(getattr(obj, name, None))]


def check_convex_loss(loss, target: str) -> None:
    """`loss`: an instance of a class that says `convex = True`."""
    datafit = _call("loss", target, "convex_dual(1)", loss.convex_dual, 1)
    if datafit is None:
        _fail("loss", target, "it says convex = True but convex_dual(1) gives None (subclass "
                              "derivtrain.losses.ConvexLoss, or return a ConvexDatafit)")
    missing = _missing(datafit, _DATAFIT)
    pieces = datafit.pieces() if not missing else None
    if datafit.nonsmooth and not missing:
        missing = ["pieces (a kinked datafit needs them)"] if pieces is None else \
            [f"pieces().{name}" for name in _missing(pieces, _PIECES)]
    if missing:
        _fail("loss", target, f"its datafit {type(datafit).__name__} lacks {', '.join(missing)}, which the "
                              f"certified solver needs")
    z, targets = _call("loss", target, "encode_targets", _probe_rows, loss)
    if z is None:
        return
    y = datafit.prepare(targets)
    values = _call("loss", target, "its datafit's values", datafit.values, z, y)
    forward = float(loss(z[:, 0].float(), targets.float()))
    if abs(forward - float(values.mean())) > 1e-4 * (1 + abs(forward)):
        _fail("loss", target, f"forward gives {forward:.6g} but its datafit's mean value is "
                              f"{float(values.mean()):.6g} at a probe point: they must be one loss")
    theta = _subgradient(datafit, pieces, z, y)
    conjugate = _call("loss", target, "its conjugate", datafit.conjugate, theta, y)
    exact = (theta * z).sum(dim=1) - values
    _compare("loss", target, conjugate, exact, "conjugate(theta)")
    if getattr(datafit, "score_derivatives", None) is not None:  # the loss's elementwise_derivatives
        _check_derivatives(datafit, z, y, target)


def _check_derivatives(datafit, z, y, target) -> None:
    """A closed form of the value and its first two derivatives agrees with autograd through `values`:
    the solvers take the objective's value from it, and so does the certificate's primal."""
    given = _call("loss", target, "elementwise_derivatives", datafit.score_derivatives, z, y)
    with torch.enable_grad():
        leaf = z.clone().requires_grad_(True)
        values = datafit.values(leaf, y)
        (first,) = torch.autograd.grad(values.sum(), leaf, create_graph=True)
        second = torch.autograd.grad(first.sum(), leaf)[0] if first.requires_grad else torch.zeros_like(first)
    for name, got, exact in zip(("value", "first derivative", "second derivative"), given, (values, first, second)):
        got, exact = got.reshape(-1).double(), exact.detach().reshape(-1).double()
        wrong = (got - exact).abs() > _TOL * (1 + exact.abs())
        if bool(wrong.any()):
            i = int(wrong.nonzero()[0, 0])
            _fail("loss", target, f"its elementwise_derivatives gives a {name} of {float(got[i]):.6g} at a probe "
                                  f"point where autograd through elementwise gives {float(exact[i]):.6g}")


def _probe_rows(loss):
    """Fixed scores (n, 1) float64 and the loss's encoded targets for a binary or regression problem."""
    if loss.task == "density":
        return None, None
    z = torch.linspace(-2.5, 2.0, _ROWS, dtype=torch.float64)[:, None]
    raw = (torch.arange(_ROWS) % 2 if loss.task == "classification"
           else torch.linspace(0.0, 3.0, _ROWS, dtype=torch.float64).flip(0))  # >= 0: counts too
    return z, loss.encode_targets(raw, 1)


def _subgradient(datafit, pieces, z, y):
    """A (sub)gradient of each row's loss at z: autograd where smooth, the active piece's where kinked."""
    if pieces is None:
        with torch.enable_grad():
            leaf = z.clone().requires_grad_(True)
            (theta,) = torch.autograd.grad(datafit.values(leaf, y).sum(), leaf)
        return theta
    values = pieces.values(z, y)
    active = torch.nn.functional.one_hot(values.argmax(dim=-1), values.shape[-1]).to(values.dtype)
    return pieces.combine(active, y)


def _compare(group, target, got, exact, name):
    got, exact = got.reshape(-1).double(), exact.reshape(-1).double()
    wrong = (got - exact).abs() > _TOL * (1 + exact.abs())
    if bool(wrong.any()):
        i = int(wrong.nonzero()[0, 0])
        _fail(group, target, f"its {name} is wrong at a probe point: {float(got[i]):.6g} where Fenchel-Young "
                             f"gives {float(exact[i]):.6g} (theta . z - value at a (sub)gradient theta)")


def _call(group, target, name, function, *args):
    try:
        return function(*args)
    except Exception as error:  # a plugin's bug, named in one line rather than a traceback mid-run
        _fail(group, target, f"{name} fails at a probe point: {type(error).__name__}: {error}")


def check_convex_penalty(penalty, target: str, shape=(2, 3)) -> None:
    """`penalty`: an instance of a class that says `convex = True` (probed at strength 1 if 0)."""
    if not penalty.strength > 0:
        penalty.strength = 1.0
    try:
        dual = penalty.convex_dual(shape)
    except (ConfigError, ValueError, IndexError):  # sized for the data's features: the run checks them
        return
    if dual is None:
        _fail("regularizer", target, "it says convex = True but convex_dual(shape) gives None")
    missing = _missing(dual, _PENALTY)
    if missing:
        _fail("regularizer", target, f"its convex dual {type(dual).__name__} lacks {', '.join(missing)}, which "
                                     f"the certified solver needs")
    W = torch.linspace(-1.5, 1.25, shape[0] * shape[1], dtype=torch.float64).reshape(shape)
    value = _call("regularizer", target, "value", dual.value, W)
    torch_value = penalty.strength * float(penalty.value([W]))
    if abs(torch_value - float(value)) > 1e-6 * (1 + abs(torch_value)):
        _fail("regularizer", target, f"strength * value(W) is {torch_value:.6g} but its convex dual's value is "
                                     f"{float(value):.6g} at a probe point: they must be one penalty")
    V = _call("regularizer", target, "smooth_part", dual.smooth_part, W)[0]
    kinked = dual.pieces()
    if kinked is not None:
        structure, cost = kinked
        pieces = structure.values(W)
        active = torch.nn.functional.one_hot(pieces.argmax(dim=-1), pieces.shape[-1]).to(W.dtype)
        V = V + structure.combine(active * torch.as_tensor(cost, dtype=W.dtype).expand(shape)[..., None])
    conjugate = _call("regularizer", target, "conjugate", dual.conjugate, V)
    _compare("regularizer", target, conjugate, (V * W).sum() - value, "conjugate(V)")
