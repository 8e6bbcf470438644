"""A folder of labelme JSON files, one per image (https://github.com/wkentaro/labelme).

Layout under ``data_root`` (folders configurable with ``data_prefix``)::

    <stem>.json                 data_prefix ann=...  (default: data_root itself)
    <stem>.jpg|.jpeg|.png|.bmp  beside it, or wherever the json's imagePath points (relative to the json)
    splits/train.txt            ann_file: one stem per line; '' = every .json in the folder

One file::

    {"version": "5.4.1", "imagePath": "0001.jpg", "imageData": null, "imageHeight": 480, "imageWidth": 640,
     "shapes": [{"label": "person", "group_id": null, "shape_type": "polygon", "points": [[x, y], ...]}]}

Conventions:

* The image is ``imagePath`` relative to the json (Windows backslashes are read too), else the image named
  like the json in ``data_prefix['img']`` (default: the json's folder), else the embedded base64
  ``imageData``, written once to ``embedded_image_dir`` (default: the system's temp folder) under its SHA-1
  so the loader has a file to read. ``imageWidth``/``imageHeight`` must match the image.
* Shapes: ``polygon``, ``rectangle`` (two corners) and ``circle`` (centre and a point on the circle, drawn
  as a 64-gon) become polygon masks; the box is their extent clipped to the image. Shapes with the same
  ``label`` and ``group_id`` form one instance (several polygons, one mask); without a ``group_id`` every
  shape is its own instance. Other shape types (line, linestrip, point, points, mask) are skipped and
  counted in a warning.
* ``ignore_label`` (labelme's convention ``__ignore__``) marks ignore regions of every class
  (``any_class_ignore``); labels outside ``metainfo['classes']`` after ``class_map`` are skipped and
  counted in a warning. Without classes (the data tools without ``--classes``) the classes are the labels
  of the shapes read in every file of the folder, sorted.
* Polygons under 3 points or covering no pixel stop loading with the file and shape number, as a
  malformed file does.

Drafts (``write_labelme_drafts``, custom/datasets/drafts.py) are written as labelme 5 saves a file: every
key of the one above plus ``flags``, and per shape ``description``, ``flags`` and ``mask`` (null). The score
goes into the shape's ``description`` (``score 0.873``), the free text labelme shows and keeps: ``flags``
take booleans only, and labelme refuses a file whose flags hold a number. An object in several pieces is
one polygon per piece sharing a ``group_id``; a box model's object is a ``rectangle`` of two corners.
"""

import base64
import binascii
import hashlib
import io
import logging
import os
import tempfile
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from mmdet.registry import DATASETS
from mmengine.logging import print_log
from PIL import Image, UnidentifiedImageError

from custom.datasets.annotation_folder import AnnotationFolderDataset
from custom.datasets.annotation_json import read_json
from custom.datasets.base import ParsedImage, any_class_ignore, check_image_file
from custom.datasets.class_map import resolve_label
from custom.datasets.drafts import DraftImage, DraftObject, json_bytes, relative_posix
from custom.datasets.images import read_image_size
from custom.datasets.polygons import checked_polygon, ellipse_polygon, polygons_box, rectangle_polygon
from custom.errors import DataError
from custom.files import write_atomic

SHAPE_TYPES = ('polygon', 'rectangle', 'circle')
IGNORE_LABEL = '__ignore__'
# The labelme release whose file layout drafts follow (shape keys description since 5.2, mask since 5.3);
# labelme 5 and 6 open it.
LABELME_VERSION = '5.5.0'


def shape_kind(shape: dict) -> str:
    """A shape's ``shape_type``; labelme 3 wrote none: its shapes are polygons."""
    return shape.get('shape_type') or 'polygon'


def shape_polygon(shape_type: str, points: Any, path: Path, where: str) -> list[float]:
    """Flat polygon coordinates of a labelme polygon, rectangle or circle."""
    if not (isinstance(points, list) and all(isinstance(p, (list, tuple)) and len(p) == 2 for p in points)):
        raise DataError(path, f'{where}: points must be a list of [x, y] pairs, got {points!r:.80}')
    if shape_type == 'polygon':
        return [v for point in points for v in point]
    if shape_type == 'rectangle':
        if len(points) < 2:
            raise DataError(path, f'{where}: a rectangle needs 2 corner points, got {len(points)}')
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        return rectangle_polygon(min(xs), min(ys), max(xs), max(ys))
    if len(points) != 2:
        raise DataError(path, f'{where}: a circle needs its centre and a point on it, got {len(points)} '
                              'points')
    (cx, cy), (x, y) = points
    radius = ((x - cx) ** 2 + (y - cy) ** 2) ** 0.5
    return ellipse_polygon(cx, cy, radius, radius)


