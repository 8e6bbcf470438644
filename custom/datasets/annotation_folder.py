"""Base of the datasets with one annotation file per image (VOC-XML, KITTI).

Annotations live in ``data_prefix['ann']`` (``<stem><ANN_SUFFIX>``), images are found by stem in
``data_prefix['img']``; a subclass sets the class attributes and implements ``parse_image(ann_path)``.
"""

from collections import Counter
from pathlib import Path

from mmdet.datasets import BaseDetDataset

from custom.datasets.checks import ParsedImage, raise_on_duplicate_ids
from custom.datasets.class_map import check_class_map, warn_unmatched
from custom.datasets.image_folder import filter_images, index_images, read_split
from custom.errors import DataError


class AnnotationFolderDataset(BaseDetDataset):
    """Args: class_map (source class name -> config class name), check_images (see check_image_file)."""

    DEFAULT_PREFIX: dict = {}
    ANN_SUFFIX = '.txt'
    ANN_FOLDER = 'annotation'  # how the annotation folder is named in messages
    UNMATCHED_FATE = 'skipped'  # what happens to objects of classes outside metainfo['classes']

    def __init__(self, *args, data_prefix: dict | None = None, class_map: dict | None = None,
                 check_images: bool | str = True, **kwargs) -> None:
        self.class_map = class_map
        self.check_images = check_images
        self._images: dict[str, Path] = {}
        super().__init__(*args, data_prefix={**self.DEFAULT_PREFIX, **(data_prefix or {})}, **kwargs)

    def parse_image(self, ann_path: Path) -> ParsedImage:
        raise NotImplementedError

    def load_data_list(self) -> list[dict]:
        unmatched, warnings, data_list = Counter(), [], []
        for ann_path in self.image_keys():
            parsed = self.parse_image(ann_path)
            data_list.append(parsed.info)
            unmatched += parsed.unmatched
            warnings += parsed.warnings
        raise_on_duplicate_ids(data_list, self.ann_file or self.data_prefix['ann'])
        owner = f'{type(self).__name__}({self.data_prefix["ann"]})'
        warn_unmatched(unmatched, owner, self.UNMATCHED_FATE)
        self.log_warnings(owner, warnings)
        return data_list

    def log_warnings(self, owner: str, warnings: list[DataError]) -> None:
        """Summarises the tolerated problems of a load (the validator lists them one by one)."""

    def filter_data(self) -> list[dict]:
        return filter_images(self.data_list, self.filter_cfg, self.test_mode)

    def image_keys(self) -> list[Path]:
        """Annotation files to load (all, or the split file's); also checks classes and indexes images."""
        classes = tuple(self.metainfo['classes'])
        if not classes:
            raise ValueError(f'{type(self).__name__} needs metainfo=dict(classes=(...)) in the config')
        self.class_map = check_class_map(self.class_map, classes, type(self).__name__)
        self._images = index_images(self.data_prefix['img'])
        ann_dir = Path(self.data_prefix['ann'])
        if not ann_dir.is_dir():
            raise DataError(ann_dir, f'{self.ANN_FOLDER} folder not found '
                                     '(check data_root and data_prefix ann=...)')
        if not self.ann_file:
            return sorted(ann_dir.glob(f'*{self.ANN_SUFFIX}'))
        ann_files = [ann_dir / f'{stem}{self.ANN_SUFFIX}' for stem in read_split(self.ann_file)]
        for ann_path in ann_files:
            if not ann_path.is_file():
                raise DataError(self.ann_file, f'lists {ann_path.stem!r} but {ann_path} does not exist')
        return ann_files
