"""COCO instances json (what CVAT, Label Studio, Roboflow and labelme2coco export), read with the project's
checks; the rules are MMDetection's ``CocoDataset`` reading plus the traps it passes over in silence.

One file describes every image::

    {"images": [{"id": 1, "file_name": "a.jpg", "width": 640, "height": 480}],
     "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [x, y, w, h], "iscrowd": 0,
                      "segmentation": [[x1, y1, x2, y2, x3, y3, ...]]}],
     "categories": [{"id": 1, "name": "person"}]}

Layout: ``ann_file`` is the json, images are ``data_prefix['img'] / file_name`` (``file_name`` may hold
folders); ``split_file`` optionally keeps the images a name list names (custom/datasets/annotation_json.py).

Conventions (the middle format is the one mmdet's ``CocoDataset`` gives):

* ``bbox`` ``[x, y, w, h]`` becomes ``[x, y, x + w, y + h]``, clipped to the image; ``iscrowd=1`` (or an old
  ``ignore=1``) gives ``ignore_flag=1``, the crowd region of its own category.
* Masks stay as written: polygons (several parts for one object) or RLE (``counts`` a string or a list).
* Categories are matched by name (after ``class_map``) to ``metainfo['classes']``; annotations of other
  categories are skipped and counted in a warning. Without classes (the data tools without ``--classes``)
  the classes are the categories that annotations use, in id order. Categories no annotation uses
  (labelme2coco's ``_background_`` with id 0, Roboflow's super-category) are no problem.

Errors that stop loading, where mmdet's ``CocoDataset`` goes on without a word: a config class that matches
no category (a typo trains nothing; the nearest category names are listed), duplicate image, annotation or
category ids (pycocotools' index keeps the last), annotations pointing at unknown images or categories, a
polygon under 3 points or covering no pixel (mmdet makes the object an ignored one), a box of zero area or
outside the image (mmdet drops it), width/height differing from the image file, a missing or unreadable
image, and an annotation without a mask when ``require_masks`` (a mask pipeline fails on it in a worker):
one error for the file when no annotation has one (Roboflow's export and other detection-only files,
``BOX_ONLY``), else one per annotation.
Every instance ignored (CVAT's export, ``IGNORED_HINT``) is an error for the data set and a warning per
image in the validator.

Drafts (``write_coco_drafts``, custom/datasets/drafts.py) are one instances json as CVAT's "COCO 1.0" import
and this reader take it: categories numbered from 1 in the model's class order, every image with its
``width``/``height`` and ``file_name`` relative to the json's folder, polygons with ``iscrowd`` 0 (several
for an object in pieces; a box model's annotations have an empty ``segmentation``: read those with
``require_masks=False``), and the model's ``score`` on each annotation (``info.version`` names the model).

``CocoDataset`` configs: tools/validate_dataset.py applies these rules to mmdet's stock ``CocoDataset`` too
(``from_mmdet_dataset``); use ``CocoJsonDataset`` to have them at every load.
"""

import difflib
import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pycocotools.mask as mask_utils
from mmdet.registry import DATASETS

from custom.datasets.annotation_json import AnnotationJsonDataset, cached_json
from custom.datasets.base import ParsedImage
from custom.datasets.class_map import resolve_label
from custom.datasets.drafts import DraftImage, DraftObject, relative_posix, write_new
from custom.datasets.images import clip_box
from custom.datasets.polygons import checked_polygon
from custom.errors import DataError

CVAT_CROWD_HINT = (
    "; CVAT's 'COCO 1.0' export writes every mask shape (and every shape with its is_crowd attribute "
    'set) as an RLE mask with iscrowd=1: set iscrowd to 0 on the objects to learn')
ENTRY_NAMES = {'images': 'image', 'annotations': 'annotation', 'categories': 'category'}
BOX_ONLY = ('no annotation has a segmentation: this is a box-only data set; train it with '
            'configs/coco_json_fasterrcnn.py (or require_masks=False)')
