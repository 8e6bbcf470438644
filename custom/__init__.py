"""Config-driven instance segmentation with MMDetection: the plugins a run loads and the tools around them.

``import custom`` (configs do it with ``custom_imports = dict(imports=['custom'])``) registers the datasets,
metrics, models and hooks into MMDetection's registries, replaces mmengine's checkpoint loader and local
storage backend for the whole process (checkpoints load with ``weights_only=True`` and an allow-list, and are
written atomically: custom/engine/checkpoints.py), and lets a config in any folder name the project's configs
as ``custom::<path>`` (custom/engine/config_scope.py). docs/architecture.md maps the subpackages.
"""

from custom import datasets, evaluation, models  # noqa: F401
from custom.engine import checkpoints, config_scope, hooks  # noqa: F401
