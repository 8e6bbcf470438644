"""Label Studio's JSON export (Export > JSON: a list of tasks with their annotations) read as a source, and
the tasks JSON with predictions that drafts are (``write_label_studio_drafts``).

Layout: ``ann_file`` is the export, images are found in ``data_prefix['img']`` from each task's image URL;
``split_file`` optionally keeps the images a name list names (custom/datasets/annotation_json.py). One task::

    {"id": 7, "data": {"image": "/data/upload/1/3f2a9c1e-street.jpg"},
     "annotations": [{"id": 11, "was_cancelled": false, "result": [
        {"id": "a1", "type": "polygonlabels", "from_name": "label", "to_name": "image",
         "original_width": 640, "original_height": 480, "image_rotation": 0,
         "value": {"points": [[10.5, 20.0], [30.0, 20.0], [30.0, 60.2]], "polygonlabels": ["person"]}}]}]}

Conventions and the traps of the format:

* Coordinates are percent of the image (0-100), converted to pixels here, once. A value far outside 0-100
  (pixel coordinates written by a script) stops loading with the task and region named.
* ``original_width``/``original_height`` may be missing (tasks written by scripts, older exports): the image
  file's size is used. When present they must match the image (resized after labelling otherwise).
* The image URL names a file of the data folder: Label Studio's upload URL ``/data/upload/<project>/<8 hex
  digits>-<name>`` is the file ``<name>`` (or the name with the prefix, as it lies in Label Studio's media
  folder), local-files storage ``/data/local-files/?d=<path>`` is ``<path>`` (or its file name), and any other
  URL (http, s3, gs) or path its file name, all looked up in ``data_prefix['img']``.
* Shapes: ``polygonlabels``; ``rectanglelabels`` (``x``, ``y`` the top-left corner, ``rotation`` in degrees
  clockwise about it: a rotated rectangle becomes its 4-corner polygon); ``ellipselabels`` (centre and radii,
  as a 64-gon); ``brushlabels`` (Label Studio's own RLE of the RGBA canvas, decoded here: the alpha channel is
  the mask; ``decode_brush_rle``). Other results (choices, text areas, keypoints) are skipped and counted in
  a warning. A view rotated in the editor (``image_rotation`` not 0) is refused: its coordinates belong to the
  rotated view.
* An object in several pieces: regions of one class joined by relations (Label Studio's arrows between
  regions) are one object, which is how drafts keep the pieces together; ``group_relations=False`` keeps
  every region an object.
* Which result list: ``results='annotations'`` (default) reads the task's annotation (the ``ground_truth``
  one, else the last one not cancelled); a task without one is not labelled yet and is skipped and counted
  in a warning (an annotation with an empty result is an image without objects). ``results='predictions'``
  reads the last prediction (drafts before anyone corrected them).
* Without classes in the config the classes are the labels of the regions read, sorted.

Why our own brush decoder: Label Studio's brush RLE is its own bit-packed format (a 32-bit value count, a
5-bit word size, four 4-bit run-length sizes, then literal and repeat blocks; label_studio_converter/brush.py
decodes it through a string of every bit). Its Python packages (label-studio-converter, label-studio-sdk)
do not install cleanly beside mmcv: both upgrade numpy to 2.x. The decoder is tested on the converter's own
published test vector.
"""

import logging
import math
import re
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlparse

import numpy as np
import pycocotools.mask as mask_utils
from mmdet.registry import DATASETS
from mmengine.logging import print_log

from custom.datasets.annotation_json import AnnotationJsonDataset, cached_json
from custom.datasets.base import ParsedImage
from custom.datasets.class_map import resolve_label
from custom.datasets.drafts import DraftImage, DraftObject, refuse_existing, relative_posix, write_new
from custom.datasets.polygons import checked_polygon, ellipse_polygon, polygons_box, rectangle_polygon
from custom.errors import ConfigError, DataError
from custom.files import write_atomic
from custom.structures.masks import mask_extent_box, mask_to_rle, to_rle

SHAPE_TYPES = ('polygonlabels', 'rectanglelabels', 'ellipselabels', 'brushlabels')
RESULT_SOURCES = ('annotations', 'predictions')
# Label Studio prefixes the names of uploaded files with 8 hex digits and a dash.
UPLOAD_PREFIX = re.compile(r'^[0-9a-f]{8}-(.+)$')
LOCAL_FILES_PREFIX = '/data/local-files/?d='  # Label Studio's local-files storage serves ?d=<path>
# Percent coordinates this far outside 0-100 are pixels, not percent (a region may overhang the image a bit).
PERCENT_SLACK = 5.0
# Drafts: the control tag and image names of the labelling config written beside the tasks.
DRAFT_FROM_NAME, DRAFT_TO_NAME = 'label', 'image'


