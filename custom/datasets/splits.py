"""Split files: the one reader every source uses, seeded train/val splits and k folds, and the writer.

A split file lists one image per line by the name its source gives it (``FudanPed00001``, ``2008_000008``,
``000042``), sorted, LF line endings. The reader also takes ``JPEGImages/2008_000008.jpg`` (folders and the
suffix are dropped), VOC's per-class lists (``2008_000008 -1``: -1 = class absent, the line is skipped),
blank lines and ``#`` comments.
"""

import random
from pathlib import Path

from custom.errors import ConfigError, DataError

SPLIT_NAMES = ('train', 'val')
LISTED_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp', '.xml', '.txt', '.json')  # dropped from entries


def read_split(list_file: str | Path) -> list[tuple[int, str]]:
    """``(line number, image name)`` of every entry of a split file."""
    list_file = Path(list_file)
    if not list_file.is_file():
        raise DataError(list_file, 'split file not found')
    entries = []
    for line_no, line in enumerate(list_file.read_text(encoding='utf-8').splitlines(), start=1):
        fields = line.split('#', 1)[0].split()
        if not fields or (len(fields) > 1 and fields[1] == '-1'):
            continue
        entry = Path(fields[0])
        entries.append((line_no, entry.stem if entry.suffix.lower() in LISTED_SUFFIXES else entry.name))
    return entries


def counts_from_fraction(n_images: int, val_fraction: float) -> tuple[int, int]:
    """(n_train, n_val) using every image, with ``round(val_fraction * n_images)`` (at least 1) for val."""
    if not 0 < val_fraction < 1:
        raise ConfigError(f'val fraction must be between 0 and 1, got {val_fraction}')
    n_val = min(max(1, round(val_fraction * n_images)), n_images - 1)
    return n_images - n_val, n_val


def make_splits(stems: list[str], n_train: int, n_val: int, seed: int = 0,
                source: str | Path = 'the data set') -> dict[str, list[str]]:
    """Shuffle the stems with ``seed``; the first ``n_train`` go to train, the next ``n_val`` to val (sorted).

    ``source`` names the folder or file the stems come from in the error when there are too few."""
    if n_train < 0 or n_val < 0:
        raise ConfigError(f'split sizes must not be negative (train={n_train}, val={n_val})')
    if n_train + n_val > len(stems):
        requested = f'{n_train + n_val} requested ({n_train} train + {n_val} val)'
        raise DataError(source, f'holds {len(stems)} images, fewer than the {requested}')
    shuffled = sorted(stems)
    random.Random(seed).shuffle(shuffled)
    return {'train': sorted(shuffled[:n_train]), 'val': sorted(shuffled[n_train:n_train + n_val])}


def make_folds(stems: list[str], k: int, seed: int = 0) -> list[list[str]]:
    """``k`` disjoint, sorted val folds covering ``stems`` (sizes differ by at most one); seeded."""
    if k < 2:
        raise ConfigError(f'k-fold needs at least 2 folds, got {k}')
    if k > len(stems):
        raise ConfigError(f'{k} folds need at least {k} images, got {len(stems)}')
    shuffled = sorted(stems)
    random.Random(seed).shuffle(shuffled)
    return [sorted(shuffled[i::k]) for i in range(k)]


def write_split_files(out_dir: str | Path, splits: dict[str, list[str]]) -> dict[str, Path]:
    """Write ``out_dir/<name>.txt`` with one stem per line (LF) for each split; returns name -> path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, stems in splits.items():
        written[name] = out_dir / f'{name}.txt'
        written[name].write_text(''.join(f'{stem}\n' for stem in stems), encoding='utf-8', newline='\n')
    return written
