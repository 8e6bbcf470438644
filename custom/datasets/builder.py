"""Finding the datasets a config uses (through Concat/Repeat/ClassBalanced wrappers), the class of one and
what masks it gives, and building one."""

import copy
import re
from collections.abc import Iterator

from mmengine.registry import DefaultScope

LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def iter_dataset_configs(dataset_cfg: dict, where: str) -> Iterator[tuple[str, dict]]:
    """Yields (dotted location, config) of a dataset and of every dataset it wraps, innermost ones only."""
    if 'datasets' in dataset_cfg:
        for i, child in enumerate(dataset_cfg['datasets']):
            yield from iter_dataset_configs(child, f'{where}.datasets[{i}]')
    elif 'dataset' in dataset_cfg:
        yield from iter_dataset_configs(dataset_cfg['dataset'], f'{where}.dataset')
    else:
        yield where, dataset_cfg


def configured_datasets(cfg, loaders: tuple[str, ...] = LOADERS) -> Iterator[tuple[str, dict]]:
    """(location, config) of every dataset in the given dataloaders of a config."""
    for loader in loaders:
        if cfg.get(loader) and cfg[loader].get('dataset'):
            yield from iter_dataset_configs(cfg[loader]['dataset'], f'{loader}.dataset')


def option_key(where: str) -> str:
    """A dataset's place in a config as ``configured_datasets`` names it (``train_dataloader.dataset
    .datasets[1]``) as a ``--cfg-options`` key (``train_dataloader.dataset.datasets.1``)."""
    return re.sub(r'\[(\d+)\]', r'.\1', where)


def dataset_class(dataset_cfg: dict) -> type | None:
    """The class a config entry's ``type`` names in MMDetection's scope (None when no class is registered
    under it); nothing is built."""
    from mmdet.registry import DATASETS

    import custom.datasets  # noqa: F401  (registers the project's dataset types)

    kind = dataset_cfg.get('type')
    if not isinstance(kind, str):
        return kind if isinstance(kind, type) else None
    with DefaultScope.overwrite_default_scope('mmdet'):
        return DATASETS.get(kind)


def rle_masks(dataset_cfg: dict) -> str | None:
    """Why a dataset config gives RLE masks (None when it gives polygons or its type is unknown), which a
    pipeline with ``LoadAnnotations(poly2mask=False)`` makes ignored instances: the project's datasets say it
    (``ProjectDataset.rle_masks``); mmdet's ``CocoDataset`` reads its json as ``CocoJsonDataset`` does."""
    from mmdet.datasets import CocoDataset

    from custom.datasets.base import ProjectDataset
    from custom.datasets.coco_json import CocoJsonDataset

    cls = dataset_class(dataset_cfg)
    if isinstance(cls, type) and issubclass(cls, ProjectDataset):
        return cls.rle_masks(dataset_cfg)
    if isinstance(cls, type) and issubclass(cls, CocoDataset):
        return CocoJsonDataset.rle_masks(dataset_cfg)
    return None


def build_dataset(dataset_cfg: dict, lazy: bool = False, **overrides):
    """The dataset of a config entry, in MMDetection's scope; ``lazy`` skips loading the annotations and
    building the pipeline (the validator parses images one by one)."""
    from mmdet.registry import DATASETS

    import custom.datasets  # noqa: F401  (registers the project's dataset types)

    dataset_cfg = copy.deepcopy(dict(dataset_cfg))
    if lazy:
        dataset_cfg.update(lazy_init=True, pipeline=[])
    dataset_cfg.update(overrides)
    with DefaultScope.overwrite_default_scope('mmdet'):
        return DATASETS.build(dataset_cfg)


def dataset_as_read(dataset_cfg: dict):
    """The dataset of a config entry as it reads its files: every image (test mode: nothing filtered), no
    pipeline, its data list kept as Python objects (for the tools that walk the annotations)."""
    return build_dataset(dataset_cfg, test_mode=True, pipeline=[], serialize_data=False)


def step_type(step: dict) -> str:
    """The transform's type name (a string in classic configs, a class in pure-Python ones)."""
    kind = step.get('type', '')
    return kind if isinstance(kind, str) else getattr(kind, '__name__', str(kind))


def is_load_annotations(step: object) -> bool:
    """Whether a pipeline step is mmdet's ``LoadAnnotations`` (plain or ``mmdet.``-scoped name, or class)."""
    return isinstance(step, dict) and step_type(step).split('.')[-1] == 'LoadAnnotations'


def load_annotations_step(dataset_cfg: dict) -> dict | None:
    """The ``LoadAnnotations`` step of a dataset config's pipeline (None when it has none)."""
    return next((step for step in dataset_cfg.get('pipeline') or [] if is_load_annotations(step)), None)
