"""Per-image checks shared by the datasets' load_data_list() and tools/validate_dataset.py.

Every dataset parses one image at a time with ``parse_image(key) -> ParsedImage``, raising ``DataError`` at
the image's first error. Loading stops at that error; the validator (custom/validation.py) catches it, notes
it and goes on with the next image, so both report the same problems with the same words.
"""

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from custom.errors import DataError

# check_images values: skip the image check, verify the file's structure (cheap, default), decode every pixel.
IMAGE_CHECKS = (False, True, 'verify', 'decode')


@dataclass
class ParsedImage:
    """One image in the middle format plus what training tolerates but a validator should mention."""

    info: dict
    unmatched: Counter = field(default_factory=Counter)  # source class name -> objects not in classes
    warnings: list[DataError] = field(default_factory=list)


def check_image_file(path: str | Path, check: bool | str = True) -> None:
    """Fails with a DataError when the image cannot be decoded; see ``IMAGE_CHECKS`` for ``check``.

    'verify' (= True) checks the file's structure (for PNG every chunk's CRC, so truncated or damaged files
    fail): 0.06-0.5 s for the 170 Penn-Fudan images. 'decode' decodes every pixel (about 1.8 s), which
    also catches truncated JPEGs (OpenCV decodes those partially, so training would not crash on them).
    """
    if check not in IMAGE_CHECKS:
        raise ValueError(f'check_images must be one of {IMAGE_CHECKS}, got {check!r}')
    if not check:
        return
    try:
        with Image.open(path) as img:
            img.verify()
        if check == 'decode':  # after the verify, so a file both catch gets the message loading gives
            with Image.open(path) as img:
                img.load()
    except (OSError, SyntaxError, ValueError, UnidentifiedImageError, Image.DecompressionBombError) as err:
        raise DataError(path, f'corrupt image data ({err or type(err).__name__})') from None


def duplicate_id_errors(infos: list[dict], source: str | Path) -> list[DataError]:
    """One DataError per ``img_id`` that occurs more than once (a split file listing an image twice)."""
    counts = Counter(info['img_id'] for info in infos)
    return [
        DataError(source, f'image id {img_id!r} occurs {n} times (each image must be listed once)')
        for img_id, n in counts.items()
        if n > 1
    ]


def raise_on_duplicate_ids(infos: list[dict], source: str | Path) -> None:
    errors = duplicate_id_errors(infos, source)
    if errors:
        raise errors[0]
