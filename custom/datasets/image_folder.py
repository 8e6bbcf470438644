"""Helpers shared by the folder-based datasets (VOC-XML, KITTI): finding images, reading sizes, split lists,
and the ``filter_cfg`` that mmdet's base configs pass to training datasets."""

from collections.abc import Iterable
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from custom.errors import DataError

IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp')
LISTED_SUFFIXES = (*IMAGE_SUFFIXES, '.xml', '.txt')  # dropped from split-file entries


def index_images(folder: str | Path) -> dict[str, Path]:
    """Map file stem -> image path for the images in ``folder`` (suffix case-insensitive).

    When two images share a stem, the earlier suffix in ``IMAGE_SUFFIXES`` wins (a.jpg over a.png).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(folder, 'image folder not found (check data_root and data_prefix img=...)')
    rank = {suffix: i for i, suffix in enumerate(IMAGE_SUFFIXES)}
    found: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        suffix = path.suffix.lower()
        if suffix not in rank or not path.is_file():
            continue
        best = found.get(path.stem)
        if best is None or rank[suffix] < rank[best.suffix.lower()]:
            found[path.stem] = path
    return found


def read_image_size(path: str | Path) -> tuple[int, int]:
    """``(width, height)`` from the image header only (any mode: RGB, grayscale, palette)."""
    if not Path(path).is_file():
        raise DataError(path, 'image file not found')
    try:
        with Image.open(path) as img:
            return img.size
    except (OSError, UnidentifiedImageError) as err:
        raise DataError(path, f'cannot read the image: {err}') from err


def read_split(list_file: str | Path) -> list[str]:
    """Stems listed in a split file, one per line; blank lines and ``#`` comments are skipped.

    Accepted lines: ``2008_000008``, ``JPEGImages/2008_000008.jpg`` (path/suffix dropped) and VOC's per-class
    lists ``2008_000008 -1`` (-1 = class absent: the line is skipped).
    """
    list_file = Path(list_file)
    if not list_file.is_file():
        raise DataError(list_file, 'split file not found')
    stems = []
    for line in list_file.read_text().splitlines():
        fields = line.split('#', 1)[0].split()
        if not fields or (len(fields) > 1 and fields[1] == '-1'):
            continue
        entry = Path(fields[0])
        stems.append(entry.stem if entry.suffix.lower() in LISTED_SUFFIXES else entry.name)
    return stems


def filter_images(data_list: list[dict], filter_cfg: dict | None, test_mode: bool) -> list[dict]:
    """Apply ``filter_cfg=dict(filter_empty_gt=bool, min_size=int)`` like mmdet's CocoDataset (train only).

    ``filter_empty_gt`` drops images without any non-ignored instance; ``min_size`` drops images whose
    shorter side is below it.
    """
    if test_mode or not filter_cfg:
        return data_list
    drop_empty = filter_cfg.get('filter_empty_gt', False)
    min_size = filter_cfg.get('min_size', 0)
    return [
        info
        for info in data_list
        if min(info['width'], info['height']) >= min_size
        and not (drop_empty and not _has_target(info['instances']))
    ]


def _has_target(instances: Iterable[dict]) -> bool:
    return any(inst['ignore_flag'] == 0 for inst in instances)


def clip_box(box: list[float], width: int, height: int) -> list[float]:
    """Clip ``[x1, y1, x2, y2]`` (x2, y2 exclusive) to the image."""
    x1, y1, x2, y2 = box
    return [
        min(max(x1, 0.0), width),
        min(max(y1, 0.0), height),
        min(max(x2, 0.0), width),
        min(max(y2, 0.0), height),
    ]
