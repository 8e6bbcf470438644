"""VGG Image Annotator (VIA) 1.x and 2.x exports: the json that MMDetection's balloon tutorial trains on.

Layout: ``ann_file`` is the json, images are ``data_prefix['img'] / filename`` (the balloon data set:
``train/via_region_data.json`` with its images in ``train/``); ``split_file`` optionally keeps the images a
name list names (custom/datasets/annotation_json.py). One image of a VIA 1.x export::

    {"34020010494_e5cb88e1c4_k.jpg1115004": {"filename": "34020010494_e5cb88e1c4_k.jpg", "size": 1115004,
      "regions": {"0": {"shape_attributes": {"name": "polygon", "all_points_x": [...], "all_points_y": [...]},
                        "region_attributes": {}}}, "file_attributes": {}}}

VIA 2.x writes ``regions`` as a list, and its saved project wraps the same records in
``{"_via_img_metadata": {...}, "_via_settings": ...}``; both are read. VIA 3 projects are a different format
and are refused with a message.

Conventions:

* Shapes: ``polygon``, ``rect`` (x, y, width, height), ``circle`` (cx, cy, r) and ``ellipse`` (cx, cy, rx,
  ry, theta in radians) become polygon masks (circles and ellipses as 64-gons); the box is their extent
  clipped to the image. ``point`` and ``polyline`` regions are skipped and counted in a warning.
* The class is the region attribute ``class_attribute`` (a text/dropdown/radio value, or a checkbox with one
  option ticked), renamed by ``class_map``; regions of other classes are skipped and counted. Without
  ``class_attribute`` every region is the config's one class (more classes need the attribute).
* Without classes in the config (the data tools without ``--classes``) the classes are the values of
  ``class_attribute`` in the regions read, sorted. Without ``class_attribute`` the file names no class (the
  balloon data set's regions have no attributes), so the config must name its one class: none is made up.
* An object in several pieces: with ``group_attribute``, regions of one image with the same class and the
  same value of that region attribute are one object (several polygons, one mask), as labelme's
  ``group_id`` makes them; regions without a value are objects of their own. VIA itself has no grouping.
* Width and height come from the image (VIA stores none); ``size`` is the file's byte count, and a file of
  another size is reported as a warning (a re-saved or resized image whose regions may no longer fit).

Drafts (``write_via_drafts``, custom/datasets/drafts.py) are a VIA 2 project as its Project > Save writes one
(``_via_settings``, ``_via_img_metadata`` keyed by file name + byte size with ``regions`` as a list,
``_via_attributes``, ``_via_data_format_version``, ``_via_image_id_list``), opened with Project > Load. The
regions carry the region attributes ``class`` (a dropdown of the model's classes), ``score`` and, for the
pieces of one object, ``group`` (text); read them back with ``class_attribute='class'`` and
``group_attribute='group'``. ``filename`` is the image's path relative to the project file, and
``default_filepath`` that folder, so VIA finds the images by path (or by name through Project > Add local
files).
"""

from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from mmdet.registry import DATASETS

from custom.datasets.annotation_json import AnnotationJsonDataset, cached_json
from custom.datasets.base import ParsedImage
from custom.datasets.class_map import resolve_label
from custom.datasets.drafts import DraftImage, DraftObject, relative_posix, write_new
from custom.datasets.polygons import checked_polygon, ellipse_polygon, polygons_box, rectangle_polygon
from custom.errors import ConfigError, DataError

SHAPE_FIELDS = {
    'polygon': ('all_points_x', 'all_points_y'),
    'rect': ('x', 'y', 'width', 'height'),
    'circle': ('cx', 'cy', 'r'),
    'ellipse': ('cx', 'cy', 'rx', 'ry'),
}
# The region attributes drafts write: read them back with class_attribute=DRAFT_CLASS_ATTRIBUTE and
# group_attribute=DRAFT_GROUP_ATTRIBUTE.
DRAFT_CLASS_ATTRIBUTE, DRAFT_GROUP_ATTRIBUTE, DRAFT_SCORE_ATTRIBUTE = 'class', 'group', 'score'
VIA_FORMAT_VERSION = '2.0.10'  # what VIA 2.0.10+ writes as _via_data_format_version


