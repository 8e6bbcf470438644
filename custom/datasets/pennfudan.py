"""Penn-Fudan pedestrians: annotation parser/writer and the registered ``PennFudanDataset``.

On-disk layout (``data_root``)::

    PNGImages/<stem>.png          RGB image
    PedMasks/<stem>_mask.png      mode L, pixel value = pedestrian id 1..N, 0 = background
    Annotation/<stem>.txt         PASCAL Annotation Version 1.00 text (CRLF), 1-based inclusive boxes
    splits/train.txt, val.txt     split files, one stem per line (DEFAULT_SPLIT; tools/make_splits.py)

Box decision: each instance's box is the extent of its mask, not the hand-drawn annotation box. The masks
are what Mask R-CNN learns, so box and mask must agree; on the real data 407 of 423 annotation boxes equal
the mask extent and 16 differ by 1-6 px. The annotation is still cross-checked: its object count must equal
the number of mask ids (exactly 1..N), its image size must match, and each of its boxes must lie within
``box_tolerance`` px of the mask extent, otherwise loading fails with a ``DataError`` naming the file
(smaller differences are warnings of tools/validate_dataset.py). ``check_images`` (see
custom/datasets/base.py) checks each image file so a corrupt one fails here, not in a DataLoader worker.
"""

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from mmdet.registry import DATASETS

from custom.datasets.base import ParsedImage, ProjectDataset, check_image_file
from custom.datasets.images import read_image_size
from custom.errors import DataError
from custom.structures.masks import mask_extent_box, mask_to_rle, read_index_png

# The layout of the official archive (data_prefix keys img/mask/ann) and the project's default split.
LAYOUT = {'img': 'PNGImages/', 'mask': 'PedMasks/', 'ann': 'Annotation/'}
MASK_SUFFIX = '_mask.png'
DEFAULT_SPLIT = {'n_train': 120, 'n_val': 50, 'seed': 0}  # of the 170 images; written to SPLIT_DIR
SPLIT_DIR = 'splits'  # train.txt and val.txt under data_root (the configs' ann_file)

Box = tuple[int, int, int, int]
ID_MASK_MODES = ('L', 'P', 'I', 'I;16')

_FILENAME_RE = re.compile(r'^Image filename\s*:\s*"([^"]*)"')
_SIZE_RE = re.compile(r'^Image size \(X x Y x C\)\s*:\s*(\d+)\s*x\s*(\d+)\s*x\s*(\d+)')
_COUNT_RE = re.compile(r'^Objects with ground truth\s*:\s*(\d+)\s*\{(.*)\}')
_BOX_RE = re.compile(
    r'^Bounding box for object (\d+) "([^"]*)" \(Xmin, Ymin\) - \(Xmax, Ymax\)\s*:\s*'
    r'\((\d+),\s*(\d+)\)\s*-\s*\((\d+),\s*(\d+)\)'
)


@dataclass
class PennFudanAnnotation:
    """One annotation file. ``boxes`` are as written: (xmin, ymin, xmax, ymax), 1-based and inclusive."""

    image_filename: str
    size: tuple[int, int, int]  # (width, height, channels)
    num_objects: int
    boxes: list[Box] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)  # e.g. 'PASpersonWalking', one per box


