"""derivtrain plugin: model=rff_svm and data=circles. Code is imported only when a config names it."""
