"""Per-image error report: missed objects (FN) and false positives, as JSON + Markdown + overlays."""

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pycocotools.mask as mask_utils
from tqdm import tqdm

from custom.evaluation.matching import DEFAULT_SCORE_THR, ImageMatch, ImageRecord, match_image
from custom.files import write_image

# BGR colours of the overlays.
MATCHED_GT, MISSED_GT = (0, 200, 0), (0, 0, 255)
TRUE_POSITIVE, FALSE_POSITIVE, IGNORED = (255, 128, 0), (0, 165, 255), (160, 160, 160)
OVERLAY_LEGEND = 'green: found GT, red: missed GT, grey: ignored, blue: true positive, orange: false positive'


@dataclass
class ImageErrors:
    """Errors of one image; boxes are x1y1x2y2, scores of the predictions."""

    img_id: str
    img_path: str
    tp: int
    fp: int
    fn: int
    missed: list[dict] = field(default_factory=list)  # {'label', 'bbox'}
    false_positives: list[dict] = field(default_factory=list)  # {'label', 'bbox', 'score'}

    @property
    def errors(self) -> int:
        return self.fp + self.fn


def image_errors(record: ImageRecord, match: ImageMatch, classes: list[str]) -> ImageErrors:
    def name(label: int) -> str:
        return classes[label] if 0 <= label < len(classes) else str(label)

    missed = [
        {'label': name(int(record.gt_labels[g])), 'bbox': [round(float(v), 1) for v in record.gt_bboxes[g]]}
        for g in np.nonzero(match.gt_fn)[0]
    ]
    false_positives = [
        {
            'label': name(int(match.pred_labels[k])),
            'bbox': [round(float(v), 1) for v in record.pred_bboxes[match.pred_order[k]]],
            'score': round(float(match.pred_scores[k]), 4),
        }
        for k in np.nonzero(match.pred_fp)[0]
    ]
    return ImageErrors(
        record.img_id,
        record.img_path,
        int(match.pred_tp.sum()),
        int(match.pred_fp.sum()),
        int(match.gt_fn.sum()),
        missed,
        false_positives,
    )


def build_error_report(
    records: list[ImageRecord],
    classes: list[str],
    kind: str = 'bbox',
    iou_thr: float = 0.5,
    score_thr: float = DEFAULT_SCORE_THR,
) -> list[tuple[ImageErrors, ImageMatch, ImageRecord]]:
    """(errors, match, record) of every image, worst (most FP + FN) first."""
    pairs = []
    for record in tqdm(records, desc='error report', disable=len(records) < 50):
        match = match_image(record, kind, iou_thr, score_thr)
        pairs.append((image_errors(record, match, classes), match, record))
    pairs.sort(key=lambda p: (-p[0].errors, -p[0].fn, p[0].img_id))
    return pairs


def report_summary(errors: list[ImageErrors]) -> dict:
    tp, fp, fn = (sum(getattr(e, k) for e in errors) for k in ('tp', 'fp', 'fn'))
    return {
        'images': len(errors),
        'tp': tp,
        'fp': fp,
        'fn': fn,
        'images_with_errors': sum(1 for e in errors if e.errors),
    }


def to_markdown(errors: list[ImageErrors], settings: dict, worst: int, overlay_names: dict[str, str]) -> str:
    summary = report_summary(errors)
    lines = [
        '# Error report',
        '',
        ', '.join(f'{k}: {v}' for k, v in settings.items()),
        '',
        f'Images: {summary["images"]}, with errors: {summary["images_with_errors"]}. '
        f'TP {summary["tp"]}, FP {summary["fp"]}, FN (missed) {summary["fn"]}.',
        '',
        '| image | TP | FP | FN | missed (label, box) | false positives (label, score) |',
        '| --- | --- | --- | --- | --- | --- |',
    ]
    for e in errors:
        missed = '; '.join(f'{m["label"]} {m["bbox"]}' for m in e.missed)
        fps = '; '.join(f'{f["label"]} {f["score"]:.2f}' for f in e.false_positives)
        lines.append(f'| {e.img_id} | {e.tp} | {e.fp} | {e.fn} | {missed} | {fps} |')
    if overlay_names:
        lines += [
            '',
            f'## {min(worst, len(overlay_names))} worst images',
            '',
            OVERLAY_LEGEND,
            '',
        ]
        lines += [f'![{img_id}]({name})' for img_id, name in overlay_names.items()]
    return '\n'.join(lines) + '\n'


