"""Likely label mistakes: every annotation and every image scored against predictions of a model that did not
train on them (k-fold's out-of-fold predictions, or a model's predictions on a held-out split).

Per image, predictions ``p`` (score ``s_p``, class ``c_p``) meet the real ground truth ``g`` (class ``c_g``,
``ignore_flag`` 0) and the ignore regions ``r`` (crowd, ``__ignore__``, DontCare, difficult: ``ignore_flag``
1). ``u(p, g)`` is mask IoU when both carry masks (``kind='segm'``: a mask that misses the person's legs shows
only there), else box IoU; ``tau`` the IoU threshold (0.5), ``sigma`` the score from which a prediction is
confident (DEFAULT_SCORE_THR, 0.3). Pairs come from the project's matcher (custom/evaluation/matching.py): its
COCO matching at ``tau`` among the confident predictions, then, for what is left on both sides, again at
``PAIR_IOU`` (0.1), so that the prediction of a badly drawn object is no missing object. Scores lie in
[0, 1], higher = more likely a mistake:

- missing(p)      = s_p * (1 - max_g u(p, g)) for a confident prediction paired with no ground truth that
                    the annotations do not explain: e_p < tau, where e_p = max(max_g u(p, g), the share of p
                    on annotated pixels of any class (boxes: inside one annotated box)). The share only
                    decides whether p is a row (a prediction of part of an annotated object, or with masks
                    of a group of them, is no missing object); the score is ObjectLab's overlooked score,
                    1 - the similarity to the closest annotation, weighed by s_p, so that a person standing
                    half behind an annotated one (much of p on annotated pixels, low IoU with each) keeps
                    its score. One on an ignore region (intersection over its own area >= tau, any class)
                    is never a candidate, and of two candidates overlapping at tau only the higher-scoring
                    one stays.
- spurious(g)     = 1 - max_p min(1, s_p / sigma) * min(1, u(p, g) / tau) over every prediction of any class
                    and score: 1 when nothing overlaps the object, 0 once a confident prediction covers it.
- bad_location(g) = s_b * (1 - u(b, g)) for b the confident (s >= sigma) prediction of g's class that overlaps
                    g most (0 without one): ObjectLab's badloc score, 1 - the best similarity to a
                    prediction of the same class, weighed by that prediction's score. The best overlap, not
                    the matcher's pair: where a second prediction fits the outline, the model agrees with it.
- wrong_class(g)  = max_p s_p * (1 - s_same) over confident predictions of another class with u(p, g) >= tau,
                    s_same the score of g's own-class pair at tau (0 without one).

Each object's row takes its largest score and that score's kind; the queue is every row, highest first
(rows, not images: an image holds correct objects too, and its pooled quality below ranks the rows worse).
The image's quality (1 clean, 0 most suspect) pools them as cleanlab's ObjectLab does
(cleanlab/object_detection/rank.py, ``_get_subtype_label_quality_scores``): per kind a softmin with
temperature 0.1 over the image's per-object qualities ``1 - score`` (1 when the kind has none), then the
weighted geometric mean over the kinds, ``exp(sum_k w_k log(1e-100 + q_k))``, here with four kinds at 1/4
each. What differs from ObjectLab and why:

- ObjectLab compares boxes only, by ``0.9 IoU + 0.1 exp(-0.1 * centre distance)``; here IoU is mask IoU for
  instance masks, and the scores weigh it by the prediction's score, because the weak models a CPU trains
  give many true objects middling scores (ObjectLab keeps predictions above 0.95 for overlooked and swapped
  objects, above 0.5 for badly located ones, and does not use the score beyond that cut).
- ObjectLab has no spurious kind (an annotation of nothing); it is FiftyOne's ``possible_spurious`` (a ground
  truth object matched by no prediction; FiftyOne's brain is closed source, so only its documented fields are
  followed: ``possible_missing`` = confident unmatched predictions, ``mistakenness`` = label,
  ``mistakenness_loc`` = localisation), made graded here by how much the nearest prediction covers the object.
- Neither knows ignore regions; here they are never flagged and never make a prediction a missing object.

Written by hand rather than with cleanlab, whose ObjectLab takes boxes only, no masks and no ignore regions.
"""

import csv
import io
import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import pycocotools.mask as mask_utils

