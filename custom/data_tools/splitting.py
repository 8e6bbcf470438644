"""Writing split files for any source: seeded train/val splits (tools/make_splits.py, the Penn-Fudan download,
the demo data) and k folds (tools/kfold.py), dealt from the source's own image names. The source is built
once (``source_images``) and its names passed on; the argument that takes a split file is read from the
dataset's class (``split_argument``), which builds nothing."""

from dataclasses import dataclass
from pathlib import Path

from custom.datasets.base import ProjectDataset
from custom.datasets.builder import build_dataset, dataset_class
from custom.datasets.splits import SPLIT_NAMES, make_folds, make_splits, write_split_files
from custom.errors import ConfigError, DataError


@dataclass(frozen=True)
class SourceImages:
    """The names split files use for every image of a source, and where they come from (for messages)."""

    stems: list[str]
    location: str


def project_class(dataset_cfg: dict) -> type[ProjectDataset]:
    """The project dataset class a config entry names; refuses others (mmdet's CocoDataset: use
    CocoJsonDataset, which reads the same json)."""
    cls = dataset_class(dataset_cfg)
    if cls is None:
        raise ConfigError(f'unknown dataset type {dataset_cfg.get("type")!r}')
    if not issubclass(cls, ProjectDataset):
        raise ConfigError(f'{cls.__name__} has no image names to split: use one of the project\'s datasets '
                          '(CocoJsonDataset reads the same COCO json as CocoDataset)')
    return cls


def source_images(dataset_cfg: dict) -> SourceImages:
    """Every image name of the source a config entry describes (whatever split the config selects), from the
    dataset built once without loading it."""
    project_class(dataset_cfg)
    dataset = build_dataset(dataset_cfg, lazy=True)
    return SourceImages(dataset.image_stems(), dataset.location())


def split_argument(dataset_cfg: dict) -> str:
    """The dataset argument that takes a split file: ``ann_file``, or ``split_file`` for the json sources."""
    return project_class(dataset_cfg).SPLIT_ARG


def write_splits(images: SourceImages, out_dir: str | Path, n_train: int, n_val: int,
                 seed: int = 0) -> dict[str, Path]:
    """``out_dir/train.txt`` and ``val.txt`` with ``n_train``/``n_val`` images shuffled with ``seed``."""
    splits = make_splits(images.stems, n_train, n_val, seed, source=images.location)
    return write_split_files(out_dir, {name: splits[name] for name in SPLIT_NAMES})


def write_folds(images: SourceImages, out_dir: str | Path, k: int, seed: int = 0) -> list[dict[str, Path]]:
    """``out_dir/fold{i}/train.txt`` and ``val.txt`` for each of ``k`` folds: fold i validates on its own
    images and trains on all the others, so every image is validated exactly once."""
    stems = images.stems
    if len(stems) < k:
        raise DataError(images.location, f'holds {len(stems)} images, fewer than the {k} folds')
    written = []
    for index, val in enumerate(make_folds(stems, k, seed)):
        val_set = set(val)
        splits = {'train': [s for s in sorted(stems) if s not in val_set], 'val': val}
        written.append(write_split_files(Path(out_dir) / f'fold{index}', splits))
    return written
