"""Base of the sources with one annotation file per image (VOC-XML, KITTI).

Annotations live in ``data_prefix['ann']`` (``<stem><ANN_SUFFIX>``), images are found by stem in
``data_prefix['img']``; a subclass sets the class attributes and implements ``parse_image(ann_path)``.
"""

from pathlib import Path

from custom.datasets.base import ProjectDataset
from custom.datasets.images import index_images
from custom.errors import DataError


class AnnotationFolderDataset(ProjectDataset):
    """Keys are annotation file paths; a split file lists their stems."""

    ANN_SUFFIX = '.txt'
    ANN_FOLDER = 'annotation'  # how the annotation folder is named in messages

    def prepare(self) -> None:
        super().prepare()
        self._images: dict[str, Path] = index_images(self.data_prefix['img'])
        self.check_ann_dir()

    def check_ann_dir(self) -> None:
        """DataError when the annotation folder does not exist."""
        if not self.ann_dir.is_dir():
            raise DataError(self.ann_dir, f'{self.ANN_FOLDER} folder not found '
                                          '(check data_root and data_prefix ann=...)')

    @property
    def ann_dir(self) -> Path:
        return Path(self.data_prefix['ann'])

    def location(self) -> str:
        return str(self.ann_file or self.data_prefix['ann'])

    def all_keys(self) -> list[Path]:
        return sorted(self.ann_dir.glob(f'*{self.ANN_SUFFIX}'))

    def expected_file(self, stem: str) -> str:
        return str(self.ann_dir / f'{stem}{self.ANN_SUFFIX}')

    def key_for_stem(self, stem: str) -> Path | None:
        path = Path(self.expected_file(stem))
        return path if path.is_file() else None
