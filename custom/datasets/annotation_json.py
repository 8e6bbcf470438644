"""Base of the sources with one annotation json for all their images (COCO instances json, VIA exports), and
the one json reader of the json sources (labelme too).

``ann_file`` is the json. ``split_file`` (relative to ``data_root`` like ``ann_file``) may list the images to
keep by name, one per line, as the other sources' split files do: ``tools/make_splits.py`` writes such lists
for any source and k-fold passes one per fold (``SPLIT_ARG``). An image's name is its file name without
folders and suffix. A subclass reads the json in ``index_json`` (key -> image file name) and implements
``parse_image``.
"""

import json
from collections import defaultdict
from collections.abc import Hashable
from pathlib import Path
from typing import Any

from custom.datasets.base import ProjectDataset, check_image_file
from custom.datasets.images import read_image_size
from custom.errors import DataError


def read_json(path: str | Path) -> Any:
    """The parsed content of a json file; DataError naming it when it is missing, not UTF-8 or malformed."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, 'annotation file not found')
    try:
        return json.loads(path.read_text(encoding='utf-8'))
    except UnicodeDecodeError:
        raise DataError(path, 'not a UTF-8 text file') from None
    except json.JSONDecodeError as err:
        raise DataError(path, f'malformed JSON ({err})') from None


def image_name(file_name: str) -> str:
    """What a split file lists for an image file: its name without folders and suffix."""
    return Path(file_name.replace('\\', '/')).stem


class AnnotationJsonDataset(ProjectDataset):
    """Keys are the json's image entries; ``split_file`` lists image names (see the module docstring)."""

    SPLIT_ARG = 'split_file'

    def __init__(self, *args, split_file: str = '', **kwargs) -> None:
        self.split_file = split_file
        super().__init__(*args, **kwargs)

    def index_json(self, content: Any) -> dict[Hashable, str]:
        """Checks the json as a whole; returns key -> image file name (relative to ``data_prefix['img']``)."""
        raise NotImplementedError

    def prepare(self) -> None:
        super().prepare()
        if not self.ann_file:
            raise DataError(self.data_root or '.', f'{type(self).__name__} needs ann_file=<its json>')
        self._files = self.index_json(read_json(self.ann_file))
        self._keys_by_name: dict[str, list[Hashable]] = defaultdict(list)
        for key, file_name in self._files.items():
            self._keys_by_name[image_name(file_name)].append(key)

    def location(self) -> str:
        return str(self.ann_file)

    def split_path(self) -> str:
        if self.split_file and self.data_root and not Path(self.split_file).is_absolute():
            return str(Path(self.data_root, self.split_file))
        return self.split_file

    def all_keys(self) -> list[Hashable]:
        return list(self._files)

    def stem_of(self, key: Hashable) -> str:
        return image_name(self._files[key])

    def key_for_stem(self, stem: str) -> Hashable | None:
        keys = self._keys_by_name.get(stem, [])
        if len(keys) > 1:
            files = ', '.join(repr(self._files[key]) for key in keys)
            raise DataError(self.ann_file, f'{len(keys)} images are named {stem!r} ({files}); a split file '
                                           'cannot tell them apart')
        return keys[0] if keys else None

    def expected_file(self, stem: str) -> str:
        return f'image named {stem} in {self.ann_file}'

    def open_image(self, key: Hashable, where: str) -> tuple[Path, int, int]:
        """(path, width, height) of the image of ``key``; ``where`` names its json entry in errors."""
        path = Path(self.data_prefix.get('img', ''), self._files[key].replace('\\', '/'))
        if not path.is_file():
            raise DataError(path, f'image file not found ({where} in {self.ann_file}; check data_root and '
                                  'data_prefix img=...)')
        width, height = read_image_size(path)
        check_image_file(path, self.check_images)
        return path, width, height