def parse_annotation(path: str | Path) -> PennFudanAnnotation:
    """Parse a Penn-Fudan annotation file (CRLF or LF). Lines it reads look like::

        Image filename : "PennFudanPed/PNGImages/FudanPed00001.png"
        Image size (X x Y x C) : 559 x 536 x 3
        Objects with ground truth : 2 { "PASpersonWalking" "PASpersonWalking" }
        Bounding box for object 1 "PASpersonWalking" (Xmin, Ymin) - (Xmax, Ymax) : (160, 182) - (302, 431)
    """
    path = Path(path)
    try:
        text = path.read_text(encoding='latin-1')  # universal newlines: CRLF and LF both work
    except FileNotFoundError:
        raise DataError(path, 'annotation file not found') from None
    except OSError as err:
        raise DataError(path, f'cannot read annotation file ({err})') from None

    filename, size, count = None, None, None
    boxes_by_number: dict[int, tuple[Box, str]] = {}
    for line in text.splitlines():
        line = line.strip()
        if match := _BOX_RE.match(line):
            number = int(match[1])
            if number in boxes_by_number:
                raise DataError(path, f'object {number} has two bounding boxes')
            boxes_by_number[number] = (tuple(int(v) for v in match.group(3, 4, 5, 6)), match[2])
        elif match := _FILENAME_RE.match(line):
            filename = match[1]
        elif match := _SIZE_RE.match(line):
            size = tuple(int(v) for v in match.group(1, 2, 3))
        elif match := _COUNT_RE.match(line):
            count = int(match[1])

    for value, what in ((filename, 'Image filename'), (size, 'Image size (X x Y x C)'),
                        (count, 'Objects with ground truth')):
        if value is None:
            raise DataError(path, f'missing "{what} : ..." line')
    if sorted(boxes_by_number) != list(range(1, count + 1)):
        raise DataError(path, f'"Objects with ground truth : {count}" but bounding boxes are given for '
                              f'objects {sorted(boxes_by_number)}')
    for number, (box, _) in boxes_by_number.items():
        if not (1 <= box[0] <= box[2] and 1 <= box[1] <= box[3]):
            raise DataError(path, f'object {number} box {_format_box(box)} is not a valid 1-based box')
    ordered = [boxes_by_number[number] for number in range(1, count + 1)]
    boxes, labels = [box for box, _ in ordered], [label for _, label in ordered]
    return PennFudanAnnotation(filename, size, count, boxes, labels)


def format_annotation(ann: PennFudanAnnotation) -> str:
    """Annotation text in the original Penn-Fudan layout; write it with ``newline=''`` (it holds CRLF)."""
    labels = ann.labels or ['PASpersonWalking'] * len(ann.boxes)
    image_path = ann.image_filename
    mask_path = image_path.replace(LAYOUT['img'], LAYOUT['mask']).removesuffix('.png') + MASK_SUFFIX
    width, height, channels = ann.size
    lines = [
        '# Compatible with PASCAL Annotation Version 1.00',
        f'Image filename : "{image_path}"',
        f'Image size (X x Y x C) : {width} x {height} x {channels}',
        'Database : "The Penn-Fudan-Pedestrian Database"',
        f'Objects with ground truth : {len(ann.boxes)} {{ ' + ''.join(f'"{lab}" ' for lab in labels) + '}',
        '# Note there may be some objects not included in the ground truth list for they are severe-occluded',
        '# or have very small size.',
        '# Top left pixel co-ordinates : (1, 1)',
    ]
    for number, (box, label) in enumerate(zip(ann.boxes, labels, strict=True), start=1):
        lines += [
            f'# Details for pedestrian {number} ("{label}")',
            f'Original label for object {number} "{label}" : "PennFudanPed"',
            f'Bounding box for object {number} "{label}" (Xmin, Ymin) - (Xmax, Ymax) : {_format_box(box)}',
            f'Pixel mask for object {number} "{label}" : "{mask_path}"',
            '',
        ]
    return '\r\n'.join(lines) + '\r\n'


def _format_box(box) -> str:
    x1, y1, x2, y2 = (int(v) for v in box)
    return f'({x1}, {y1}) - ({x2}, {y2})'


@dataclass(frozen=True)
class PennFudanFiles:
    """The three files of one Penn-Fudan image."""

    image: Path
    mask: Path
    annotation: Path


def pennfudan_source(root: str | Path) -> dict:
    """The dataset config of every Penn-Fudan image under ``root`` (what the split writers deal)."""
    return dict(type='PennFudanDataset', data_root=str(root), ann_file='')


def pennfudan_files(root: str | Path, stem: str, prefix: dict | None = None) -> PennFudanFiles:
    """Where image ``stem`` and its mask and annotation live under ``root`` (``prefix``: data_prefix)."""
    folders = {**LAYOUT, **(prefix or {})}
    return PennFudanFiles(image=Path(root, folders['img'], f'{stem}.png'),
                          mask=Path(root, folders['mask'], f'{stem}{MASK_SUFFIX}'),
                          annotation=Path(root, folders['ann'], f'{stem}.txt'))