def embedded_image(image_data: str, folder: Path, json_path: Path) -> Path:
    """The file holding a labelme ``imageData`` (base64), written once under its SHA-1 in ``folder``."""
    try:
        raw = base64.b64decode(image_data, validate=True)
        with Image.open(io.BytesIO(raw)) as img:
            suffix = '.jpg' if img.format == 'JPEG' else f'.{(img.format or "png").lower()}'
    except (binascii.Error, ValueError, UnidentifiedImageError) as err:
        raise DataError(json_path, f'imageData is not a base64 image ({err})') from None
    path = folder / f'{hashlib.sha1(raw).hexdigest()}{suffix}'
    if not path.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f'{path.name}.{os.getpid()}.part')
        partial.write_bytes(raw)
        os.replace(partial, path)  # atomic: a reader in another process never sees half a file
    return path


@DATASETS.register_module()
class LabelmeDataset(AnnotationFolderDataset):
    """Instances from labelme JSON files; see the module docstring. Without ``metainfo['classes']`` the
    classes are the labels the files' shapes use (polygon, rectangle, circle; not ``ignore_label``), sorted
    by name, so train and val folders with the same labels get the same classes in the same order.

    Args:
        ignore_label: label of ignore regions (None: no such label).
        embedded_image_dir: where images embedded in ``imageData`` are written (default: temp folder).
        class_map, check_images, data_prefix: see ``ProjectDataset``.
    """

    DEFAULT_PREFIX = dict(img='', ann='')
    ANN_SUFFIX = '.json'
    ANN_FOLDER = 'labelme json'
    MASK_TYPE = 'polygon'

    def __init__(self, *args, ignore_label: str | None = IGNORE_LABEL, embedded_image_dir: str | None = None,
                 **kwargs) -> None:
        self.ignore_label = ignore_label
        self.embedded_image_dir = Path(embedded_image_dir or Path(tempfile.gettempdir(), 'labelme_images'))
        super().__init__(*args, **kwargs)

    def default_classes(self) -> tuple[str, ...]:
        """The labels of the shapes read in every file of the folder, sorted; a file or shape that cannot be
        read is left to ``parse_image``, which names its problem."""
        self.check_ann_dir()
        labels = set()
        for json_path in self.all_keys():
            try:
                content = read_json(json_path)
            except DataError:
                continue
            shapes = content.get('shapes') if isinstance(content, dict) else None
            for shape in shapes if isinstance(shapes, list) else []:
                label = shape.get('label') if isinstance(shape, dict) else None
                if isinstance(label, str) and label.strip() and shape_kind(shape) in SHAPE_TYPES:
                    labels.add(label.strip())
        return tuple(sorted(labels - {self.ignore_label}))

    def parse_image(self, json_path: Path) -> ParsedImage:
        """One labelme file and its image; raises DataError at its first problem."""
        content = read_json(json_path)
        if not isinstance(content, dict) or not isinstance(content.get('shapes'), list):
            raise DataError(json_path, 'not a labelme file (no "shapes" list)')
        img_path = self._find_image(json_path, content)
        width, height = read_image_size(img_path)
        check_image_file(img_path, self.check_images)
        written = (content.get('imageWidth'), content.get('imageHeight'))
        if all(written) and written != (width, height):
            raise DataError(json_path, f'imageWidth x imageHeight is {written[0]}x{written[1]} but '
                                       f'{img_path} is {width}x{height} (images resized after labelling?)')
        groups, skipped = self._group_shapes(json_path, content['shapes'], width, height)
        classes = tuple(self.metainfo['classes'])
        instances, unmatched = [], Counter()
        for (label, *_), polygons in groups.items():
            region = dict(bbox=polygons_box(polygons, width, height), mask=polygons)
            if label == self.ignore_label:
                instances += any_class_ignore(region, len(classes))
            elif (index := resolve_label(label, classes, self.class_map)) is None:
                unmatched[label] += 1
            else:
                instances.append(dict(region, bbox_label=index, ignore_flag=0))
        warnings = []
        if skipped:
            listed = ', '.join(f'{kind} x{len(numbers)} (#{", #".join(map(str, numbers))})'
                               for kind, numbers in skipped.items())
            warnings.append(DataError(json_path, f'skipped {sum(map(len, skipped.values()))} shapes of types '
                                                 f'other than {"/".join(SHAPE_TYPES)}: {listed}'))
        info = dict(img_path=str(img_path), img_id=json_path.stem, height=height, width=width,
                    instances=instances)
        return ParsedImage(info, unmatched=unmatched, warnings=warnings)

    def _group_shapes(self, json_path: Path, shapes: list, width: int,
                      height: int) -> tuple[dict[tuple, list[list[float]]], dict[str, list[int]]]:
        """Polygons per instance, keyed by (label, group_id) (or (label, None, shape number) without a
        group), in order of first appearance; and the shape numbers of each skipped shape type."""
        groups, skipped = {}, defaultdict(list)
        for number, shape in enumerate(shapes, start=1):
            label = shape.get('label') if isinstance(shape, dict) else None
            if not isinstance(label, str) or not label.strip():
                raise DataError(json_path, f'shape #{number} has no label')
            shape_type = shape_kind(shape)
            if shape_type not in SHAPE_TYPES:
                skipped[shape_type].append(number)
                continue
            where = f'shape #{number} ({label}, {shape_type})'
            polygon = shape_polygon(shape_type, shape.get('points'), json_path, where)
            polygon = checked_polygon(polygon, width, height, json_path, where)
            group_id = shape.get('group_id')
            key = (label.strip(), group_id) if group_id is not None else (label.strip(), None, number)
            groups.setdefault(key, []).append(polygon)
        return groups, skipped

    def _find_image(self, json_path: Path, content: dict) -> Path:
        image_path = str(content.get('imagePath') or '').replace('\\', '/')
        if image_path and (json_path.parent / image_path).is_file():
            return json_path.parent / image_path
        if json_path.stem in self._images:
            return self._images[json_path.stem]
        if content.get('imageData'):
            return embedded_image(content['imageData'], self.embedded_image_dir, json_path)
        raise DataError(json_path, f'image {image_path!r} not found beside the file, no image named '
                                   f'{json_path.stem}.* in {self.data_prefix["img"]}, and no imageData')