from custom.datasets.drafts import DraftImage, write_drafts
from custom.evaluation.matching import (
    DEFAULT_SCORE_THR,
    ImageRecord,
    box_iou,
    iou_for,
    mask_iou,
    match_image,
)
from custom.files import write_atomic
from custom.structures.detections import Detections

KINDS = ('missing', 'spurious', 'bad_location', 'wrong_class')
PAIR_IOU = 0.1  # a prediction and a badly drawn annotation of the same object still overlap this much
TEMPERATURE = 0.1  # ObjectLab's softmin temperature (cleanlab.internal.constants.TEMPERATURE)
TINY = 1e-100  # ObjectLab's TINY_VALUE: log(0) guard of the geometric mean


@dataclass
class Settings:
    """What the scores depend on; ``kind`` is 'segm' (mask IoU) or 'bbox'."""

    kind: str = 'segm'
    iou_thr: float = 0.5
    score_thr: float = DEFAULT_SCORE_THR


@dataclass
class Suspect:
    """One row of the queue: a ground-truth object (``object``: its index among the image's instances as the
    loader reads them) or a prediction that no annotation explains (``object`` None, kind 'missing').

    ``prediction`` indexes the image's predictions; boxes are x1y1x2y2 in pixels (x2/y2 exclusive);
    ``suggestion``: the class the model proposes (missing, wrong_class), None otherwise."""

    image: str
    img_path: str
    kind: str
    score: float
    label: str
    object: int | None = None
    prediction: int | None = None
    suggestion: str | None = None
    gt_box: list[float] | None = None
    pred_box: list[float] | None = None
    pred_score: float | None = None
    iou: float | None = None
    scores: dict[str, float] = field(default_factory=dict)
    image_quality: float = 1.0


@dataclass
class ImageQuality:
    image: str
    img_path: str
    quality: float
    kinds: dict[str, float]  # per-kind pooled quality
    objects: int  # real (non-ignored) ground-truth objects
    ignored: int


@dataclass
class LabelErrors:
    """Every row (highest score first) and every image (lowest quality first) of one set of predictions;
    ``records`` keeps the images' ground truth and predictions (for crops and drafts), by image id."""

    source: str
    settings: Settings
    classes: list[str]
    suspects: list[Suspect]
    images: list[ImageQuality]
    records: dict[str, ImageRecord] = field(default_factory=dict, repr=False)

    def queue(self, min_score: float = 0.0) -> list[Suspect]:
        return [suspect for suspect in self.suspects if suspect.score >= min_score]


def softmin(values: np.ndarray, temperature: float = TEMPERATURE) -> float:
    """ObjectLab's pooling (cleanlab.internal.object_detection_utils.softmin1d): the values averaged with
    weights softmax(-values / temperature), close to their minimum."""
    if values.size == 0:
        return 1.0
    weights = np.exp(-(values - values.min()) / temperature)
    return float(np.dot(weights / weights.sum(), values))


def image_quality(kind_scores: dict[str, list[float]]) -> tuple[float, dict[str, float]]:
    """Pooled quality of one image from each kind's per-object scores (ObjectLab's geometric mean)."""
    per_kind = {kind: softmin(1.0 - np.asarray(kind_scores.get(kind, []), dtype=np.float64))
                for kind in KINDS}
    weight = 1.0 / len(KINDS)
    quality = float(np.exp(sum(weight * np.log(TINY + value) for value in per_kind.values())))
    return quality, per_kind


def restricted(record: ImageRecord, preds: np.ndarray, gts: np.ndarray) -> ImageRecord:
    """The record with only the given predictions and ground-truth objects (index arrays)."""
    return replace(
        record, gt_bboxes=record.gt_bboxes[gts], gt_labels=record.gt_labels[gts],
        gt_ignore=record.gt_ignore[gts],
        gt_masks=None if record.gt_masks is None else [record.gt_masks[i] for i in gts],
        pred_bboxes=record.pred_bboxes[preds], pred_scores=record.pred_scores[preds],
        pred_labels=record.pred_labels[preds],
        pred_masks=None if record.pred_masks is None else [record.pred_masks[i] for i in preds],
        pred_mask_scores=None if record.pred_mask_scores is None else record.pred_mask_scores[preds])