def decode_brush_rle(rle: Any) -> np.ndarray:
    """The values (uint8) a Label Studio brush RLE encodes; ValueError when it is not one."""
    if not isinstance(rle, list) or not rle or not all(isinstance(v, int) and 0 <= v < 256 for v in rle):
        raise ValueError('rle must be a list of byte values (0-255)')
    bits = np.unpackbits(np.asarray(rle, dtype=np.uint8)).astype(np.int64)
    position = 0

    def read(count: int, words: int = 1) -> np.ndarray:
        nonlocal position
        end = position + count * words
        if end > bits.size:
            raise ValueError(f'rle ends early (bit {end} of {bits.size})')
        chunk = bits[position:end].reshape(words, count)
        position = end
        return chunk @ (1 << np.arange(count - 1, -1, -1, dtype=np.int64))

    total = int(read(32)[0])
    word_size = int(read(5)[0]) + 1
    run_sizes = [int(v) + 1 for v in read(4, 4)]
    if word_size > 8:
        raise ValueError(f'word size {word_size} bits; a brush mask holds bytes')
    out = np.zeros(total, dtype=np.uint8)
    i = 0
    while i < total:
        repeat = int(read(1)[0])
        end = min(total, i + 1 + int(read(run_sizes[int(read(2)[0])])[0]))
        if repeat:
            out[i:end] = int(read(word_size)[0])
        else:
            out[i:end] = read(word_size, end - i)
        i = end
    return out


def image_candidates(url: str) -> list[str]:
    """The file names, relative to the image folder, that a task's image URL may mean (first that exists)."""
    parsed = urlparse(url)
    if parsed.path.rstrip('/').endswith('/data/local-files') and 'd' in parse_qs(parsed.query):
        path = parse_qs(parsed.query)['d'][0].replace('\\', '/')
        return list(dict.fromkeys([path.lstrip('/'), Path(path).name]))
    name = Path(unquote(parsed.path).replace('\\', '/')).name
    if '/data/upload/' in parsed.path and (match := UPLOAD_PREFIX.match(name)):
        return [match.group(1), name]
    relative = unquote(url).replace('\\', '/') if not parsed.scheme and not parsed.netloc else ''
    return list(dict.fromkeys([p for p in (relative, name) if p]))


def rotated_rectangle(x: float, y: float, width: float, height: float, degrees: float) -> list[float]:
    """The corners of a rectangle with top-left corner (x, y) turned ``degrees`` clockwise about that corner
    (image coordinates, y down), in pixels."""
    cos_t, sin_t = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    corners = [(0.0, 0.0), (width, 0.0), (width, height), (0.0, height)]
    return [v for dx, dy in corners for v in (x + dx * cos_t - dy * sin_t, y + dx * sin_t + dy * cos_t)]


def connected_groups(ids: list[str], links: list[tuple[str, str]]) -> dict[str, str]:
    """Each id's group (the first id of its group), ids joined by ``links`` (union-find)."""
    parent = {i: i for i in ids}

    def root(i: str) -> str:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in links:
        if a in parent and b in parent:
            ra, rb = root(a), root(b)
            if ra != rb:
                first, second = sorted((ra, rb), key=ids.index)
                parent[second] = first
    return {i: root(i) for i in ids}


def label_studio_tasks(content: Any, path: str | Path) -> list[dict]:
    """The tasks of a Label Studio JSON export (or of one task); DataError naming what it is otherwise."""
    if isinstance(content, dict) and isinstance(content.get('data'), dict):
        content = [content]
    if not isinstance(content, list):
        raise DataError(path, 'not a Label Studio JSON export: expected a list of tasks')
    for number, task in enumerate(content):
        if not (isinstance(task, dict) and isinstance(task.get('data'), dict)):
            hint = (' (a JSON-MIN export? use Export > JSON)' if isinstance(task, dict) and 'data' not in task
                    else '')
            raise DataError(path, f'task #{number} is not a Label Studio task (needs a "data" dict){hint}')
    return content


