"""Writing split files for any source: seeded train/val splits (tools/make_splits.py, the Penn-Fudan download,
the demo data) and k folds (tools/kfold.py), dealt from the source's own image names."""

from pathlib import Path

from custom.datasets.builder import build_dataset
from custom.datasets.splits import SPLIT_NAMES, make_folds, make_splits, write_split_files
from custom.errors import DataError


def source_stems(dataset_cfg: dict) -> tuple[list[str], str]:
    """The names split files use for every image of a source, and where they come from (for messages)."""
    dataset = build_dataset({**dataset_cfg, 'ann_file': ''}, lazy=True)
    return dataset.image_stems(), dataset.location()


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