def pair_objects(record: ImageRecord, settings: Settings) -> tuple[dict[int, int], dict[int, int]]:
    """{gt: prediction} paired at tau (the matcher's COCO matching of the confident predictions), and
    {gt: prediction} paired among the rest at PAIR_IOU."""
    first = match_image(record, settings.kind, settings.iou_thr, settings.score_thr)
    at_tau = {int(match_gt): int(match_pred) for match_gt, match_pred
              in zip(first.pred_gt, first.pred_order, strict=True) if match_gt >= 0}
    scores = record.scores_for(settings.kind)
    free_preds = np.array([p for p in range(scores.size) if scores[p] >= settings.score_thr
                           and p not in at_tau.values()], dtype=np.int64)
    free_gts = np.array([g for g in range(record.gt_labels.size)
                         if not record.gt_ignore[g] and g not in at_tau], dtype=np.int64)
    loose = {}
    if free_preds.size and free_gts.size:
        second = match_image(restricted(record, free_preds, free_gts), settings.kind, PAIR_IOU,
                             settings.score_thr)
        loose = {int(free_gts[match_gt]): int(free_preds[order]) for match_gt, order
                 in zip(second.pred_gt, second.pred_order, strict=True) if match_gt >= 0}
    return at_tau, loose


def annotated_share(record: ImageRecord, kind: str, gts: np.ndarray) -> np.ndarray:
    """(P,) share of each prediction lying on the given ground-truth objects, by the matcher's crowd IoU
    (intersection over the prediction's area): for masks against their union (the annotated pixels), for
    boxes against each box alone (a union of boxes covers much of a person standing behind others)."""
    n_pred = record.pred_scores.size
    if not n_pred or not gts.size:
        return np.zeros(n_pred)
    crowd = np.ones(1 if kind == 'segm' else gts.size, dtype=bool)
    if kind == 'segm':
        union = mask_utils.merge([record.gt_masks[g] for g in gts])
        return mask_iou(list(record.pred_masks), [union], crowd)[:, 0]
    return box_iou(record.pred_bboxes, record.gt_bboxes[gts], crowd).max(axis=1)