def draw_overlay(record: ImageRecord, match: ImageMatch, kind: str) -> np.ndarray | None:
    """Image with GT and predictions drawn (masks tinted when kind is segm); None if it cannot be read."""
    image = cv2.imread(record.img_path, cv2.IMREAD_COLOR) if record.img_path else None
    if image is None:
        return None
    canvas = image.copy()
    font_scale = max(0.35, canvas.shape[1] / 1500)

    def paint(box: np.ndarray, color: tuple, rle: dict | None, text: str = '') -> None:
        if kind == 'segm' and rle is not None:
            mask = mask_utils.decode(rle).astype(bool)
            if mask.shape == canvas.shape[:2]:
                canvas[mask] = (0.5 * canvas[mask] + 0.5 * np.array(color)).astype(np.uint8)
        x1, y1, x2, y2 = (int(round(v)) for v in box)
        cv2.rectangle(canvas, (x1, y1), (max(x1, x2 - 1), max(y1, y2 - 1)), color, 1)
        if text:
            cv2.putText(canvas, text, (x1, max(8, y1 - 2)), cv2.FONT_HERSHEY_SIMPLEX, font_scale, color, 1)

    for g in range(record.gt_labels.size):
        if record.gt_ignore[g]:
            paint(record.gt_bboxes[g], IGNORED, None)
        else:
            color = MATCHED_GT if match.gt_matched[g] else MISSED_GT
            paint(record.gt_bboxes[g], color, record.gt_masks[g] if record.gt_masks else None)
    for k, index in enumerate(match.pred_order):
        if match.pred_ignored[k]:
            continue
        color = TRUE_POSITIVE if match.pred_tp[k] else FALSE_POSITIVE
        rle = record.pred_masks[index] if record.pred_masks else None
        paint(record.pred_bboxes[index], color, rle, f'{match.pred_scores[k]:.2f}')
    return canvas


def write_error_report(
    records: list[ImageRecord],
    classes: list[str],
    out_dir: str | Path,
    kind: str = 'bbox',
    iou_thr: float = 0.5,
    score_thr: float = DEFAULT_SCORE_THR,
    worst: int = 10,
) -> dict:
    """Write errors.json, errors.md and overlays/<img_id>.png of the ``worst`` images with errors."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    entries = build_error_report(records, classes, kind, iou_thr, score_thr)
    errors = [entry[0] for entry in entries]
    overlay_names: dict[str, str] = {}
    for error, match, record in tqdm(entries[:worst], desc='overlays', disable=worst < 50):
        if not error.errors:
            break
        canvas = draw_overlay(record, match, kind)
        if canvas is not None:
            name = f'overlays/{Path(error.img_id).name}.png'
            (out_dir / 'overlays').mkdir(exist_ok=True)
            write_image(out_dir / name, canvas)
            overlay_names[error.img_id] = name
    settings = {'kind': kind, 'iou_thr': iou_thr, 'score_thr': score_thr}
    report = {
        'settings': settings,
        'summary': report_summary(errors),
        'images': [{**asdict(e), 'overlay': overlay_names.get(e.img_id)} for e in errors],
    }
    (out_dir / 'errors.json').write_text(json.dumps(report, indent=2))
    (out_dir / 'errors.md').write_text(to_markdown(errors, settings, worst, overlay_names))
    return report