@DATASETS.register_module()
class LabelStudioDataset(AnnotationJsonDataset):
    """Instances from a Label Studio JSON export; see the module docstring. Keys are the tasks' positions in
    the export.

    Args:
        image_key: the task data field that holds the image URL (``$image`` in the labelling config).
        results: 'annotations' (what people labelled) or 'predictions' (what a model drafted).
        group_relations: regions of one class joined by relations are one object.
        split_file: see custom/datasets/annotation_json.py. class_map, check_images, data_prefix: see
            ``ProjectDataset``.
    """

    DEFAULT_PREFIX = dict(img='')
    MASK_TYPE = 'json'  # polygons, and RLE for brush masks: see rle_masks

    def __init__(self, *args, image_key: str = 'image', results: str = 'annotations',
                 group_relations: bool = True, **kwargs) -> None:
        if results not in RESULT_SOURCES:
            raise ConfigError(f'LabelStudioDataset: results must be one of {RESULT_SOURCES}, got {results!r}')
        self.image_key = image_key
        self.results = results
        self.group_relations = group_relations
        super().__init__(*args, **kwargs)

    @classmethod
    def rle_masks(cls, dataset_cfg: dict) -> str | None:
        """Why an export gives RLE masks: how many brush regions it holds (None: none, or unreadable)."""
        if not dataset_cfg.get('ann_file'):
            return None
        ann_file = Path(dataset_cfg.get('data_root') or '', dataset_cfg['ann_file'])
        try:
            tasks = label_studio_tasks(cached_json(ann_file), ann_file)
        except DataError:
            return None
        entries = [entry for task in tasks for entry in (task.get('annotations') or [])
                   + (task.get('predictions') or []) if isinstance(entry, dict)]
        count = sum(isinstance(result, dict) and result.get('type') == 'brushlabels'
                    for entry in entries for result in entry.get('result') or [])
        return f'{ann_file} holds {count} brush (RLE) masks' if count else None

    def default_classes(self) -> tuple[str, ...]:
        """The labels of the regions read, sorted."""
        tasks = label_studio_tasks(cached_json(self.ann_file), self.ann_file) if self.ann_file else []
        names = set()
        for task in tasks:
            for result in self._task_results(task) or []:
                labels = result.get('value', {}).get(result.get('type')) if isinstance(result, dict) else None
                if result.get('type') in SHAPE_TYPES and isinstance(labels, list) and len(labels) == 1:
                    names.add(str(labels[0]).strip())
        return tuple(sorted(names - {''}))

    def index_json(self, content: Any) -> dict[int, str]:
        self._tasks = label_studio_tasks(content, self.ann_file)
        files, unlabelled = {}, 0
        for number, task in enumerate(self._tasks):
            if self._task_results(task) is None:
                unlabelled += 1
                continue
            url = task['data'].get(self.image_key)
            if not isinstance(url, str) or not url:
                raise DataError(self.ann_file, f'{self._where(number)}: no image URL in data'
                                               f'[{self.image_key!r}] (its fields: {sorted(task["data"])}; '
                                               'set image_key)')
            candidates = image_candidates(url)
            folder = Path(self.data_prefix.get('img', ''))
            files[number] = next((name for name in candidates if (folder / name).is_file()), candidates[0])
        if unlabelled:
            print_log(f'LabelStudioDataset({self.ann_file}): skipped {unlabelled} tasks without '
                      f'{self.results} (not labelled yet, or every annotation cancelled)', logger='current',
                      level=logging.WARNING)
        return files

    def parse_image(self, number: int) -> ParsedImage:
        """The image of task ``number`` and its regions; raises DataError at the first problem."""
        task = self._tasks[number]
        where = self._where(number)
        img_path, width, height = self.open_image(number, f'{where}, image {task["data"][self.image_key]!r}')
        results = [r for r in self._task_results(task) if isinstance(r, dict)]
        regions, skipped, links = {}, Counter(), []
        for index, result in enumerate(results):
            kind = result.get('type')
            if kind == 'relation':
                links.append((str(result.get('from_id')), str(result.get('to_id'))))
            elif kind not in SHAPE_TYPES:
                skipped[str(kind)] += 1
            else:
                region_id = str(result.get('id', f'#{index}'))
                region_where = f'{where}, region {region_id} ({kind})'
                regions[region_id] = self._region(result, kind, width, height, region_where)
        groups = connected_groups(list(regions), links if self.group_relations else [])
        objects: dict[tuple, list] = {}
        for region_id, (name, mask) in regions.items():
            objects.setdefault((name, groups[region_id]), []).append(mask)
        instances, unmatched = [], Counter()
        for (name, _), masks in objects.items():
            label = resolve_label(name, self.metainfo['classes'], self.class_map)
            if label is None:
                unmatched[name] += 1
                continue
            instances.append(dict(self._instance(masks, width, height), bbox_label=label, ignore_flag=0))
        warnings = []
        if skipped:
            listed = ', '.join(f'{kind} x{n}' for kind, n in skipped.items())
            warnings.append(DataError(self.ann_file, f'{where}: skipped {sum(skipped.values())} results of '
                                                     f'types other than {"/".join(SHAPE_TYPES)}: {listed}'))
        info = dict(img_path=str(img_path), img_id=self.stem_of(number), height=height, width=width,
                    instances=instances)
        return ParsedImage(info, unmatched=unmatched, warnings=warnings)

    # ---- the parts of one task

    def _where(self, number: int) -> str:
        task_id = self._tasks[number].get('id')
        return f'task #{number}' + (f' (id {task_id})' if task_id is not None else '')

    def _task_results(self, task: dict) -> list | None:
        """The result list to read (see the module docstring); None when the task has none."""
        entries = [e for e in task.get(self.results) or [] if isinstance(e, dict)]
        if self.results == 'annotations':
            entries = [e for e in entries if not e.get('was_cancelled')]
            entries = [e for e in entries if e.get('ground_truth')] or entries
        if not entries:
            return None
        result = entries[-1].get('result')
        return result if isinstance(result, list) else []

    def _region(self, result: dict, kind: str, width: int, height: int, where: str) -> tuple[str, Any]:
        """(class name, mask) of one region: a flat polygon in pixels, or a binary mask for a brush."""
        value = result.get('value')
        if not isinstance(value, dict):
            raise DataError(self.ann_file, f'{where}: no "value" dict')
        labels = value.get(kind)
        if not (isinstance(labels, list) and len(labels) == 1 and str(labels[0]).strip()):
            raise DataError(self.ann_file, f'{where}: needs exactly one label in value.{kind}, got '
                                           f'{labels!r}')
        if result.get('image_rotation'):
            raise DataError(self.ann_file, f'{where}: image_rotation {result["image_rotation"]}: the region '
                                           'was drawn on a rotated view; rotate the image back in Label '
                                           'Studio and fix the region')
        written = (result.get('original_width'), result.get('original_height'))
        if all(written) and written != (width, height):
            raise DataError(self.ann_file, f'{where}: original_width x original_height is {written[0]}x'
                                           f'{written[1]} but the image is {width}x{height} (resized after '
                                           'labelling?)')
        name = str(labels[0]).strip()
        if kind == 'brushlabels':
            return name, self._brush_mask(value, width, height, where)
        try:
            if kind == 'polygonlabels':
                points = value.get('points')
                if not (isinstance(points, list)
                        and all(isinstance(p, list) and len(p) == 2 for p in points)):
                    raise DataError(self.ann_file, f'{where}: points must be a list of [x, y] percent pairs')
                percent = [float(v) for point in points for v in point]
            elif kind == 'rectanglelabels':
                percent = [float(value[k]) for k in ('x', 'y', 'width', 'height')]
            else:
                percent = [float(value[k]) for k in ('x', 'y', 'radiusX', 'radiusY')]
            rotation = float(value.get('rotation') or 0)
        except (KeyError, TypeError, ValueError) as err:
            raise DataError(self.ann_file, f'{where}: value {value!r:.100} lacks numbers ({err})') from None
        if any(not -PERCENT_SLACK <= v <= 100 + PERCENT_SLACK for v in percent):
            raise DataError(self.ann_file, f'{where}: coordinates are percent of the image (0-100) in Label '
                                           f'Studio, got {max(percent, key=abs):g}: pixel values?')
        xs = [v * width / 100 for v in percent[0::2]]
        ys = [v * height / 100 for v in percent[1::2]]
        if kind == 'polygonlabels':
            polygon = [v for point in zip(xs, ys, strict=True) for v in point]
        elif kind == 'rectanglelabels':
            polygon = (rotated_rectangle(xs[0], ys[0], xs[1], ys[1], rotation) if rotation
                       else rectangle_polygon(xs[0], ys[0], xs[0] + xs[1], ys[0] + ys[1]))
        else:
            polygon = ellipse_polygon(xs[0], ys[0], xs[1], ys[1], math.radians(rotation))
        return name, checked_polygon(polygon, width, height, self.ann_file, where)

    def _brush_mask(self, value: dict, width: int, height: int, where: str) -> np.ndarray:
        if value.get('format', 'rle') != 'rle' or 'rle' not in value:
            raise DataError(self.ann_file, f'{where}: a brush region without an "rle" (format '
                                           f'{value.get("format")!r}); export it as JSON from Label Studio')
        try:
            values = decode_brush_rle(value['rle'])
        except ValueError as err:
            raise DataError(self.ann_file, f'{where}: not a Label Studio brush RLE ({err})') from None
        if values.size != width * height * 4:
            raise DataError(self.ann_file, f'{where}: the brush RLE holds {values.size} values, not width '
                                           f'x height x 4 (RGBA) = {width * height * 4} for the '
                                           f'{width}x{height} image')
        mask = values.reshape(height, width, 4)[:, :, 3] > 0
        if not mask.any():
            raise DataError(self.ann_file, f'{where}: the brush mask covers no pixel')
        return mask

    def _instance(self, masks: list, width: int, height: int) -> dict:
        """bbox and mask of one object: its polygons, or one RLE when a brush is among its pieces."""
        if all(isinstance(m, list) for m in masks):
            return dict(bbox=polygons_box(masks, width, height), mask=masks)
        union = np.zeros((height, width), dtype=bool)
        for mask in masks:
            if isinstance(mask, list):
                mask = mask_utils.decode(to_rle([mask], height, width, self.ann_file)).astype(bool)
            union |= mask
        return dict(bbox=mask_extent_box(union), mask=mask_to_rle(union))


