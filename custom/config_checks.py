"""Checks a config before training or testing starts, so mistakes fail early with a clear message."""

import difflib
from collections.abc import Iterator
from pathlib import Path

from mmengine.config import Config
from mmengine.registry import init_default_scope

from custom.errors import UserError


class ConfigError(UserError, ValueError):
    """A config mistake found before the runner is built."""


def iter_datasets(dataset_cfg: dict, where: str) -> Iterator[tuple[str, dict]]:
    """Yields (location, dataset config) for a dataset and those wrapped in Concat/Repeat/ClassBalanced."""
    if 'datasets' in dataset_cfg:
        for i, child in enumerate(dataset_cfg['datasets']):
            yield from iter_datasets(child, f'{where}.datasets[{i}]')
    elif 'dataset' in dataset_cfg:
        yield from iter_datasets(dataset_cfg['dataset'], f'{where}.dataset')
    else:
        yield where, dataset_cfg


def configured_datasets(cfg: Config) -> Iterator[tuple[str, dict]]:
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if cfg.get(loader) and cfg[loader].get('dataset'):
            yield from iter_datasets(cfg[loader]['dataset'], f'{loader}.dataset')


def head_num_classes(model_cfg: dict) -> dict[str, int]:
    """num_classes of every head in the model config, keyed by its path (e.g. 'roi_head.bbox_head')."""
    found = {}

    def visit(node: object, path: str) -> None:
        if isinstance(node, dict):
            if 'num_classes' in node and path.endswith('head'):
                found[path] = node['num_classes']
            for key, value in node.items():
                visit(value, f'{path}.{key}' if path else key)

    visit(model_cfg, '')
    return found


def check_dataset_types(cfg: Config) -> None:
    from mmdet.registry import DATASETS

    init_default_scope(cfg.get('default_scope', 'mmdet'))
    for where, dataset in configured_datasets(cfg):
        type_name = dataset.get('type')
        if isinstance(type_name, str) and DATASETS.get(type_name) is None:
            known = list(DATASETS.module_dict) + list(DATASETS.parent.module_dict if DATASETS.parent else [])
            close = difflib.get_close_matches(type_name, known, n=3)
            hint = f' Did you mean {", ".join(close)}?' if close else ''
            raise ConfigError(f'{where}.type: unknown dataset type {type_name!r}.{hint} '
                              "(custom types need custom_imports = dict(imports=['custom']))")


def check_data_roots(cfg: Config) -> None:
    for where, dataset in configured_datasets(cfg):
        root = dataset.get('data_root')
        if root and not Path(root).is_dir():
            raise ConfigError(
                f'{where}.data_root: {root!r} does not exist. Put the data there '
                '(Penn-Fudan: python tools/download_pennfudan.py) or point the config at it with '
                f'--cfg-options {where}.data_root=/path/to/data/')


def check_num_classes(cfg: Config) -> None:
    heads = head_num_classes(cfg.get('model', {}))
    for where, dataset in configured_datasets(cfg):
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


def check_config(cfg: Config) -> None:
    """Runs every check; raises ConfigError describing the first mistake found."""
    check_dataset_types(cfg)
    check_data_roots(cfg)
    check_num_classes(cfg)
