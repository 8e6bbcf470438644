"""Checks a config before training or testing starts, so mistakes fail early with a clear message."""

import difflib
from pathlib import Path

from mmengine.config import Config
from mmengine.registry import init_default_scope

from custom.datasets.builder import LOADERS, configured_datasets, load_annotations_step, rle_masks
from custom.errors import ConfigError


def head_num_classes(model_cfg: dict) -> dict[str, int]:
    """Classes of every head in the model config, keyed by its path (e.g. 'roi_head.bbox_head', or
    'roi_head.bbox_head[2]' for a stage of Cascade R-CNN): its num_classes, or num_things_classes +
    num_stuff_classes for MaskFormer-style heads."""
    found = {}

    def visit(node: object, path: str, key: str) -> None:
        if isinstance(node, dict):
            if key.endswith('head') and 'num_classes' in node:
                found[path] = node['num_classes']
            elif key.endswith('head') and 'num_things_classes' in node:
                found[path] = node['num_things_classes'] + node.get('num_stuff_classes', 0)
            for name, value in node.items():
                visit(value, f'{path}.{name}' if path else name, name)
        elif isinstance(node, list | tuple):
            for index, item in enumerate(node):
                visit(item, f'{path}[{index}]', key)

    visit(model_cfg, '', '')
    return found


def check_dataset_types(cfg: Config, loaders: tuple[str, ...] = LOADERS) -> None:
    from mmdet.registry import DATASETS

    init_default_scope(cfg.get('default_scope', 'mmdet'))
    for where, dataset in configured_datasets(cfg, loaders):
        type_name = dataset.get('type')
        if isinstance(type_name, str) and DATASETS.get(type_name) is None:
            known = list(DATASETS.module_dict) + list(DATASETS.parent.module_dict if DATASETS.parent else [])
            close = difflib.get_close_matches(type_name, known, n=3)
            hint = f' Did you mean {", ".join(close)}?' if close else ''
            raise ConfigError(f'{where}.type: unknown dataset type {type_name!r}.{hint} '
                              "(custom types need custom_imports = dict(imports=['custom']))")


def check_data_roots(cfg: Config, loaders: tuple[str, ...] = LOADERS) -> None:
    for where, dataset in configured_datasets(cfg, loaders):
        root = dataset.get('data_root')
        if root and not Path(root).is_dir():
            raise ConfigError(
                f'{where}.data_root: {root!r} does not exist. Put the data there '
                '(Penn-Fudan: python tools/download_pennfudan.py) or point the config at it with '
                f'--cfg-options {where}.data_root=/path/to/data/')


def check_num_classes(cfg: Config, loaders: tuple[str, ...] = LOADERS) -> None:
    heads = head_num_classes(cfg.get('model', {}))
    for where, dataset in configured_datasets(cfg, loaders):
        classes = (dataset.get('metainfo') or {}).get('classes')
        if not classes:
            continue
        for head, num_classes in heads.items():
            if head.startswith('rpn_head'):
                continue  # the RPN is class-agnostic
            if num_classes != len(classes):
                raise ConfigError(
                    f'model.{head}.num_classes is {num_classes} but {where}.metainfo has '
                    f'{len(classes)} classes {tuple(classes)}: set num_classes={len(classes)} in every head.')


def check_mask_format(cfg: Config, loaders: tuple[str, ...] = LOADERS) -> None:
    """Refuses RLE masks with ``LoadAnnotations(poly2mask=False)`` (RTMDet-Ins style pipelines): mmdet then
    keeps polygons only and makes every RLE-masked object an ignored instance without a word. Which datasets
    give RLE masks, and why, the datasets say (``rle_masks``, custom/datasets/builder.py)."""
    for where, dataset in configured_datasets(cfg, loaders):
        step = load_annotations_step(dataset)
        if not step or not step.get('with_mask') or step.get('poly2mask', True):
            continue
        if reason := rle_masks(dataset):
            raise ConfigError(
                f'{where}: {reason}, but its pipeline loads masks with LoadAnnotations(poly2mask=False), '
                'which turns every RLE mask into an ignored instance (nothing would be learnt from those '
                'objects): set poly2mask=True in that LoadAnnotations step (masks are then bitmaps, which '
                'RTMDet-Ins trains on too)')


CHECKS = (check_dataset_types, check_data_roots, check_num_classes, check_mask_format)


def check_config(cfg: Config, loaders: tuple[str, ...] = LOADERS) -> None:
    """Runs every check on the datasets of ``loaders`` (the ones the tool will use); raises ConfigError
    describing the first mistake found."""
    for check in CHECKS:
        check(cfg, loaders)
