"""MMDetection's model definitions for the project's configs, taken from MMDetection's own config files.

MMDetection ships model-only bases (``mmdet::_base_/models/``) for a few models (Mask R-CNN, Cascade Mask
R-CNN, Faster R-CNN, RetinaNet); the others (RTMDet, SOLOv2, Mask2Former, PointRend, the R101/X101 Mask
R-CNNs) live only inside full COCO configs whose data, schedule and hooks a project config must not take.
``configs/_base_/models/*.py`` call ``mmdet_model`` to take just the ``model`` of such a config::

    _base_ = []  # first: a config that starts with a non-builtin import is read as a lazy-import config
    from custom.engine.model_zoo import mmdet_model  # noqa: E402

    model = mmdet_model('rtmdet/rtmdet-ins_tiny_8xb32-300e_coco.py')

The model is read from the installed mmdet package, so it is exactly the model of the COCO checkpoint that
MMDetection's metafile lists for that config (``zoo_checkpoint``).
"""

from pathlib import Path

from mmengine.config import Config
from mmengine.utils import get_installed_path

from custom.errors import MissingFileError


def mmdet_config_path(config: str) -> Path:
    """'rtmdet/rtmdet-ins_tiny_8xb32-300e_coco.py' -> that file in the installed mmdet's configs."""
    path = Path(get_installed_path('mmdet')) / '.mim' / 'configs' / config
    if not path.is_file():
        raise MissingFileError(f'{path}: no such MMDetection config '
                               '(names are relative to mmdet/.mim/configs)')
    return path


def mmdet_model(config: str, **changes) -> dict:
    """The ``model`` of MMDetection's config ``config`` (relative to its configs folder) as a plain dict, with
    ``changes`` merged into it as a child config's ``model = dict(...)`` would be."""
    model = Config.fromfile(mmdet_config_path(config)).model
    model.merge(changes)
    return model.to_dict()


def zoo_checkpoint(config: str) -> str:
    """URL of the COCO checkpoint that MMDetection's metafile lists for ``config``."""
    from mmengine.hub import get_config

    return get_config(f'mmdet::{config}', pretrained=True).model_path
