"""Choice lists that several places read: one source each (the schemas' validation and the code
that dispatches on the value import them from here). Plain tuples: no torch, cheap to import."""

# how a linear SVM scores several classes (model.multiclass, the one key; the hinge losses follow it)
MULTICLASS_VARIANTS = ("crammer_singer", "weston_watkins")  # one loss over all K scores
MULTICLASS = ("ovr",) + MULTICLASS_VARIANTS  # ovr: one binary hinge per class

# a Gaussian mixture's covariance per component (model.covariance_type; derivtrain/models/covariance.py)
COVARIANCE_TYPES = ("full", "diag", "spherical")

# how EM starts a mixture (optim.init; derivtrain/models/gmm.py)
EM_INITS = ("kmeans", "k-means++")
