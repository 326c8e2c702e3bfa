"""derivtrain plugin: loss=smooth_hinge. Code is imported only when a config names it."""
