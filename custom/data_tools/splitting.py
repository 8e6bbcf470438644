"""Writing split files for any source: seeded train/val splits (tools/make_splits.py, the Penn-Fudan download,
the demo data) and k folds (tools/kfold.py), dealt from the source's own image names (k-fold: the images
of the config's training split only). The source is built
once (``source_images``) and its names passed on; the argument that takes a split file is read from the
dataset's class (``split_argument``), which builds nothing."""

from dataclasses import dataclass
from pathlib import Path

from custom.datasets.base import ProjectDataset, trainable
from custom.datasets.builder import build_dataset, dataset_class
from custom.datasets.splits import SPLIT_NAMES, make_folds, make_splits, write_split_files
from custom.errors import ConfigError, DataError


@dataclass(frozen=True)
class SourceImages:
    """The names split files use for every image of a source, and where they come from (for messages)."""

    stems: list[str]
    location: str
    # name -> classes of its objects to train on (not ignored), when asked for; images that fail to parse are
    # left out (the validator names them)
    classes: dict[str, frozenset[str]] | None = None


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


def source_images(dataset_cfg: dict, with_classes: bool = False) -> SourceImages:
    """Every image name of the source a config entry describes (whatever split the config selects), from the
    dataset built once without loading it; ``with_classes`` also parses every image for its classes."""
    project_class(dataset_cfg)
    dataset = build_dataset(dataset_cfg, lazy=True)
    stems = dataset.image_stems()
    if not with_classes:
        return SourceImages(stems, dataset.location())
    names, classes = dataset.metainfo['classes'], {}
    dataset.check_images = False  # the classes are in the annotations; the validator checks the images
    for key in dataset.all_keys():
        try:
            instances = dataset.parse_image(key).info['instances']
        except DataError:
            continue
        classes[dataset.stem_of(key)] = frozenset(names[inst['bbox_label']] for inst in trainable(instances))
    return SourceImages(stems, dataset.location(), classes)


def classes_missing_from_train(images: SourceImages, train: list[str], val: list[str]) -> list[str]:
    """Classes with objects in ``val`` but none in ``train`` (the model would never learn them)."""
    seen = {name: set().union(*(images.classes.get(stem, ()) for stem in stems))
            for name, stems in (('train', train), ('val', val))}
    return sorted(seen['val'] - seen['train'])


def selected_images(dataset_cfg: dict) -> SourceImages:
    """The names of the images the config entry selects (those its split file lists, or every image when it
    names none), and the split file or folder they come from: what k-fold deals, so that images the config
    holds out for validation never enter a fold."""
    project_class(dataset_cfg)
    dataset = build_dataset(dataset_cfg, lazy=True)
    return SourceImages([dataset.stem_of(key) for key in dataset.image_keys()],
                        dataset.split_path() or dataset.location())


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