def via_records(content: Any, path: str | Path) -> dict[str, dict]:
    """The image records of a VIA 1.x/2.x export or 2.x project, keyed as in the file."""
    if isinstance(content, dict) and '_via_img_metadata' in content:
        content = content['_via_img_metadata']
    elif isinstance(content, dict) and {'project', 'file', 'metadata'} <= content.keys():
        raise DataError(path, 'a VIA 3 project, which this reader does not take: open it in VIA 2 and use '
                              'Annotation > Export Annotations (as json)')
    if not isinstance(content, dict):
        raise DataError(path, 'not a VIA export: expected a dict of image records')
    for key, record in content.items():
        if not (isinstance(record, dict) and isinstance(record.get('filename'), str)
                and isinstance(record.get('regions'), (dict, list))):
            raise DataError(path, f'entry {key!r} is not a VIA image record (needs "filename" and "regions")')
    return content


def record_regions(record: dict) -> list[tuple[int | str, Any]]:
    """(number, region) of an image record: VIA 1.x writes ``{"0": region, ...}``, 2.x a list."""
    regions = record['regions']
    return list(regions.items() if isinstance(regions, dict) else enumerate(regions))


def region_class(attributes: Any, class_attribute: str) -> str | None:
    """The class a region's ``region_attributes`` name in ``class_attribute``: a text/dropdown/radio value or
    the one ticked option of a checkbox; None when they name none."""
    value = attributes.get(class_attribute) if isinstance(attributes, dict) else None
    if isinstance(value, dict):  # a checkbox attribute: {option: true/false}
        ticked = [option for option, on in value.items() if on]
        value = ticked[0] if len(ticked) == 1 else None
    return value.strip() if isinstance(value, str) and value.strip() else None


def region_polygon(shape: dict, path: str | Path, where: str) -> list[float]:
    """Flat polygon coordinates of a VIA polygon, rect, circle or ellipse ``shape_attributes``."""
    missing = [name for name in SHAPE_FIELDS[shape['name']] if name not in shape]
    if missing:
        raise DataError(path, f'{where}: {shape["name"]} lacks {", ".join(missing)}')
    if shape['name'] == 'polygon':
        xs, ys = shape['all_points_x'], shape['all_points_y']
        if not (isinstance(xs, list) and isinstance(ys, list) and len(xs) == len(ys)):
            raise DataError(path, f'{where}: all_points_x and all_points_y must be lists of the same length')
        return [v for point in zip(xs, ys, strict=True) for v in point]
    try:
        if shape['name'] == 'rect':
            x, y, w, h = (float(shape[name]) for name in SHAPE_FIELDS['rect'])
            return rectangle_polygon(x, y, x + w, y + h)
        if shape['name'] == 'circle':
            cx, cy, r = (float(shape[name]) for name in SHAPE_FIELDS['circle'])
            return ellipse_polygon(cx, cy, r, r)
        return ellipse_polygon(*(float(shape[name]) for name in SHAPE_FIELDS['ellipse']),
                               float(shape.get('theta', 0)))
    except (TypeError, ValueError):
        raise DataError(path, f'{where}: {shape["name"]} values must be numbers, got {shape}') from None


