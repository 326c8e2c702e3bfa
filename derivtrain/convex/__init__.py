"""The open convex core: the contracts a loss and a penalty keep to be solved to a certificate.

    datafit.py    ConvexDatafit: a loss as a function of a linear model's scores (values, conjugate,
                  pieces), what the certified solvers and the certificate use
    conjugate.py  the convex conjugate computed from a value and its derivatives (an upper bound)
    pieces.py     AffinePieces: any elementwise kinked loss, for the interior-point method
    penalty.py    the penalty contract and ElementwiseDual (L1, L2, elastic net, weighted)
    plan.py       certifiable(...): can this objective be certified, and by which solver
    probe.py      the contracts checked at a probe point when a config is composed

and the certificate those contracts give (the Fenchel dual, derived in certificate.py):

    certificate.py   certify(objective, X, targets): the duality-gap bound, in float64
    smoothing.py     the hinge family's kinks smoothed by a barrier: dual points for kinked losses
    kinked_units.py  the hinge family as maxima of affine pieces, as the interior-point method needs
    penalty_dual.py  the dual of L1 / L2 / elastic net penalties, and the scaling that makes g* finite
    bias.py          dual points moved to meet the unpenalized bias's constraint
    golden.py        the best scale of a kinked loss's dual point (a golden-section search)

A plugin writes its loss or penalty ONCE, as a derivtrain loss or penalty: derivtrain.losses.ConvexLoss
(derivtrain/losses/convex_loss.py: elementwise, or affine pieces) and derivtrain.losses.ElementwisePenalty
(derivtrain/losses/weighted_penalty.py: per-weight L1 / L2 coefficients) derive the contracts below; derivtrain's own losses are written the same way (squared error,
logistic, Poisson: ConvexLoss) or, where a loss is not elementwise, declare their datafit beside
their autograd Function, whose forward gives its values (the hinge family, the softmax).

The certificate and the certified solvers (derivtrain/trainer/certified.py, interior_point.py,
which stay with the other fitters) read losses and penalties only through these contracts: none names a concrete
loss or penalty class. Submodules are imported by full name; this file imports nothing.
"""
