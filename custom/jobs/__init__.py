"""Jobs made of several runs, each in its own process: the main job, k-fold cross-validation, sweeps."""