@DATASETS.register_module()
class VIADataset(AnnotationJsonDataset):
    """Instances from a VIA json; see the module docstring. Keys are the json's record keys. Without
    ``metainfo['classes']`` the classes are the values of ``class_attribute`` in the regions of the shapes
    read (polygon, rect, circle, ellipse), sorted by name; without ``class_attribute`` the config must name
    the one class.

    Args:
        class_attribute: the region attribute that holds the class name; None: every region is the one
            class of ``metainfo['classes']``.
        group_attribute: the region attribute whose value the pieces of one object share; None: every
            region is an object.
        split_file: see custom/datasets/annotation_json.py. class_map, check_images, data_prefix: see
            ``ProjectDataset``.
    """

    DEFAULT_PREFIX = dict(img='')
    MASK_TYPE = 'polygon'

    def __init__(self, *args, class_attribute: str | None = None, group_attribute: str | None = None,
                 **kwargs) -> None:
        self.class_attribute = class_attribute
        self.group_attribute = group_attribute
        super().__init__(*args, **kwargs)

    def default_classes(self) -> tuple[str, ...]:
        """The ``class_attribute`` values of the regions read, sorted; without ``class_attribute`` the file
        names no class, so the config must."""
        if self.class_attribute is None:
            raise DataError(self.ann_file, 'without class_attribute VIADataset gives every region the one '
                                           "class of the config, and it names none: set metainfo=dict("
                                           "classes=('<name>',)) (--classes for the data tools), or "
                                           'class_attribute to the region attribute that names the class '
                                           '(--dataset-options class_attribute=...)')
        records = via_records(cached_json(self.ann_file), self.ann_file) if self.ann_file else {}
        names = {region_class(region.get('region_attributes'), self.class_attribute)
                 for record in records.values() for _, region in record_regions(record)
                 if isinstance(region, dict) and isinstance(region.get('shape_attributes'), dict)
                 and region['shape_attributes'].get('name') in SHAPE_FIELDS}
        return tuple(sorted(names - {None}))

    def index_json(self, content: Any) -> dict[str, str]:
        classes = self.metainfo['classes']
        if self.class_attribute is None and len(classes) != 1:
            raise ConfigError(f'VIADataset({self.ann_file}): without class_attribute every region gets the '
                              f'one class of metainfo, but it has {len(classes)} classes {tuple(classes)}: '
                              'set class_attribute to the region attribute that names the class')
        self._records = via_records(content, self.ann_file)
        return {key: record['filename'] for key, record in self._records.items()}

    def parse_image(self, key: str) -> ParsedImage:
        """The image of record ``key`` and its regions; raises DataError at the first problem."""
        record = self._records[key]
        where = f'image {record["filename"]!r}'
        img_path, width, height = self.open_image(key, where)
        warnings = []
        size = record.get('size')
        if isinstance(size, int) and size > 0 and size != (on_disk := img_path.stat().st_size):
            warnings.append(DataError(img_path, f'{on_disk} bytes, but {self.ann_file} says {size}: a '
                                                're-saved or resized image? its regions may not fit'))
        objects, unmatched, skipped = {}, Counter(), defaultdict(list)
        for number, region in record_regions(record):
            region_where = f'{where}, region {number}'
            shape = region.get('shape_attributes') if isinstance(region, dict) else None
            if not isinstance(shape, dict) or not shape.get('name'):
                raise DataError(self.ann_file, f'{region_where}: no shape_attributes with a shape name')
            if shape['name'] not in SHAPE_FIELDS:
                skipped[shape['name']].append(number)
                continue
            name = self._class_name(region.get('region_attributes'), region_where)
            label = resolve_label(name, self.metainfo['classes'], self.class_map)
            if label is None:
                unmatched[name] += 1
                continue
            polygon = checked_polygon(region_polygon(shape, self.ann_file, region_where), width, height,
                                      self.ann_file, f'{region_where} ({shape["name"]})')
            group = self._group(region.get('region_attributes'))
            objects.setdefault((label, group) if group else (label, None, number), []).append(polygon)
        instances = [dict(bbox=polygons_box(polygons, width, height), bbox_label=key[0], ignore_flag=0,
                          mask=polygons) for key, polygons in objects.items()]
        if skipped:
            listed = ', '.join(f'{kind} x{len(numbers)} (regions {", ".join(map(str, numbers))})'
                               for kind, numbers in skipped.items())
            warnings.append(DataError(self.ann_file, f'{where}: skipped {sum(map(len, skipped.values()))} '
                                                     f'regions of types other than {"/".join(SHAPE_FIELDS)}: '
                                                     f'{listed}'))
        info = dict(img_path=str(img_path), img_id=self.stem_of(key), height=height, width=width,
                    instances=instances)
        return ParsedImage(info, unmatched=unmatched, warnings=warnings)

    def _group(self, attributes: Any) -> str | None:
        """The value of ``group_attribute`` the region's pieces share; None: the region is an object."""
        if not self.group_attribute or not isinstance(attributes, dict):
            return None
        value = attributes.get(self.group_attribute)
        return str(value).strip() or None if value is not None else None

    def _class_name(self, attributes: Any, where: str) -> str:
        """The region's class: the one class, or the value of ``class_attribute``."""
        if self.class_attribute is None:
            return self.metainfo['classes'][0]
        name = region_class(attributes, self.class_attribute)
        if name is None:
            raise DataError(self.ann_file, f'{where}: region attribute {self.class_attribute!r} names no '
                                           f'class (region_attributes {attributes!r:.80})')
        return name


