"""KITTI object-detection labels (2D boxes).

Layout under ``data_root`` (folders configurable with ``data_prefix``)::

    image_2/<stem>.png|.jpg|.jpeg   data_prefix img=...   (sizes may differ between images)
    label_2/<stem>.txt              data_prefix ann=...
    ImageSets/train.txt             ann_file: one stem per line; '' or None = every label file

Conventions:

* Boxes are KITTI's left/top/right/bottom floats in 0-based pixel coordinates, used as ``[x1, y1, x2, y2]``
  with x2/y2 read as exclusive (for float labels the difference from "inclusive" is below a pixel, so no +1),
  then clipped to the image.
* ``DontCare`` and classes not in ``metainfo['classes']`` after ``class_map`` become ignore regions of every
  class (``any_class_ignore``: one ``ignore_flag=1`` copy per class, so a detection of any class there is
  neither a hit nor a false positive, as in KITTI's own evaluation, and none counts as a class; the COCO
  export writes them ``iscrowd=1``). A warning counts the non-DontCare ones.
* truncated/occluded/3D columns are read (so malformed values are caught) but not stored.
* ``box_masks=True`` gives every instance a filled-box mask (KITTI has no masks) so KITTI can join Mask R-CNN
  training; the mask head then learns boxes for these images, a coarse signal to weigh against the extra data.
* ``check_images`` (see custom/datasets/base.py) checks each image file at load, so a corrupt one fails
  here with its name rather than in a DataLoader worker.
"""

import math
from collections import Counter
from pathlib import Path

import numpy as np
from mmdet.registry import DATASETS

from custom.datasets.annotation_folder import AnnotationFolderDataset
from custom.datasets.base import ParsedImage, any_class_ignore, check_image_file
from custom.datasets.class_map import resolve_label
from custom.datasets.images import clip_box, read_image_size
from custom.errors import DataError
from custom.structures.masks import mask_to_rle

KITTI_COLUMNS = (
    'type',
    'truncated',
    'occluded',
    'alpha',
    'x1',
    'y1',
    'x2',
    'y2',
    'h',
    'w',
    'l',
    'x',
    'y',
    'z',
    'ry',
)
DONT_CARE = 'DontCare'


def parse_kitti_label(label_path: str | Path) -> list[dict]:
    """Objects of one KITTI label file as ``dict(name, box=[x1, y1, x2, y2], line)``; one object per line::

    Pedestrian 0.00 0 -0.20 712.40 143.00 810.73 307.92 1.89 0.48 1.20 1.84 1.47 8.41 0.01
    """
    try:
        text = Path(label_path).read_text()
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(label_path, f'cannot read the label file ({err})') from None
    objects = []
    for line_no, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        where = f'line {line_no}'
        if len(fields) != len(KITTI_COLUMNS):
            raise DataError(
                label_path,
                f'{where}: {len(fields)} columns, expected {len(KITTI_COLUMNS)} ({" ".join(KITTI_COLUMNS)})',
            )
        values = []
        for column, text in zip(KITTI_COLUMNS[1:], fields[1:], strict=False):
            try:
                value = float(text)
            except ValueError:
                value = math.nan
            if not math.isfinite(value):
                raise DataError(label_path, f'{where}: column {column!r} is {text!r}, expected a number')
            values.append(value)
        box = values[3:7]
        if box[2] <= box[0] or box[3] <= box[1]:
            raise DataError(
                label_path,
                f'{where}: bad box x1={box[0]} y1={box[1]} x2={box[2]} y2={box[3]} '
                '(x2 must exceed x1, y2 must exceed y1)',
            )
        objects.append(dict(name=fields[0], box=box, line=line_no))
    return objects


def box_mask(box: list[float], width: int, height: int) -> np.ndarray:
    """Binary HxW mask filling every pixel the box touches."""
    mask = np.zeros((height, width), dtype=np.uint8)
    x1, y1 = int(math.floor(box[0])), int(math.floor(box[1]))
    x2, y2 = int(math.ceil(box[2])), int(math.ceil(box[3]))
    mask[y1:y2, x1:x2] = 1
    return mask


@DATASETS.register_module()
class KittiDataset(AnnotationFolderDataset):
    """2D detection from KITTI ``label_2`` files; see the module docstring.

    Args:
        box_masks: add a filled-box ``mask`` to every instance (for pipelines with ``with_mask=True``).
        class_map, check_images, data_prefix: see ``ProjectDataset``.
    """

    METAINFO = dict(classes=('Car', 'Pedestrian', 'Cyclist'))
    DEFAULT_PREFIX = dict(img='image_2/', ann='label_2/')
    ANN_SUFFIX = '.txt'
    ANN_FOLDER = 'label'
    UNMATCHED_FATE = 'set to ignored regions'

    def __init__(self, *args, box_masks: bool = False, **kwargs) -> None:
        self.box_masks = box_masks
        super().__init__(*args, **kwargs)

    def parse_image(self, label_path: Path) -> ParsedImage:
        """One label file and its image; raises DataError at its first problem."""
        classes = tuple(self.metainfo['classes'])
        if label_path.stem not in self._images:
            raise DataError(
                label_path, f'no image {label_path.stem}.png/.jpg/.jpeg in {self.data_prefix["img"]}'
            )
        img_path = self._images[label_path.stem]
        width, height = read_image_size(img_path)
        check_image_file(img_path, self.check_images)
        instances, unmatched = [], Counter()
        for obj in parse_kitti_label(label_path):
            label = None if obj['name'] == DONT_CARE else resolve_label(obj['name'], classes, self.class_map)
            if label is None and obj['name'] != DONT_CARE:
                unmatched[obj['name']] += 1
            box = clip_box(obj['box'], width, height)
            if box[2] <= box[0] or box[3] <= box[1]:
                raise DataError(
                    label_path,
                    f'line {obj["line"]}: box {obj["box"]} lies outside the {width}x{height} image '
                    f'{img_path.name}',
                )
            instance = dict(bbox=box, bbox_label=label, ignore_flag=0)
            if self.box_masks:
                instance['mask'] = mask_to_rle(box_mask(box, width, height))
            instances += [instance] if label is not None else any_class_ignore(instance, len(classes))
        info = dict(
            img_path=str(img_path), img_id=label_path.stem, height=height, width=width, instances=instances
        )
        return ParsedImage(info, unmatched=unmatched)
