"""Checks a config before training or testing starts, so mistakes fail early with a clear message."""

import difflib
from pathlib import Path

from mmengine.config import Config
from mmengine.registry import init_default_scope

from custom.datasets.builder import LOADERS, configured_datasets, load_annotations_step, option_key, rle_masks
from custom.errors import ConfigError


def class_heads(model_cfg: dict) -> dict[str, dict]:
    """Every head config that has classes, keyed by its path (e.g. 'roi_head.bbox_head', or
    'roi_head.bbox_head[2]' for a stage of Cascade R-CNN): those with num_classes, and MaskFormer-style ones
    with num_things_classes. The class-agnostic RPN is left out."""
    found = {}

    def visit(node: object, path: str, key: str) -> None:
        if isinstance(node, dict):
            if key.endswith('head') and ('num_classes' in node or 'num_things_classes' in node):
                if not path.startswith('rpn_head'):
                    found[path] = node
            for name, value in node.items():
                visit(value, f'{path}.{name}' if path else name, name)
        elif isinstance(node, list | tuple):
            for index, item in enumerate(node):
                visit(item, f'{path}[{index}]', key)

    visit(model_cfg, '', '')
    return found


def head_num_classes(model_cfg: dict) -> dict[str, int]:
    """Classes of every head (``class_heads``): its num_classes, or num_things_classes + num_stuff_classes."""
    return {path: head['num_classes'] if 'num_classes' in head
            else head['num_things_classes'] + head.get('num_stuff_classes', 0)
            for path, head in class_heads(model_cfg).items()}


def set_num_classes(model_cfg: dict, num_classes: int) -> None:
    """Gives every head ``num_classes`` classes; a MaskFormer-style head gets them as things (no stuff), and
    its per-class loss weights keep their last ('no object') weight."""
    for head in class_heads(model_cfg).values():
        if 'num_classes' in head:
            head['num_classes'] = num_classes
            continue
        before = head['num_things_classes'] + head.get('num_stuff_classes', 0)
        head['num_things_classes'] = num_classes
        if 'num_stuff_classes' in head:
            head['num_stuff_classes'] = 0
        weights = (head.get('loss_cls') or {}).get('class_weight')
        if isinstance(weights, list | tuple) and len(weights) == before + 1:
            head['loss_cls']['class_weight'] = [1.0] * num_classes + [weights[-1]]


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
    """One error for every dataset whose data_root does not exist, with the flag that fixes them all."""
    missing = [(where, dataset) for where, dataset in configured_datasets(cfg, loaders)
               if dataset.get('data_root') and not Path(dataset['data_root']).is_dir()]
    if not missing:
        return
    listed = '\n  '.join(f'{where}.data_root: {dataset["data_root"]!r}' for where, dataset in missing)
    hint = ''
    if any(dataset.get('type') == 'PennFudanDataset' for _, dataset in missing):
        hint = ' (Penn-Fudan: python tools/download_pennfudan.py fetches it)'
    one_source = len({dataset['data_root'] for _, dataset in missing}) == 1
    if one_source and len(missing) == len(list(configured_datasets(cfg, loaders))):
        fix = 'point every dataset at your folder with --data-root DIR'
    else:
        fix = (f"set each dataset's own, e.g. --cfg-options {option_key(missing[0][0])}.data_root=DIR "
               '(--data-root DIR points every dataset at one folder)')
    raise ConfigError(f'{len(missing)} datasets of the config read folders that do not exist:\n  {listed}\n'
                      f'Put the data there{hint}, or {fix}.')


def check_num_classes(cfg: Config, loaders: tuple[str, ...] = LOADERS) -> None:
    heads = head_num_classes(cfg.get('model', {}))
    for where, dataset in configured_datasets(cfg, loaders):
        classes = (dataset.get('metainfo') or {}).get('classes')
        if not classes:
            continue
        for head, num_classes in heads.items():
            if num_classes != len(classes):
                raise ConfigError(
                    f'model.{head}.num_classes is {num_classes} but {where}.metainfo has '
                    f'{len(classes)} classes {tuple(classes)}: set num_classes={len(classes)} in every head '
                    '(--classes sets the classes of every dataset and head at once).')


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