REQUIRED_FIELDS = {
    'images': ('id', 'file_name', 'width', 'height'),
    'annotations': ('id', 'image_id', 'category_id', 'bbox'),
    'categories': ('id', 'name'),
}


def check_coco(content: Any, ann_file: str | Path) -> dict:
    """A COCO json's content (``ann_file`` names it), checked as a whole: its three lists and their fields,
    unique ids, references. Raises one DataError listing the problems. Checks the raw lists rather than
    pycocotools' index, which keeps the last of two entries with the same id without a word.
    """
    if not isinstance(content, dict) or not all(isinstance(content.get(k), list) for k in REQUIRED_FIELDS):
        raise DataError(ann_file, 'not a COCO instances json: expected a dict with "images", "annotations" '
                                  'and "categories" lists')
    problems = []
    for section, fields in REQUIRED_FIELDS.items():
        for index, entry in enumerate(content[section]):
            missing = [f for f in fields if not isinstance(entry, dict) or f not in entry]
            if missing:
                problems.append(f'{section}[{index}] lacks {", ".join(missing)}')
        if problems:
            raise DataError(ann_file, '; '.join(problems[:5]) + (f' ({len(problems)} entries)'
                                                                   if len(problems) > 5 else ''))
        counts = Counter(entry['id'] for entry in content[section])
        repeated = [f'{i!r} x{n}' for i, n in counts.items() if n > 1]
        if repeated:
            problems.append(f'{ENTRY_NAMES[section]} ids occur more than once: {", ".join(repeated[:10])}')
    image_ids = {image['id'] for image in content['images']}
    category_ids = {category['id'] for category in content['categories']}
    for ann in content['annotations']:
        if ann['image_id'] not in image_ids:
            problems.append(f'annotation id {ann["id"]!r} refers to image id {ann["image_id"]!r}, '
                            'which is not in "images"')
        if ann['category_id'] not in category_ids:
            problems.append(f'annotation id {ann["id"]!r} refers to category id {ann["category_id"]!r}, '
                            'which is not in "categories"')
    if problems:
        raise DataError(ann_file, '; '.join(problems[:10]) + (f' ({len(problems)} problems)'
                                                               if len(problems) > 10 else ''))
    return content


def check_classes_match(category_names: Sequence[str], classes: Sequence[str], class_map: dict,
                        ann_file: str | Path) -> None:
    """DataError when a config class matches no category (after ``class_map``), with the nearest names."""
    matched = {class_map.get(name, name) for name in category_names}
    missing = [name for name in classes if name not in matched]
    if not missing:
        return
    hints = []
    for name in missing:
        close = difflib.get_close_matches(name, category_names, n=3, cutoff=0.5)
        hints.append(f'{name!r} (nearest: {", ".join(map(repr, close))})' if close else repr(name))
    listed = ', '.join(map(repr, category_names[:20])) + (' ...' if len(category_names) > 20 else '')
    raise DataError(ann_file, f'classes {", ".join(hints)} match no category, so nothing would be trained on '
                              f'them; the categories are {listed} (fix classes, or map names with class_map)')


def coco_mask(segmentation: Any, width: int, height: int, path: str | Path, where: str) -> list | dict | None:
    """The annotation's mask as written (polygons or RLE), checked; None when it has none."""
    if not segmentation:
        return None
    if isinstance(segmentation, list):
        return [checked_polygon(part, width, height, path, f'{where}, polygon #{k}')
                for k, part in enumerate(segmentation, start=1)]
    if not (isinstance(segmentation, dict) and 'counts' in segmentation and 'size' in segmentation):
        raise DataError(path, f'{where}: segmentation must be a list of polygons or an RLE dict with counts '
                              f'and size, got {segmentation!r:.80}')
    if list(segmentation['size']) != [height, width]:
        raise DataError(path, f'{where}: RLE size {segmentation["size"]} differs from the image '
                              f'[{height}, {width}] (size is [height, width])')
    counts = segmentation['counts']
    if isinstance(counts, list):
        if sum(counts) != height * width:
            raise DataError(path, f'{where}: uncompressed RLE counts sum to {sum(counts)}, not height x '
                                  f'width = {height * width}')
        rle = mask_utils.frPyObjects(segmentation, height, width)
    elif isinstance(counts, str):
        rle = dict(segmentation, counts=counts.encode('ascii'))
    else:
        raise DataError(path, f'{where}: RLE counts must be a string or a list of numbers')
    if not mask_utils.area(rle):
        raise DataError(path, f'{where}: RLE mask covers no pixel')
    return segmentation