def pred_pred_iou(record: ImageRecord, kind: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if kind == 'segm':
        return mask_iou([record.pred_masks[i] for i in a], [record.pred_masks[i] for i in b])
    return box_iou(record.pred_bboxes[a], record.pred_bboxes[b])


def score_image(record: ImageRecord, classes: list[str], settings: Settings) -> list[Suspect]:
    """One row per real ground-truth object and per prediction that could be a missing object."""
    scores = np.asarray(record.scores_for(settings.kind), dtype=np.float64)
    n_pred = scores.size
    real = np.nonzero(~record.gt_ignore)[0]
    ignored = np.nonzero(record.gt_ignore)[0]
    ious = (iou_for(record, settings.kind, np.arange(n_pred)) if n_pred and record.gt_labels.size
            else np.zeros((n_pred, record.gt_labels.size)))
    tau, sigma = settings.iou_thr, settings.score_thr
    at_tau, loose = pair_objects(record, settings)
    pairs = {**at_tau, **loose}

    def name(label: int) -> str:
        return classes[label] if 0 <= label < len(classes) else str(label)

    def box(boxes: np.ndarray, index: int) -> list[float]:
        return [round(float(v), 1) for v in boxes[index]]

    rows = []
    coverage = np.minimum(1.0, scores / sigma)[:, None] * np.minimum(1.0, ious / tau)
    for g in real:
        label = int(record.gt_labels[g])
        kind_scores = {'spurious': float(1.0 - coverage[:, g].max(initial=0.0))}
        pair = pairs.get(int(g))
        same_class = np.nonzero((record.pred_labels == label) & (scores >= sigma) & (ious[:, g] > 0))[0]
        located = int(same_class[np.argmax(ious[same_class, g])]) if same_class.size else None
        kind_scores['bad_location'] = (0.0 if located is None
                                       else float(scores[located] * (1.0 - ious[located, g])))
        same = scores[at_tau[int(g)]] if int(g) in at_tau else 0.0
        others = np.nonzero((record.pred_labels != label) & (scores >= sigma) & (ious[:, g] >= tau))[0]
        wrong = others[np.argmax(scores[others])] if others.size else None
        kind_scores['wrong_class'] = float(scores[wrong] * (1.0 - same)) if wrong is not None else 0.0
        kind = max(kind_scores, key=kind_scores.get)
        shown = {'wrong_class': wrong, 'bad_location': located}.get(kind, pair)
        if shown is None and n_pred:  # spurious: show the prediction that overlaps it most, if any
            nearest = int(np.argmax(ious[:, g]))
            shown = nearest if ious[nearest, g] > 0 else None
        rows.append(Suspect(
            image=record.img_id, img_path=record.img_path, kind=kind, score=round(kind_scores[kind], 4),
            label=name(label), object=int(g), prediction=None if shown is None else int(shown),
            suggestion=name(int(record.pred_labels[wrong])) if kind == 'wrong_class' else None,
            gt_box=box(record.gt_bboxes, g),
            pred_box=None if shown is None else box(record.pred_bboxes, shown),
            pred_score=None if shown is None else round(float(scores[shown]), 4),
            iou=None if shown is None else round(float(ious[shown, g]), 4),
            scores={key: round(value, 4) for key, value in kind_scores.items()}))

    paired = set(pairs.values())
    on_ignore = (ious[:, ignored] >= tau).any(axis=1) if ignored.size else np.zeros(n_pred, dtype=bool)
    overlap = ious[:, real].max(axis=1, initial=0.0)
    explained = np.maximum(overlap, annotated_share(record, settings.kind, real))
    candidates = [p for p in np.argsort(-scores, kind='stable') if scores[p] >= sigma and int(p) not in paired
                  and not on_ignore[p] and explained[p] < tau]
    kept: list[int] = []
    for p in candidates:  # of two candidates on one object, the higher-scoring one
        if kept and pred_pred_iou(record, settings.kind, np.array([p]), np.array(kept)).max() >= tau:
            continue
        kept.append(int(p))
        missing = float(scores[p] * (1.0 - overlap[p]))
        rows.append(Suspect(
            image=record.img_id, img_path=record.img_path, kind='missing', score=round(missing, 4),
            label=name(int(record.pred_labels[p])), prediction=int(p),
            suggestion=name(int(record.pred_labels[p])), pred_box=box(record.pred_bboxes, p),
            pred_score=round(float(scores[p]), 4), iou=round(float(overlap[p]), 4),
            scores={'missing': round(missing, 4)}))
    return rows


def find_label_errors(records: list[ImageRecord], classes: list[str], settings: Settings,
                      source: str) -> LabelErrors:
    """Scores every object and image of the records; ``source`` says where the predictions come from."""
    suspects, images = [], []
    for record in records:
        rows = score_image(record, classes, settings)
        per_kind = {kind: [row.scores[kind] for row in rows if kind in row.scores] for kind in KINDS}
        quality, kinds = image_quality(per_kind)
        for row in rows:
            row.image_quality = round(quality, 4)
        suspects += rows
        images.append(ImageQuality(record.img_id, record.img_path, quality, kinds,
                                   int((~record.gt_ignore).sum()), int(record.gt_ignore.sum())))
    suspects.sort(key=lambda row: (-row.score, row.image_quality, row.image))
    images.sort(key=lambda image: (image.quality, image.image))
    return LabelErrors(source, settings, list(classes), suspects, images, {r.img_id: r for r in records})


CSV_COLUMNS = ('rank', 'image', 'object', 'kind', 'score', 'label', 'suggestion', 'gt_box', 'pred_box',
               'pred_score', 'iou', *(f'score_{kind}' for kind in KINDS), 'image_quality', 'img_path')


def queue_csv(rows: list[Suspect]) -> str:
    """The queue as CSV: one row per suspect, boxes as 'x1 y1 x2 y2', empty where a field does not apply."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator='\n')
    writer.writerow(CSV_COLUMNS)
    for rank, row in enumerate(rows, start=1):
        def cell(value):
            if value is None:
                return ''
            return ' '.join(f'{v:g}' for v in value) if isinstance(value, list) else value

        writer.writerow([rank, row.image, cell(row.object), row.kind, row.score, row.label,
                         cell(row.suggestion), cell(row.gt_box), cell(row.pred_box), cell(row.pred_score),
                         cell(row.iou),
                         *(cell(row.scores.get(kind)) for kind in KINDS), row.image_quality, row.img_path])
    return buffer.getvalue()


def queue_json(errors: LabelErrors, rows: list[Suspect]) -> dict:
    return dict(source=errors.source, settings=asdict(errors.settings), classes=errors.classes,
                formulas=__doc__, images=[asdict(image) for image in errors.images],
                suspects=[dict(rank=rank, **asdict(row)) for rank, row in enumerate(rows, start=1)])


def write_queue(errors: LabelErrors, out_dir: Path, min_score: float) -> dict[str, Path]:
    """label_errors.csv and label_errors.json (the rows scoring >= ``min_score``, and every image)."""
    rows = errors.queue(min_score)
    paths = {'csv': out_dir / 'label_errors.csv', 'json': out_dir / 'label_errors.json'}
    write_atomic(paths['csv'], queue_csv(rows).encode('utf-8'))
    write_atomic(paths['json'], (json.dumps(queue_json(errors, rows), indent=1) + '\n').encode('utf-8'))
    return paths


IGNORE_LABEL = '__ignore__'  # labelme's name for an ignore region, which its reader reads back as one


def suggestion_label(row: Suspect) -> str:
    """The label of a suggestion shape: '<kind>?<class>' (the class the model proposes, or the annotation's
    for spurious and bad_location), which no class is named, so a project reader skips it (and counts it)."""
    return f'{row.kind}?{row.suggestion or row.label}'


def correction_drafts(errors: LabelErrors, rows: list[Suspect]) -> tuple[list[DraftImage], tuple[str, ...]]:
    """The queue's images (in queue order) as drafts holding every annotation (its class; ignore regions
    as IGNORE_LABEL; score 1) and, beside them, one suggestion per row of that image (its kind and class in
    the label, the row's score as the score): the prediction's outline, or for spurious the annotation's.
    Masks where masks were compared, boxes otherwise. Returns the drafts and the class names they use."""
    with_masks = errors.settings.kind == 'segm'
    names = list(errors.classes) + [IGNORE_LABEL]
    for row in rows:
        if suggestion_label(row) not in names:
            names.append(suggestion_label(row))
    by_image: dict[str, list[Suspect]] = {}
    for row in rows:
        by_image.setdefault(row.image, []).append(row)
    drafts = []
    for image, image_rows in by_image.items():
        record = errors.records[image]
        shapes = []  # (box, score, label, mask RLE or None)
        for g in range(record.gt_labels.size):
            label = IGNORE_LABEL if record.gt_ignore[g] else errors.classes[int(record.gt_labels[g])]
            shapes.append((record.gt_bboxes[g], 1.0, label, record.gt_masks[g] if with_masks else None))
        for row in image_rows:
            if row.prediction is not None and row.kind != 'spurious':
                rle = record.pred_masks[row.prediction] if with_masks else None
                shapes.append((record.pred_bboxes[row.prediction], row.score, suggestion_label(row), rle))
            else:
                rle = record.gt_masks[row.object] if with_masks else None
                shapes.append((record.gt_bboxes[row.object], row.score, suggestion_label(row), rle))
        masks = np.asarray([mask_utils.decode(rle).astype(bool) for *_, rle in shapes]).reshape(
            -1, record.height, record.width) if with_masks else None
        detections = Detections(np.asarray([box for box, *_ in shapes], np.float32).reshape(-1, 4),
                                np.asarray([score for _, score, _, _ in shapes], np.float32),
                                np.asarray([names.index(label) for _, _, label, _ in shapes], np.int64),
                                masks)
        drafts.append(DraftImage(Path(record.img_path), record.width, record.height, detections))
    return drafts, tuple(names)


DRAFT_TARGETS = {'labelme': 'labelme', 'coco': 'coco/label_review.json',
                 'labelstudio': 'labelstudio/label_review.json', 'via': 'via/label_review.json'}


def write_correction_drafts(errors: LabelErrors, rows: list[Suspect], formats: list[str],
                            out_dir: Path) -> list[Path]:
    """The queue for correction in each labelling tool's format, under ``out_dir/drafts/`` (through the
    data engine's writers, custom/datasets/drafts.py, which never overwrite a file a human may have
    corrected)."""
    drafts, names = correction_drafts(errors, rows)
    written = []
    for fmt in formats:
        written += write_drafts(fmt, drafts, names, out_dir / 'drafts' / DRAFT_TARGETS[fmt],
                                model_version='label review')
    return written
