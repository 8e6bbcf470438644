"""Image files of a source: finding them by stem, reading their size from the header, clipping boxes.

An image's size is the size the training pipeline sees: mmdet's ``LoadImageFromFile`` decodes with OpenCV,
which turns the image by its EXIF orientation (JPEG, and PNG's eXIf chunk), so a photo stored 4000x3000 with
orientation 6 (a phone held upright) is 3000x4000 to the model, as it is to labelme, which draws on the turned
image and writes that size. ``read_image_size`` gives that size from the file's header, without decoding the
pixels: PIL reads the header lazily (``Image.open``) and with it JPEG's EXIF block and a PNG's eXIf chunk
placed before the image data. OpenCV also honours an eXIf chunk after the image data, which PIL reads only by
decoding the image, so for a PNG without an early one the chunk headers are walked (``png_late_exif``: no
decompression). OpenCV ignores the EXIF of other formats (WebP), so they keep their
stored size. Timings: docs/benchmarks.md, "Scale".
"""

import mmap
import struct
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from custom.errors import DataError

IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp')
EXIF_ORIENTATION = 0x0112
# EXIF orientations that turn the image a quarter (transpose, 90 degrees, transverse, 270 degrees): width and
# height swap; 2-4 mirror or turn it half and keep them.
QUARTER_TURNS = frozenset({5, 6, 7, 8})
# The formats whose EXIF orientation OpenCV (so LoadImageFromFile) applies; PIL names some JPEGs MPO.
ORIENTED_FORMATS = ('JPEG', 'MPO', 'PNG')
PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'


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
    """``(width, height)`` as ``LoadImageFromFile`` gives the image (turned by its EXIF orientation), from the
    file's header only (any mode: RGB, grayscale, palette); see the module docstring."""
    if not Path(path).is_file():
        raise DataError(path, 'image file not found')
    try:
        with Image.open(path) as img:
            width, height = img.size
            exif = img.info.get('exif') if img.format in ORIENTED_FORMATS else None
            if exif is None and img.format == 'PNG':
                exif = png_late_exif(path)
            orientation = exif_orientation(exif) if exif else 1
    except (OSError, UnidentifiedImageError, SyntaxError, struct.error) as err:
        raise DataError(path, f'cannot read the image: {err}') from err
    return (height, width) if orientation in QUARTER_TURNS else (width, height)


def exif_orientation(exif: bytes) -> int:
    """The orientation tag of an EXIF block (1, upright, when it holds none)."""
    parsed = Image.Exif()
    parsed.load(exif)
    orientation = parsed.get(EXIF_ORIENTATION, 1)
    return orientation if isinstance(orientation, int) else 1


def png_late_exif(path: str | Path) -> bytes | None:
    """The content of a PNG's eXIf chunk, found by walking the chunk headers (None when it has none). The file
    is mapped, not read: only the pages that hold chunk headers are touched (a 500 KB Penn-Fudan PNG has 64
    chunks; 8-byte reads, one per chunk, took four times as long)."""
    with open(path, 'rb') as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
        position = len(PNG_SIGNATURE)
        while position + 8 <= len(data):
            length, kind = struct.unpack_from('>I4s', data, position)
            if kind == b'eXIf':
                return data[position + 8:position + 8 + length]
            if kind == b'IEND':
                return None
            position += length + 12  # length, type, data, CRC
    return None


def clip_box(box: list[float], width: int, height: int) -> list[float]:
    """Clip ``[x1, y1, x2, y2]`` (x2, y2 exclusive) to the image."""
    x1, y1, x2, y2 = box
    return [
        min(max(x1, 0.0), width),
        min(max(y1, 0.0), height),
        min(max(x2, 0.0), width),
        min(max(y2, 0.0), height),
    ]