def coco_box(bbox: Any, width: int, height: int, path: str | Path, where: str) -> list[float]:
    """COCO ``[x, y, w, h]`` -> ``[x1, y1, x2, y2]`` clipped to the image; DataError when empty or outside."""
    if not (isinstance(bbox, list) and len(bbox) == 4
            and all(isinstance(v, (int, float)) and math.isfinite(v) for v in bbox)):
        raise DataError(path, f'{where}: bbox must be 4 numbers [x, y, w, h], got {bbox!r:.80}')
    x, y, w, h = (float(v) for v in bbox)
    if w <= 0 or h <= 0:
        raise DataError(path, f'{where}: bbox {bbox} has zero area (w and h must be positive)')
    box = clip_box([x, y, x + w, y + h], width, height)
    if box[2] <= box[0] or box[3] <= box[1]:
        raise DataError(path, f'{where}: bbox {bbox} lies outside the {width}x{height} image')
    return box


@DATASETS.register_module()
class CocoJsonDataset(AnnotationJsonDataset):
    """A COCO instances json with the project's checks (see the module docstring); keys are image ids and
    ``img_id`` is the json's image id.

    Args:
        require_masks: every annotation must carry a segmentation (a mask pipeline needs one per object);
            False for box-only files (masks present are still read and checked).
        split_file: see custom/datasets/annotation_json.py. class_map, check_images, data_prefix: see
            ``ProjectDataset``.
    """

    DEFAULT_PREFIX = dict(img='')
    IGNORED_HINT = CVAT_CROWD_HINT
    MASK_TYPE = 'json'  # as the json has them: see rle_masks

    def __init__(self, *args, require_masks: bool = True, **kwargs) -> None:
        self.require_masks = require_masks
        super().__init__(*args, **kwargs)

    @classmethod
    def from_mmdet_dataset(cls, dataset, require_masks: bool) -> 'CocoJsonDataset':
        """The same json, images and classes as mmdet's ``CocoDataset`` ``dataset``, read with these rules."""
        return cls(ann_file=dataset.ann_file, data_root='', data_prefix=dict(img=dataset.data_prefix['img']),
                   metainfo=dict(classes=tuple(dataset.metainfo['classes'])), require_masks=require_masks,
                   test_mode=True, lazy_init=True, pipeline=[])

    @classmethod
    def rle_masks(cls, dataset_cfg: dict) -> str | None:
        """Why the json of a config entry gives RLE masks: how many annotations hold one (None: none do, or
        the json cannot be read: loading says why). mmdet's ``CocoDataset`` reads the same json."""
        if not dataset_cfg.get('ann_file'):
            return None
        ann_file = Path(dataset_cfg.get('data_root') or '', dataset_cfg['ann_file'])
        if count := count_rle_masks(ann_file):
            return f'{ann_file} holds {count} RLE masks'
        return None

    def default_classes(self) -> tuple[str, ...]:
        """The categories that annotations use, in category id order (the data tools without --classes)."""
        coco = check_coco(cached_json(self.ann_file), self.ann_file) if self.ann_file else {}
        used = {ann['category_id'] for ann in coco.get('annotations', [])}
        return tuple(cat['name'] for cat in sorted(coco.get('categories', []), key=lambda c: c['id'])
                     if cat['id'] in used)

    def index_json(self, content: Any) -> dict[int, str]:
        coco = check_coco(content, self.ann_file)
        if self.require_masks and coco['annotations'] and not any(
                ann.get('segmentation') for ann in coco['annotations']):
            raise DataError(self.ann_file, BOX_ONLY)
        self._images = {image['id']: image for image in coco['images']}
        self._categories = {category['id']: category['name'] for category in coco['categories']}
        self._annotations = defaultdict(list)
        for ann in coco['annotations']:
            self._annotations[ann['image_id']].append(ann)
        check_classes_match(list(self._categories.values()), self.metainfo['classes'], self.class_map,
                            self.ann_file)
        return {image_id: image['file_name'] for image_id, image in self._images.items()}

    def parse_image(self, image_id: int) -> ParsedImage:
        """The image of ``image_id`` and its annotations; raises DataError at the first problem."""
        classes = tuple(self.metainfo['classes'])
        image = self._images[image_id]
        where = f'image id {image_id!r} ({image["file_name"]})'
        img_path, width, height = self.open_image(image_id, where)
        if (image['width'], image['height']) != (width, height):
            raise DataError(self.ann_file, f'{where}: {image["width"]}x{image["height"]} in the json but the '
                                           f'file is {width}x{height} (images resized after labelling?)')
        instances, unmatched = [], Counter()
        for ann in self._annotations[image_id]:
            name = self._categories[ann['category_id']]
            label = resolve_label(name, classes, self.class_map)
            if label is None:
                unmatched[name] += 1
                continue
            ann_where = f'annotation id {ann["id"]!r} ({where})'
            instance = dict(bbox=coco_box(ann['bbox'], width, height, self.ann_file, ann_where),
                            bbox_label=label, ignore_flag=int(bool(ann.get('iscrowd') or ann.get('ignore'))))
            mask = coco_mask(ann.get('segmentation'), width, height, self.ann_file, ann_where)
            if mask is None and self.require_masks:
                raise DataError(self.ann_file, f'{ann_where}: no segmentation, and a mask pipeline needs one '
                                               'per object (require_masks=False reads box-only files)')
            if mask is not None:
                instance['mask'] = mask
            instances.append(instance)
        info = dict(img_path=str(img_path), img_id=image_id, height=height, width=width, instances=instances)
        return ParsedImage(info, unmatched=unmatched)


