"""Project modules registered into MMDetection's registries (load with custom_imports=['custom'])."""

from custom import checkpoints, datasets, evaluation, hooks  # noqa: F401
