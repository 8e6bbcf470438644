"""Draft annotations for labelling tools from a model's detections: what each object becomes (polygons from a
mask, or a rectangle from a box model), and ``write_drafts``, which hands them to the writer of the format.

Each format's writer sits beside its reader and shares its format knowledge (custom/datasets/labelme.py,
coco_json.py, label_studio.py, via.py), so the project's loader for that format reads the drafts back as the
same objects. What every format shares:

* A mask becomes its outer contours (``mask_to_polygons``; holes are lost, outlines run through the edge
  pixels' centres). An object in several pieces keeps its pieces together in the way its format has for it:
  labelme shapes sharing a ``group_id``, one COCO annotation with several polygons, Label Studio regions
  linked by relations, VIA regions sharing a ``group`` region attribute. A piece whose outline covers no
  pixel (a line one pixel thin) is left out, as the readers refuse it; a detection with no piece left is
  left out and counted in a warning.
* The box of a mask object is the extent of its polygons (what the tool shows and the readers compute), not
  the box head's output; a box model's object is its box, as a rectangle.
* The score goes where the format keeps free text or numbers (labelme ``description``, COCO, Label Studio
  and VIA ``score``).

Never overwritten: a file that already exists may hold a human's corrections. A format with one file per
image (labelme) keeps every existing file, writes the others and counts the kept ones in a warning, so
running it again continues where the last run stopped; a format with one file for all images (COCO, Label
Studio, VIA) refuses with a DataError naming the file, before anything is written.
"""

import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pycocotools.mask as mask_utils
from mmengine.logging import print_log

from custom.errors import ConfigError, DataError
from custom.files import write_atomic
from custom.structures.detections import Detections
from custom.structures.masks import mask_to_polygons

DRAFT_FORMATS = ('labelme', 'coco', 'labelstudio', 'via')


@dataclass
class DraftImage:
    """One image and the model's detections on it."""

    image: Path  # the image file the draft is for
    width: int
    height: int
    detections: Detections  # masks (N, H, W) bool, or None for a box model


@dataclass
class DraftObject:
    """One detection as a tool draws it: ``polygons`` (flat x, y, ... in pixels, one per piece) for a mask
    model, None for a box model's rectangle ``box``."""

    label: int
    score: float
    box: list[float]  # x1, y1, x2, y2: the polygons' extent, or the detection's box
    polygons: list[list[float]] | None


def draft_objects(draft: DraftImage) -> tuple[list[DraftObject], int]:
    """The objects to draw for an image's detections, and how many were left out (a mask without pixels)."""
    det = draft.detections
    objects, empty = [], 0
    for i in range(len(det)):
        label, score = int(det.labels[i]), float(det.scores[i])
        if det.masks is None:
            objects.append(DraftObject(label, score, [float(v) for v in det.bboxes[i]], None))
            continue
        polygons = [polygon for polygon in mask_to_polygons(det.masks[i])
                    if covers_pixels(polygon, draft.width, draft.height)]
        if not polygons:
            empty += 1
            continue
        xs = [x for polygon in polygons for x in polygon[0::2]]
        ys = [y for polygon in polygons for y in polygon[1::2]]
        objects.append(DraftObject(label, score, [min(xs), min(ys), max(xs), max(ys)], polygons))
    return objects, empty


def covers_pixels(polygon: list[float], width: int, height: int) -> bool:
    """Whether a polygon covers a pixel when rasterised (what the readers' ``checked_polygon`` demands)."""
    return bool(mask_utils.area(mask_utils.frPyObjects([polygon], height, width))[0])


def relative_posix(path: Path, start: Path) -> str:
    """``path`` relative to the folder ``start`` with forward slashes (``../`` where it lies outside)."""
    return Path(os.path.relpath(Path(path).resolve(), Path(start).resolve())).as_posix()


def json_bytes(content: Any) -> bytes:
    """What the tools write: indented UTF-8 JSON."""
    return json.dumps(content, indent=2, ensure_ascii=False).encode('utf-8')


def refuse_existing(path: Path) -> None:
    """DataError when the one file of a format exists already (a human may have corrected it)."""
    if path.exists():
        raise DataError(path, 'exists already and may hold corrections, so it is not overwritten: move it '
                              'away or write the drafts to another file')


def write_new(path: Path, content: Any) -> Path:
    """Writes ``content`` as JSON to a path that must not exist yet, atomically."""
    refuse_existing(path)
    write_atomic(path, json_bytes(content))
    return path


def check_labels(drafts: Sequence[DraftImage], classes: tuple[str, ...]) -> None:
    """ConfigError when a detection's label has no class name."""
    for draft in drafts:
        labels = np.asarray(draft.detections.labels)
        if labels.size and (labels.min() < 0 or labels.max() >= len(classes)):
            raise ConfigError(f'{draft.image}: a detection has label {int(labels.max())}, but the model has '
                              f'{len(classes)} classes {classes}')


def write_drafts(fmt: str, drafts: Sequence[DraftImage], classes: tuple[str, ...], out: Path, *,
                 model_version: str = '', image_url_prefix: str | None = None) -> list[Path]:
    """Write drafts in the format; returns the files written.

    ``out`` is a folder for labelme (one ``<image stem>.json`` per image, ``imagePath`` relative to it) and
    the one file for the others (COCO instances json, Label Studio tasks json, VIA project json), whose
    image names are relative to its folder. ``image_url_prefix`` (Label Studio only) replaces the default
    ``/data/local-files/?d=`` before that relative path. Never overwrites a file a human may have corrected:
    labelme keeps every existing json and counts them in a warning; the one-file formats refuse with a
    DataError naming an existing file (see the module docstring).
    """
    if fmt not in DRAFT_FORMATS:
        raise ConfigError(f'unknown draft format {fmt!r}; choose from {DRAFT_FORMATS}')
    if image_url_prefix is not None and fmt != 'labelstudio':
        raise ConfigError(f'image_url_prefix is an option of the labelstudio format, not {fmt}')
    classes = tuple(classes)
    check_labels(drafts, classes)
    out = Path(out)
    objects, empty = [], 0
    for draft in drafts:
        found, left_out = draft_objects(draft)
        objects.append(found)
        empty += left_out
    if empty:
        print_log(f'drafts: {empty} detections left out, their masks have no outline covering a pixel',
                  logger='current', level=logging.WARNING)
    # The writers sit beside their readers, which import this module: imported here, not at the top.
    if fmt == 'labelme':
        from custom.datasets.labelme import write_labelme_drafts
        return write_labelme_drafts(drafts, objects, classes, out)
    if fmt == 'coco':
        from custom.datasets.coco_json import write_coco_drafts
        return write_coco_drafts(drafts, objects, classes, out, model_version=model_version)
    if fmt == 'labelstudio':
        from custom.datasets.label_studio import write_label_studio_drafts
        return write_label_studio_drafts(drafts, objects, classes, out, model_version=model_version,
                                         image_url_prefix=image_url_prefix)
    from custom.datasets.via import write_via_drafts
    return write_via_drafts(drafts, objects, classes, out)