@DATASETS.register_module()
class PennFudanDataset(ProjectDataset):
    """Penn-Fudan pedestrians with instance masks; boxes are the mask extents (see module docstring).

    ``ann_file`` is a split file with one image stem per line (e.g. ``FudanPed00001``); '' = all images.
    ``data_prefix`` keys: ``img`` (PNGImages/), ``mask`` (PedMasks/), ``ann`` (Annotation/).
    ``box_tolerance``: largest allowed difference in px between an annotation box and its mask extent.
    ``check_images``, ``class_map``: see ``ProjectDataset``.
    """

    METAINFO = {'classes': ('pedestrian',), 'palette': [(220, 20, 60)]}
    DEFAULT_PREFIX = LAYOUT

    def __init__(self, *args, box_tolerance: float = 10, **kwargs) -> None:
        self.box_tolerance = box_tolerance
        super().__init__(*args, **kwargs)

    def all_keys(self) -> list[str]:
        img_dir = Path(self.data_prefix['img'])
        if not img_dir.is_dir():
            raise DataError(img_dir, 'image folder not found')
        return sorted(p.stem for p in img_dir.glob('*.png'))

    def expected_file(self, stem: str) -> str:
        return str(pennfudan_files('', stem, self.data_prefix).image)

    def key_for_stem(self, stem: str) -> str | None:
        return stem if Path(self.expected_file(stem)).is_file() else None

    def stem_of(self, key: str) -> str:
        return key

    def parse_image(self, stem: str) -> ParsedImage:
        """The image's middle-format info; raises DataError at its first problem."""
        files = pennfudan_files('', stem, self.data_prefix)
        img_path, mask_path, ann_path = files.image, files.mask, files.annotation

        width, height = read_image_size(img_path)
        check_image_file(img_path, self.check_images)
        ann = parse_annotation(ann_path)
        id_mask = read_index_png(mask_path, ID_MASK_MODES, 'mask must be a single-channel id image (mode L)')

        if Path(ann.image_filename).name != img_path.name:
            raise DataError(ann_path, f'names image "{ann.image_filename}", expected {img_path.name}')
        if ann.size[:2] != (width, height):
            raise DataError(ann_path, f'image size {ann.size[0]} x {ann.size[1]} differs from the size of '
                                      f'{img_path.name} ({width} x {height})')
        if id_mask.shape != (height, width):
            raise DataError(mask_path, f'mask size {id_mask.shape[1]} x {id_mask.shape[0]} differs from the '
                                       f'image size {width} x {height}')

        ids = [int(i) for i in np.unique(id_mask) if i != 0]
        if len(ids) != ann.num_objects:
            raise DataError(ann_path, f'{ann.num_objects} objects annotated but {mask_path.name} holds '
                                      f'{len(ids)} instance ids {ids}')
        if ids != list(range(1, len(ids) + 1)):
            raise DataError(mask_path, f'instance ids must be 1..{len(ids)}, found {ids}')

        instances, warnings = [], []
        for instance_id, ann_box in zip(ids, ann.boxes, strict=True):
            mask = id_mask == instance_id
            box = mask_extent_box(mask)
            if disagreement := self._check_box(ann_path, instance_id, ann_box, box):
                warnings.append(disagreement)
            instances.append({'bbox': box, 'bbox_label': 0, 'ignore_flag': 0, 'mask': mask_to_rle(mask)})
        info = {'img_path': str(img_path), 'img_id': stem, 'height': height, 'width': width,
                'instances': instances}
        return ParsedImage(info, warnings=warnings)

    def _check_box(
        self, ann_path: Path, number: int, ann_box: Box, mask_box: list[float]
    ) -> DataError | None:
        """Raises when the box is farther than box_tolerance from the mask extent; a smaller difference is
        returned as a warning (the mask extent is used)."""
        x1, y1, x2, y2 = ann_box
        converted = (x1 - 1, y1 - 1, x2, y2)  # 1-based inclusive -> 0-based, x2/y2 exclusive
        difference = max(abs(a - m) for a, m in zip(converted, mask_box, strict=True))
        if difference == 0:
            return None
        mx1, my1, mx2, my2 = mask_box
        problem = (f'object {number} box {_format_box(ann_box)} differs from its mask extent '
                   f'{_format_box((mx1 + 1, my1 + 1, mx2, my2))} by {difference:g} px '
                   f'(box_tolerance={self.box_tolerance:g})')
        if difference > self.box_tolerance:
            raise DataError(ann_path, problem)
        return DataError(ann_path, f'{problem}; the mask extent is used')
