"""Writing split files for any source: seeded train/val splits (tools/make_splits.py, the Penn-Fudan download,
the demo data) and k folds (tools/kfold.py), dealt from the source's own image names."""

from pathlib import Path

from custom.datasets.base import ProjectDataset
from custom.datasets.builder import build_dataset
from custom.datasets.splits import SPLIT_NAMES, make_folds, make_splits, write_split_files
from custom.errors import ConfigError, DataError


def project_dataset(dataset_cfg: dict) -> ProjectDataset:
    """The source a config entry describes, built without loading it; refuses datasets that are not the
    project's (mmdet's CocoDataset: use CocoJsonDataset, which reads the same json)."""
    dataset = build_dataset(dataset_cfg, lazy=True)
    if not isinstance(dataset, ProjectDataset):
        raise ConfigError(f'{type(dataset).__name__} has no image names to split: use one of the project\'s '
                          'datasets (CocoJsonDataset reads the same COCO json as CocoDataset)')
    return dataset


def source_stems(dataset_cfg: dict) -> tuple[list[str], str]:
    """The names split files use for every image of a source (whatever split the config selects), and where
    they come from (for messages)."""
    dataset = project_dataset(dataset_cfg)
    return dataset.image_stems(), dataset.location()


def split_argument(dataset_cfg: dict) -> str:
    """The dataset argument that takes a split file: ``ann_file``, or ``split_file`` for the json sources."""
    return type(project_dataset(dataset_cfg)).SPLIT_ARG


def write_splits(dataset_cfg: dict, out_dir: str | Path, n_train: int, n_val: int,
                 seed: int = 0) -> dict[str, Path]:
    """``out_dir/train.txt`` and ``val.txt`` with ``n_train``/``n_val`` images shuffled with ``seed``."""
    stems, location = source_stems(dataset_cfg)
    splits = make_splits(stems, n_train, n_val, seed, source=location)
    return write_split_files(out_dir, {name: splits[name] for name in SPLIT_NAMES})


def write_folds(dataset_cfg: dict, out_dir: str | Path, k: int, seed: int = 0) -> list[dict[str, Path]]:
    """``out_dir/fold{i}/train.txt`` and ``val.txt`` for each of ``k`` folds: fold i validates on its own
    images and trains on all the others, so every image is validated exactly once."""
    stems, location = source_stems(dataset_cfg)
    if len(stems) < k:
        raise DataError(location, f'holds {len(stems)} images, fewer than the {k} folds')
    written = []
    for index, val in enumerate(make_folds(stems, k, seed)):
        val_set = set(val)
        splits = {'train': [s for s in sorted(stems) if s not in val_set], 'val': val}
        written.append(write_split_files(Path(out_dir) / f'fold{index}', splits))
    return written
