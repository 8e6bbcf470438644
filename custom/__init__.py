"""Project modules registered into MMDetection's registries (load with custom_imports=['custom'])."""

from custom import checkpoints, datasets, evaluation  # noqa: F401