def draft_regions(obj: DraftObject, classes: tuple[str, ...], group: int | None) -> list[dict]:
    """The VIA regions of one draft object: a polygon per piece (sharing ``group`` when there are several),
    or a rect."""
    attributes = {DRAFT_CLASS_ATTRIBUTE: classes[obj.label], DRAFT_SCORE_ATTRIBUTE: f'{obj.score:.3f}'}
    if group is not None:
        attributes[DRAFT_GROUP_ATTRIBUTE] = str(group)
    if obj.polygons is None:
        x1, y1, x2, y2 = (round(v, 3) for v in obj.box)
        shape = dict(name='rect', x=x1, y=y1, width=round(x2 - x1, 3), height=round(y2 - y1, 3))
        return [dict(shape_attributes=shape, region_attributes=attributes)]
    return [dict(shape_attributes=dict(name='polygon', all_points_x=polygon[0::2],
                                       all_points_y=polygon[1::2]), region_attributes=attributes)
            for polygon in obj.polygons]


def draft_attributes(classes: tuple[str, ...]) -> dict:
    """``_via_attributes`` declaring the region attributes drafts write, as VIA's attribute editor saves
    them."""
    return dict(region={
        DRAFT_CLASS_ATTRIBUTE: dict(type='dropdown', description='the object class',
                                    options={name: name for name in classes}, default_options={}),
        DRAFT_SCORE_ATTRIBUTE: dict(type='text', description="the model's score", default_value=''),
        DRAFT_GROUP_ATTRIBUTE: dict(type='text', description='the pieces of one object share a number',
                                    default_value=''),
    }, file={})


def via_settings(project_name: str, default_filepath: str) -> dict:
    """VIA 2's default ``_via_settings`` (as via.js initialises them) with the project's name and image
    folder; regions are labelled and coloured by their class."""
    return dict(
        ui=dict(annotation_editor_height=25, annotation_editor_fontsize=0.8, leftsidebar_width=18,
                image_grid=dict(img_height=80, rshape_fill='none', rshape_fill_opacity=0.3,
                                rshape_stroke='yellow', rshape_stroke_width=2, show_region_shape=True,
                                show_image_policy='all'),
                image=dict(region_label=DRAFT_CLASS_ATTRIBUTE, region_color=DRAFT_CLASS_ATTRIBUTE,
                           region_label_font='10px Sans',
                           on_image_annotation_editor_placement='NEAR_REGION')),
        core=dict(buffer_size=18, filepath={}, default_filepath=default_filepath),
        project=dict(name=project_name))


def write_via_drafts(drafts: list[DraftImage], objects: list[list[DraftObject]], classes: tuple[str, ...],
                     out: Path) -> list[Path]:
    """The drafts as one VIA 2 project ``out`` (see the module docstring); refuses an existing file."""
    metadata = {}
    for draft, found in zip(drafts, objects, strict=True):
        filename = relative_posix(draft.image, out.parent)
        size = Path(draft.image).stat().st_size
        regions, groups = [], 0
        for obj in found:
            several = obj.polygons is not None and len(obj.polygons) > 1
            groups += several
            regions += draft_regions(obj, classes, groups if several else None)
        key = f'{filename}{size}'
        if key in metadata:
            raise DataError(draft.image, f'listed twice (VIA keys images by file name and size: {key})')
        metadata[key] = dict(filename=filename, size=size, regions=regions, file_attributes={})
    content = {'_via_settings': via_settings(out.stem, f'{out.parent.resolve().as_posix()}/'),
               '_via_img_metadata': metadata, '_via_attributes': draft_attributes(classes),
               '_via_data_format_version': VIA_FORMAT_VERSION, '_via_image_id_list': list(metadata)}
    return [write_new(out, content)]
