"""Base of the sources with one annotation json for all their images (COCO instances json, VIA exports), and
the json readers of the json sources: ``read_json`` (labelme's file per image) and ``cached_json``, which
parses an annotation json once per process for everything that reads it (the config check, the classes a
config leaves out, loading, the validator, train/val/test datasets of one json).

``ann_file`` is the json. ``split_file`` (relative to ``data_root`` like ``ann_file``) may list the images to
keep by name, one per line, as the other sources' split files do: ``tools/make_splits.py`` writes such lists
for any source and k-fold passes one per fold (``SPLIT_ARG``). An image's name is its file name without
folders and suffix. A subclass reads the json in ``index_json`` (key -> image file name) and implements
``parse_image``.
"""

import hashlib
import json
from collections import OrderedDict, defaultdict
from collections.abc import Hashable
from pathlib import Path
from typing import Any

from custom.datasets.base import ProjectDataset, check_image_file
from custom.datasets.images import read_image_size
from custom.errors import DataError

# Annotation jsons kept parsed: a config reads a few (train, val, test); a dataset keeps what it indexed of
# its json anyway, so the cache holds little more than the datasets do.
JSON_CACHE_SIZE = 8
_parsed: OrderedDict[Path, tuple[bytes, Any]] = OrderedDict()  # resolved path -> (digest of bytes, content)


def read_json(path: str | Path) -> Any:
    """The parsed content of a json file; DataError naming it when it is missing, not UTF-8 or malformed."""
    return parse_json(read_bytes(path), path)


def cached_json(path: str | Path) -> Any:
    """``read_json`` of an annotation json, parsed once per process: while the file holds the same bytes
    every caller gets the same object, which none may modify; an edited file is parsed again.

    The key is a digest of the bytes, not the modification time, which a file edited twice within the
    clock's tick (a few ms) keeps; hashing costs little beside parsing (measured on a 38 MB COCO-like json:
    blake2b 0.9 GB/s, json.loads 24 MB/s).
    """
    data = read_bytes(path)
    digest = hashlib.blake2b(data, digest_size=16).digest()
    resolved = Path(path).resolve()
    if resolved in _parsed and _parsed[resolved][0] == digest:
        _parsed.move_to_end(resolved)
        return _parsed[resolved][1]
    content = parse_json(data, path)
    _parsed[resolved] = (digest, content)
    _parsed.move_to_end(resolved)
    while len(_parsed) > JSON_CACHE_SIZE:
        _parsed.popitem(last=False)
    return content


def read_bytes(path: str | Path) -> bytes:
    """The bytes of an annotation file; DataError naming it when it is missing."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, 'annotation file not found')
    return path.read_bytes()


def parse_json(data: bytes, path: str | Path) -> Any:
    """The content of json ``data`` read from ``path``; DataError naming it when not UTF-8 or malformed."""
    try:
        return json.loads(data.decode('utf-8'))
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
        self._files = self.index_json(cached_json(self.ann_file))
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
