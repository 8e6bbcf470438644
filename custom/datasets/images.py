"""Image files of a source: finding them by stem, reading their size from the header, clipping boxes."""

from pathlib import Path

from PIL import Image, UnidentifiedImageError

from custom.errors import DataError

IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp')


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


def clip_box(box: list[float], width: int, height: int) -> list[float]:
    """Clip ``[x1, y1, x2, y2]`` (x2, y2 exclusive) to the image."""
    x1, y1, x2, y2 = box
    return [
        min(max(x1, 0.0), width),
        min(max(y1, 0.0), height),
        min(max(x2, 0.0), width),
        min(max(y2, 0.0), height),
    ]