def draft_results(obj: DraftObject, classes: tuple[str, ...], draft: DraftImage,
                  region_id: str) -> list[dict]:
    """The prediction results of one draft object: a polygon region per piece, joined by relations when
    there are several, or a rectangle region."""
    base = dict(from_name=DRAFT_FROM_NAME, to_name=DRAFT_TO_NAME, original_width=draft.width,
                original_height=draft.height, image_rotation=0, score=obj.score)
    name = classes[obj.label]
    if obj.polygons is None:
        x1, y1, x2, y2 = obj.box
        value = dict(x=x1 / draft.width * 100, y=y1 / draft.height * 100, width=(x2 - x1) / draft.width * 100,
                     height=(y2 - y1) / draft.height * 100, rotation=0, rectanglelabels=[name])
        return [dict(base, id=region_id, type='rectanglelabels', value=value)]
    pieces = []
    for k, polygon in enumerate(obj.polygons):
        points = [[x / draft.width * 100, y / draft.height * 100]
                  for x, y in zip(polygon[0::2], polygon[1::2], strict=True)]
        pieces.append(dict(base, id=f'{region_id}-{k}' if k else region_id, type='polygonlabels',
                           value=dict(points=points, closed=True, polygonlabels=[name])))
    relations = [dict(from_id=region_id, to_id=piece['id'], type='relation', direction='right')
                 for piece in pieces[1:]]
    return pieces + relations


