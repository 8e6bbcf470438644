"""The review page of the label-error queue: ``review.html`` (plain HTML + JS, no build step, no server; it
opens from disk) and ``crops/<rank>.png``, one crop per suspect with the annotation and the prediction drawn.

The page holds the queue as JSON and draws one card per suspect (crop, kind, score, classes, a link to the
image file), filtered by kind and class and sorted by score or by image quality in the browser
(label_errors_page.html, label_errors_page.js).
"""

import html
import json
import os
from pathlib import Path

import cv2
import numpy as np
import pycocotools.mask as mask_utils

from custom.analysis.label_errors import KINDS, LabelErrors, Suspect
from custom.files import write_atomic, write_image

TEMPLATE = Path(__file__).with_name('label_errors_page.html')
SCRIPT = Path(__file__).with_name('label_errors_page.js')
# BGR: the annotation green, the prediction magenta, ignore regions grey.
ANNOTATION, PREDICTION, IGNORED = (0, 200, 0), (255, 0, 255), (160, 160, 160)
LEGEND = ('Green: the annotation (mask tinted, thick box), other annotations thin; magenta: the prediction '
          '(outline, thin box); grey: ignore regions. Missing: the model finds an object nobody annotated. '
          'Spurious: an annotation where the model sees nothing. Bad location: the model outlines the object '
          'elsewhere. Wrong class: the model is confident the object is of another class.')
CROP_MARGIN = 0.3  # of the larger side of the boxes' union, on each side
CROP_SIDE = 224  # crops are scaled (nearest pixel) so their longer side is at least this


def crop_window(boxes: list[list[float]], width: int, height: int) -> tuple[int, int, int, int]:
    """x1, y1, x2, y2 around the boxes with a margin, inside the image."""
    union = np.array(boxes, dtype=np.float64)
    x1, y1 = union[:, :2].min(axis=0)
    x2, y2 = union[:, 2:].max(axis=0)
    margin = CROP_MARGIN * max(x2 - x1, y2 - y1, 16)
    return (max(0, int(x1 - margin)), max(0, int(y1 - margin)),
            min(width, int(np.ceil(x2 + margin))), min(height, int(np.ceil(y2 + margin))))


def draw_crop(image: np.ndarray, errors: LabelErrors, row: Suspect) -> np.ndarray:
    """The part of the image around the suspect, scaled up, with its annotation (mask tinted where masks were
    compared, box) and its prediction (mask outline, box) drawn."""
    record = errors.records[row.image]
    height, width = image.shape[:2]
    boxes = [box for box in (row.gt_box, row.pred_box) if box is not None]
    x1, y1, x2, y2 = crop_window(boxes, width, height)
    scale = max(1, int(np.ceil(CROP_SIDE / max(x2 - x1, y2 - y1, 1))))
    canvas = cv2.resize(image[y1:y2, x1:x2], None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)

    def region(rle: dict) -> np.ndarray:
        mask = mask_utils.decode(rle)[y1:y2, x1:x2]
        return cv2.resize(mask, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)

    def rectangle(box: list[float], color: tuple[int, int, int], thickness: int) -> None:
        left, top, right, bottom = ((v - o) * scale for v, o in zip(box, (x1, y1, x1, y1), strict=True))
        cv2.rectangle(canvas, (int(left), int(top)), (int(right) - 1, int(bottom) - 1), color, thickness)

    with_masks = errors.settings.kind == 'segm'
    for g in range(record.gt_labels.size):  # the image's other annotations, thin: what is labelled around it
        if g != row.object:
            rectangle(list(record.gt_bboxes[g]), IGNORED if record.gt_ignore[g] else ANNOTATION, 1)
    if row.object is not None:  # the annotation: its mask tinted, its box thick ...
        if with_masks and record.gt_masks:
            inside = region(record.gt_masks[row.object]).astype(bool)
            canvas[inside] = (0.6 * canvas[inside] + 0.4 * np.array(ANNOTATION)).astype(np.uint8)
        rectangle(row.gt_box, ANNOTATION, 3)
    if row.prediction is not None:  # ... the prediction on top, thin, so both show where they coincide
        if with_masks and record.pred_masks:
            contours, _ = cv2.findContours(region(record.pred_masks[row.prediction]), cv2.RETR_EXTERNAL,
                                           cv2.CHAIN_APPROX_NONE)
            cv2.drawContours(canvas, contours, -1, PREDICTION, 1)
        rectangle(row.pred_box, PREDICTION, 1)
    return canvas


def card(rank: int, row: Suspect, crop: str | None, out_dir: Path) -> dict:
    """What the page shows of one suspect."""
    return dict(rank=rank, image=row.image, kind=row.kind, score=row.score, label=row.label,
                suggestion=row.suggestion, object=row.object, pred_score=row.pred_score, iou=row.iou,
                image_quality=row.image_quality, crop=crop,
                href=Path(os.path.relpath(row.img_path, out_dir)).as_posix() if row.img_path else None)


def write_review_page(errors: LabelErrors, rows: list[Suspect], out_dir: Path) -> Path:
    """Write ``out_dir/review.html`` and ``out_dir/crops/`` for the rows (the queue, highest score first)."""
    (out_dir / 'crops').mkdir(parents=True, exist_ok=True)
    cards, images = [], {}
    for rank, row in enumerate(rows, start=1):
        if row.img_path not in images:
            images[row.img_path] = cv2.imread(row.img_path, cv2.IMREAD_COLOR) if row.img_path else None
        crop = None
        if images[row.img_path] is not None:
            crop = f'crops/{rank:05d}.png'
            write_image(out_dir / crop, draw_crop(images[row.img_path], errors, row))
        cards.append(card(rank, row, crop, out_dir))
    data = dict(source=errors.source, settings=vars(errors.settings), classes=errors.classes, kinds=KINDS,
                legend=LEGEND, images=len(errors.images), cards=cards)
    page = TEMPLATE.read_text(encoding='utf-8')
    page = page.replace('__TITLE__', html.escape(f'Label review: {len(cards)} suspects'))
    page = page.replace('__DATA__', json.dumps(data).replace('</', '<\\/'))  # no '</script>' inside the JSON
    page = page.replace('__SCRIPT__', SCRIPT.read_text(encoding='utf-8'))
    path = out_dir / 'review.html'
    write_atomic(path, page.encode('utf-8'))
    return path
