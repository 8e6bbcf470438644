"""Deterministic, seeded train/val splits of a Penn-Fudan style folder (stems of ``PNGImages/*.png``).

A split file holds one image stem per line (e.g. ``FudanPed00001``), sorted, LF line endings.
"""

import random
from pathlib import Path

from custom.errors import DataError

SPLIT_NAMES = ('train', 'val')


def list_stems(root: str | Path) -> list[str]:
    """Sorted stems of the images in ``root/PNGImages``."""
    img_dir = Path(root) / 'PNGImages'
    if not img_dir.is_dir():
        raise DataError(img_dir, 'image folder not found')
    return sorted(p.stem for p in img_dir.glob('*.png'))


def counts_from_fraction(n_images: int, val_fraction: float) -> tuple[int, int]:
    """(n_train, n_val) using every image, with ``round(val_fraction * n_images)`` (at least 1) for val."""
    if not 0 < val_fraction < 1:
        raise ValueError(f'val fraction must be between 0 and 1, got {val_fraction}')
    n_val = min(max(1, round(val_fraction * n_images)), n_images - 1)
    return n_images - n_val, n_val


def make_splits(root: str | Path, n_train: int = 120, n_val: int = 50, seed: int = 0) -> dict[str, list[str]]:
    """Shuffle the stems with ``seed``; the first ``n_train`` go to train, the next ``n_val`` to val."""
    if n_train < 0 or n_val < 0:
        raise ValueError(f'split sizes must not be negative (train={n_train}, val={n_val})')
    stems = list_stems(root)
    if n_train + n_val > len(stems):
        requested = f'{n_train + n_val} requested ({n_train} train + {n_val} val)'
        raise DataError(Path(root) / 'PNGImages', f'holds {len(stems)} images, fewer than the {requested}')
    shuffled = list(stems)
    random.Random(seed).shuffle(shuffled)
    return {'train': sorted(shuffled[:n_train]), 'val': sorted(shuffled[n_train:n_train + n_val])}


def write_split_files(out_dir: str | Path, splits: dict[str, list[str]]) -> dict[str, Path]:
    """Write ``out_dir/<name>.txt`` with one stem per line (LF) for each split; returns name -> path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, stems in splits.items():
        written[name] = out_dir / f'{name}.txt'
        written[name].write_text(''.join(f'{stem}\n' for stem in stems), encoding='utf-8', newline='\n')
    return written


def write_splits(root: str | Path, out_dir: str | Path | None = None, n_train: int = 120, n_val: int = 50,
                 seed: int = 0) -> dict[str, Path]:
    """Write ``train.txt`` and ``val.txt`` (default folder ``root/splits``); returns name -> written path."""
    splits = make_splits(root, n_train=n_train, n_val=n_val, seed=seed)
    out_dir = Path(out_dir) if out_dir is not None else Path(root) / 'splits'
    return write_split_files(out_dir, {name: splits[name] for name in SPLIT_NAMES})