def count_rle_masks(ann_file: str | Path) -> int:
    """How many annotations of a COCO json carry an RLE mask (0 when it cannot be read: loading says why)."""
    try:
        content = cached_json(ann_file)
    except DataError:
        return 0
    annotations = content.get('annotations', []) if isinstance(content, dict) else []
    return sum(isinstance(ann, dict) and isinstance(ann.get('segmentation'), dict) for ann in annotations)


def write_coco_drafts(drafts: list[DraftImage], objects: list[list[DraftObject]], classes: tuple[str, ...],
                      out: Path, *, model_version: str = '') -> list[Path]:
    """The drafts as one COCO instances json ``out`` (see the module docstring); refuses an existing file."""
    images, annotations = [], []
    for image_id, (draft, found) in enumerate(zip(drafts, objects, strict=True), start=1):
        images.append(dict(id=image_id, file_name=relative_posix(draft.image, out.parent), width=draft.width,
                           height=draft.height))
        for obj in found:
            x1, y1, x2, y2 = obj.box
            if obj.polygons is None:
                area = (x2 - x1) * (y2 - y1)
            else:
                rles = mask_utils.frPyObjects(obj.polygons, draft.height, draft.width)
                area = float(mask_utils.area(mask_utils.merge(rles)))
            annotations.append(dict(id=len(annotations) + 1, image_id=image_id, category_id=obj.label + 1,
                                    segmentation=obj.polygons or [], area=area,
                                    bbox=[x1, y1, x2 - x1, y2 - y1], iscrowd=0, score=obj.score))
    categories = [dict(id=i, name=name, supercategory='') for i, name in enumerate(classes, start=1)]
    info = dict(description='draft annotations from a model, to correct', version=model_version)
    content = dict(licenses=[], info=info, categories=categories, images=images, annotations=annotations)
    return [write_new(out, content)]