def labelling_config(classes: tuple[str, ...], boxes: bool) -> str:
    """A Label Studio labelling config for the drafts (Settings > Labeling Interface > Code)."""
    tag = 'RectangleLabels' if boxes else 'PolygonLabels'
    labels = '\n'.join(f'    <Label value="{quote_xml(name)}"/>' for name in classes)
    return (f'<View>\n  <Image name="{DRAFT_TO_NAME}" value="$image" zoom="true"/>\n'
            f'  <{tag} name="{DRAFT_FROM_NAME}" toName="{DRAFT_TO_NAME}">\n{labels}\n  </{tag}>\n</View>\n')


def quote_xml(text: str) -> str:
    return text.replace('&', '&amp;').replace('"', '&quot;').replace('<', '&lt;').replace('>', '&gt;')


def write_label_studio_drafts(drafts: list[DraftImage], objects: list[list[DraftObject]],
                              classes: tuple[str, ...], out: Path, *, model_version: str = '',
                              image_url_prefix: str | None = None) -> list[Path]:
    """The drafts as a Label Studio tasks json ``out`` with ``predictions`` (Import), and the labelling config
    they need beside it (``<out stem>.label_config.xml``); refuses existing files. Each image's URL is
    ``image_url_prefix`` (default: local-files storage, ``/data/local-files/?d=``) + its path relative to
    ``out``'s folder."""
    prefix = LOCAL_FILES_PREFIX if image_url_prefix is None else image_url_prefix
    config_path = out.with_name(f'{out.stem}.label_config.xml')
    for path in (out, config_path):
        refuse_existing(path)
    tasks, boxes = [], False
    for n, (draft, found) in enumerate(zip(drafts, objects, strict=True)):
        result = []
        for k, obj in enumerate(found):
            boxes |= obj.polygons is None
            result += draft_results(obj, classes, draft, f'd{n}-{k}')
        score = float(np.mean([obj.score for obj in found])) if found else 0.0
        url = prefix + quote(relative_posix(draft.image, out.parent), safe='/')
        tasks.append(dict(data={DRAFT_TO_NAME: url},
                          predictions=[dict(model_version=model_version, score=score, result=result)]))
    written = [write_new(out, tasks)]
    write_atomic(config_path, labelling_config(classes, boxes).encode('utf-8'))
    return written + [config_path]