def draft_shapes(obj: DraftObject, classes: tuple[str, ...], group_id: int | None) -> list[dict]:
    """The labelme shapes of one draft object: a polygon per piece (sharing ``group_id`` when there are
    several), or a rectangle."""
    base = dict(label=classes[obj.label], group_id=group_id, description=f'score {obj.score:.3f}', flags={},
                mask=None)
    if obj.polygons is None:
        x1, y1, x2, y2 = obj.box
        return [dict(base, points=[[x1, y1], [x2, y2]], shape_type='rectangle')]
    return [dict(base, points=[[x, y] for x, y in zip(polygon[0::2], polygon[1::2], strict=True)],
                 shape_type='polygon') for polygon in obj.polygons]


def write_labelme_drafts(drafts: list[DraftImage], objects: list[list[DraftObject]], classes: tuple[str, ...],
                         out: Path) -> list[Path]:
    """One labelme json per image in the folder ``out`` (``<image stem>.json``, ``imagePath`` relative to it,
    no ``imageData``); an existing json is kept and counted in a warning. DataError before anything is
    written when two images would share a json."""
    targets: dict[Path, Path] = {}
    for draft in drafts:
        target = out / f'{Path(draft.image).stem}.json'
        if target in targets:
            raise DataError(draft.image, f'{targets[target]} and this image would both be drafted as '
                                         f'{target} (labelme names the json after the image): rename one')
        targets[target] = Path(draft.image)
    written, kept = [], []
    for draft, found, target in zip(drafts, objects, targets, strict=True):
        if target.exists():
            kept.append(target)
            continue
        shapes, groups = [], 0
        for obj in found:
            several = obj.polygons is not None and len(obj.polygons) > 1
            groups += several
            shapes += draft_shapes(obj, classes, groups if several else None)
        content = dict(version=LABELME_VERSION, flags={}, shapes=shapes,
                       imagePath=relative_posix(draft.image, out), imageData=None, imageHeight=draft.height,
                       imageWidth=draft.width)
        write_atomic(target, json_bytes(content))
        written.append(target)
    if kept:
        print_log(f'drafts: kept {len(kept)} existing labelme files (they may hold corrections), e.g. '
                  f'{kept[0]}', logger='current', level=logging.WARNING)
    return written
