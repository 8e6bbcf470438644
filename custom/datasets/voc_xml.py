"""Pascal-VOC-style XML annotations (VOC itself, LabelImg, CVAT 'PASCAL VOC' exports, ...).

Layout under ``data_root`` (folders configurable with ``data_prefix``)::

    Annotations/<stem>.xml            data_prefix ann=...
    JPEGImages/<stem>.jpg|.jpeg|.png|.bmp   data_prefix img=...
    SegmentationObject/<stem>.png     data_prefix seg=...  (only with ``with_mask=True``)
    ImageSets/Main/train.txt          ann_file: one stem per line; '' or None = every XML in Annotations/

Conventions:

* Coordinates: VOC boxes are 1-based inclusive pixel indices, so a box covering pixel columns 0..9 is written
  ``xmin=1 xmax=10``. It becomes ``[xmin - 1, ymin - 1, xmax, ymax]`` (0-based, x2/y2 exclusive), the same for
  float coordinates; boxes are then clipped to the image (tools that write 0-based ``xmin=0`` land on 0).
* ``<difficult>1`` -> ``ignore_flag=1``; ``<truncated>`` objects are ordinary targets (VOC boxes their visible
  part), the flag is not stored.
* Objects whose class is not in ``metainfo['classes']`` after ``class_map`` are skipped (not ignored regions:
  VOC labels every object of its classes, so other classes carry no "unlabelled object here" meaning);
  a warning counts them.
* The image is found by the XML's stem with any of ``.jpg/.jpeg/.png/.bmp``, falling back to ``<filename>``;
  ``<path>`` (often an absolute path on the labeller's machine) is ignored. Width/height come from the image
  header; ``<size>`` is only checked against it when present and non-zero.
* Masks (``with_mask=True``): ``SegmentationObject/<stem>.png`` is a palette PNG whose pixel value k marks the
  k-th ``<object>`` of the XML (all objects, in file order), 0 background, 255 boundary/void (belongs to no
  mask). An object without pixels (ids may skip numbers) keeps its box with ``ignore_flag=1`` and an empty
  mask.
* ``check_images`` (see custom/datasets/base.py) checks each image file at load, so a corrupt one fails
  here with its name rather than in a DataLoader worker.
"""

import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import numpy as np
from mmdet.registry import DATASETS

from custom.datasets.annotation_folder import AnnotationFolderDataset
from custom.datasets.base import ParsedImage, check_image_file
from custom.datasets.class_map import resolve_label
from custom.datasets.images import clip_box, read_image_size
from custom.errors import DataError
from custom.structures.masks import mask_to_rle, read_index_png

VOC_CLASSES = (
    'aeroplane',
    'bicycle',
    'bird',
    'boat',
    'bottle',
    'bus',
    'car',
    'cat',
    'chair',
    'cow',
    'diningtable',
    'dog',
    'horse',
    'motorbike',
    'person',
    'pottedplant',
    'sheep',
    'sofa',
    'train',
    'tvmonitor',
)
MASK_VOID = 255
BOX_ONLY = ('no instance mask PNG here (with_mask=True reads one per image): this is a box-only data set; '
            'train it with configs/voc_fasterrcnn.py (or with_mask=False)')


def parse_voc_xml(xml_path: str | Path) -> dict:
    """Read one annotation file into ``dict(filename, width, height, objects=[dict(name, box, difficult)])``.

    ``box`` is the raw ``[xmin, ymin, xmax, ymax]`` as written (1-based inclusive); width/height are 0 when
    ``<size>`` is missing. The format::

        <annotation><filename>000005.jpg</filename><size><width>500</width><height>375</height></size>
          <object><name>chair</name><difficult>0</difficult>
            <bndbox><xmin>263</xmin><ymin>211</ymin><xmax>324</xmax><ymax>339</ymax></bndbox></object>
        </annotation>
    """
    try:
        root = ET.parse(xml_path).getroot()
    except ET.ParseError as err:
        raise DataError(xml_path, f'malformed XML: {err}') from err
    if root.tag != 'annotation':
        raise DataError(xml_path, f'expected an <annotation> root element, found <{root.tag}>')
    size = root.find('size')
    objects = []
    for index, obj in enumerate(root.findall('object'), start=1):
        where = f'<object> #{index}'
        name = (obj.findtext('name') or '').strip()
        if not name:
            raise DataError(xml_path, f'{where} has no <name>')
        bndbox = obj.find('bndbox')
        if bndbox is None:
            raise DataError(xml_path, f'{where} ({name}) has no <bndbox>')
        box = [
            _number(xml_path, bndbox, key, f'{where} ({name})') for key in ('xmin', 'ymin', 'xmax', 'ymax')
        ]
        objects.append(dict(name=name, box=box, difficult=_flag(obj.findtext('difficult'))))
    return dict(
        filename=(root.findtext('filename') or '').strip(),
        width=_size_field(xml_path, size, 'width'),
        height=_size_field(xml_path, size, 'height'),
        objects=objects,
    )


def voc_box_to_pixels(box: list[float]) -> list[float]:
    """1-based inclusive VOC ``[xmin, ymin, xmax, ymax]`` -> 0-based ``[x1, y1, x2, y2]``, x2/y2 exclusive."""
    xmin, ymin, xmax, ymax = box
    return [xmin - 1.0, ymin - 1.0, float(xmax), float(ymax)]


def _number(xml_path: str | Path, parent: ET.Element, key: str, where: str) -> float:
    text = (parent.findtext(key) or '').strip()
    try:
        return float(text)
    except ValueError:
        raise DataError(xml_path, f'{where}: <{key}> is {text!r}, expected a number') from None


def _size_field(xml_path: str | Path, size: ET.Element | None, key: str) -> int:
    text = '' if size is None else (size.findtext(key) or '').strip()
    if not text:
        return 0
    try:
        return int(float(text))
    except ValueError:
        raise DataError(xml_path, f'<size><{key}> is {text!r}, expected a number') from None


def _flag(text: str | None) -> int:
    return int((text or '').strip().lower() in ('1', 'true', 'yes'))


@DATASETS.register_module()
class VOCXMLDataset(AnnotationFolderDataset):
    """Detection (and optional instance masks) from VOC-style XML files; see the module docstring.

    Args:
        with_mask: also load instance masks from ``data_prefix['seg']`` (SegmentationObject/ by default).
        class_map, check_images, data_prefix: see ``ProjectDataset``.
    """

    METAINFO = dict(classes=VOC_CLASSES)
    DEFAULT_PREFIX = dict(img='JPEGImages/', ann='Annotations/', seg='SegmentationObject/')
    ANN_SUFFIX = '.xml'

    def __init__(self, *args, with_mask: bool = False, **kwargs) -> None:
        self.with_mask = with_mask
        super().__init__(*args, **kwargs)

    def prepare(self) -> None:
        """Indexes the files; with ``with_mask`` a mask folder without any PNG is one error for the data set
        (box-only XML, such as most VOC-style exports), not one per image."""
        super().prepare()
        seg = Path(self.data_prefix['seg'])
        if self.with_mask and not (seg.is_dir() and any(seg.glob('*.png'))):
            raise DataError(seg, BOX_ONLY)

    def parse_image(self, xml_path: Path) -> ParsedImage:
        """One XML file and its image; raises DataError at its first problem."""
        classes = tuple(self.metainfo['classes'])
        record = parse_voc_xml(xml_path)
        img_path = self._find_image(xml_path, record['filename'], self._images)
        width, height = read_image_size(img_path)
        check_image_file(img_path, self.check_images)
        if record['width'] and record['height'] and (record['width'], record['height']) != (width, height):
            raise DataError(
                xml_path,
                f'<size> says {record["width"]}x{record["height"]} but {img_path} is '
                f'{width}x{height} (were the images resized after labelling?)',
            )
        object_ids = self._load_object_ids(xml_path.stem, len(record['objects']), width, height)
        skipped, maskless, instances = Counter(), [], []
        for index, obj in enumerate(record['objects'], start=1):
            label = resolve_label(obj['name'], classes, self.class_map)
            if label is None:
                skipped[obj['name']] += 1
                continue
            instance = dict(
                bbox=self._checked_box(xml_path, index, obj, width, height),
                bbox_label=label,
                ignore_flag=obj['difficult'],
            )
            if object_ids is not None:
                mask = object_ids == index
                if not mask.any():
                    maskless.append(DataError(
                        xml_path, f'<object> #{index} ({obj["name"]}) has no pixels in its '
                                  'SegmentationObject PNG; kept as ignored (ignore_flag=1)'))
                    instance['ignore_flag'] = 1
                instance['mask'] = mask_to_rle(mask)
            instances.append(instance)
        info = dict(
            img_path=str(img_path), img_id=xml_path.stem, height=height, width=width, instances=instances
        )
        return ParsedImage(info, unmatched=skipped, warnings=maskless)

    @staticmethod
    def _find_image(xml_path: Path, filename: str, images: dict[str, Path]) -> Path:
        if xml_path.stem in images:
            return images[xml_path.stem]
        # <filename> may be a bare name or carry another machine's folders: keep only the name.
        fallback = Path(filename.replace('\\', '/')).name
        if fallback and Path(fallback).stem in images:
            return images[Path(fallback).stem]
        raise DataError(
            xml_path,
            f'no image named {xml_path.stem}.jpg/.jpeg/.png/.bmp or {fallback!r} in the image folder',
        )

    @staticmethod
    def _checked_box(xml_path: Path, index: int, obj: dict, width: int, height: int) -> list[float]:
        x1, y1, x2, y2 = voc_box_to_pixels(obj['box'])
        where = f'<object> #{index} ({obj["name"]})'
        if x2 <= x1 or y2 <= y1:
            raise DataError(
                xml_path,
                f'{where}: bad box xmin={obj["box"][0]} ymin={obj["box"][1]} '
                f'xmax={obj["box"][2]} ymax={obj["box"][3]} (max must be >= min)',
            )
        box = clip_box([x1, y1, x2, y2], width, height)
        if box[2] <= box[0] or box[3] <= box[1]:
            raise DataError(xml_path, f'{where}: box {obj["box"]} lies outside the {width}x{height} image')
        return box

    def _load_object_ids(self, stem: str, num_objects: int, width: int, height: int) -> np.ndarray | None:
        """Per-pixel object index (1..num_objects, 0 background, 255 void) from the seg PNG of <stem>."""
        if not self.with_mask:
            return None
        seg_path = Path(self.data_prefix['seg']) / f'{stem}.png'
        if not seg_path.is_file():
            raise DataError(
                seg_path,
                'instance mask PNG not found (with_mask=True needs one per image; '
                'use a split of segmented images such as ImageSets/Segmentation/)',
            )
        object_ids = read_index_png(
            seg_path, ('P', 'L'), 'expected a palette or grayscale PNG of object indices'
        )
        if object_ids.shape != (height, width):
            raise DataError(
                seg_path,
                f'mask is {object_ids.shape[1]}x{object_ids.shape[0]} but the image is {width}x{height}',
            )
        values = set(np.unique(object_ids).tolist()) - {0, MASK_VOID}
        unknown = sorted(v for v in values if v > num_objects)
        if unknown:
            raise DataError(
                seg_path, f'pixel values {unknown} have no matching <object> (the XML lists {num_objects})'
            )
        return object_ids
