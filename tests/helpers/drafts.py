"""Model-like detections on real images for the draft writers' round trips: the Penn-Fudan masks of a few
images as a mask model's predictions (the real copy where present, else the synthetic demo data), one
person cut in two pieces, and what a project loader read back compared with them."""

import shutil
from pathlib import Path

import numpy as np
import pycocotools.mask as mask_utils

from custom.datasets.drafts import DraftImage
from custom.datasets.pennfudan import LAYOUT, MASK_SUFFIX
from custom.structures.detections import Detections
from custom.structures.masks import mask_extent_box, read_index_png, to_rle
from tests.helpers import REAL_PENNFUDAN
from tests.helpers.source_writers import make_pennfudan

CLASSES = ('person', 'bicycle')
# Two images: FudanPed00001 (2 people) and PennPed00001 (5 people) on the real data.
REAL_STEMS = ('FudanPed00001', 'PennPed00001')


def penn_fudan_source(tmp: Path) -> Path:
    """The real Penn-Fudan copy where present, else a synthetic one written under ``tmp``."""
    return REAL_PENNFUDAN if REAL_PENNFUDAN.is_dir() else make_pennfudan(tmp / 'PennFudanPed')


def cut_in_two(mask: np.ndarray) -> np.ndarray:
    """The mask without a band of rows across its middle: one object in two pieces."""
    ys = np.nonzero(mask.any(axis=1))[0]
    middle, band = (ys[0] + ys[-1]) // 2, max(2, (ys[-1] - ys[0]) // 10)
    cut = mask.copy()
    cut[middle - band:middle + band] = False
    return cut


def mask_drafts(folder: Path, source: Path) -> list[DraftImage]:
    """Two images copied into ``folder/images`` with their Penn-Fudan masks as detections: the first person
    of the first image cut in two pieces, the last person of each image labelled 'bicycle' (so the class is
    checked), scores falling from 0.95."""
    stems = REAL_STEMS if source == REAL_PENNFUDAN else tuple(
        sorted(p.stem for p in (source / LAYOUT['img']).glob('*.png'))[:2])
    drafts = []
    for n, stem in enumerate(stems):
        image = folder / 'images' / f'{stem}.png'
        image.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source / LAYOUT['img'] / f'{stem}.png', image)
        ids = read_index_png(source / LAYOUT['mask'] / f'{stem}{MASK_SUFFIX}', ('L', 'P'), 'an index PNG')
        masks = np.stack([ids == k for k in np.unique(ids) if k])
        if n == 0:
            masks[0] = cut_in_two(masks[0])
        labels = np.zeros(len(masks), dtype=np.int64)
        labels[-1] = 1
        boxes = np.array([mask_extent_box(mask) for mask in masks], dtype=np.float32)
        scores = np.linspace(0.95, 0.5, len(masks)).astype(np.float32)
        height, width = ids.shape
        drafts.append(DraftImage(image, width, height, Detections(boxes, scores, labels, masks)))
    return drafts


def box_drafts(drafts: list[DraftImage]) -> list[DraftImage]:
    """The same detections from a box model (no masks)."""
    return [DraftImage(d.image, d.width, d.height, Detections(d.detections.bboxes, d.detections.scores,
                                                              d.detections.labels)) for d in drafts]


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max(1, (a | b).sum()))


def instance_mask(instance: dict, height: int, width: int) -> np.ndarray:
    """The binary mask of a middle-format instance (polygons or RLE)."""
    return mask_utils.decode(to_rle(instance['mask'], height, width, 'read back')).astype(bool)


def box_error(a, b) -> float:
    """The largest difference between two boxes' coordinates, in pixels."""
    return float(np.abs(np.subtract(a, b)).max())


def assert_same_objects(drafts: list[DraftImage], infos: list[dict], min_iou: float = 0.95) -> None:
    """The loader's images (``infos``, middle format) hold the drafts' objects: same images, count and
    classes, boxes within 1 px and, for masks, IoU >= ``min_iou`` per object (matched by best IoU)."""
    by_name = {Path(info['img_path']).name: info for info in infos}
    assert sorted(by_name) == sorted(d.image.name for d in drafts)
    for draft in drafts:
        info, det = by_name[draft.image.name], draft.detections
        instances = info['instances']
        assert (info['width'], info['height']) == (draft.width, draft.height)
        assert len(instances) == len(det), draft.image.name
        read = [instance_mask(inst, draft.height, draft.width) for inst in instances if det.masks is not None]
        for i in range(len(det)):
            if det.masks is None:
                match = min(instances, key=lambda inst: box_error(inst['bbox'], det.bboxes[i]))
            else:
                ious = [mask_iou(det.masks[i], mask) for mask in read]
                match = instances[int(np.argmax(ious))]
                assert max(ious) >= min_iou, (draft.image.name, i, max(ious))
            assert match['bbox_label'] == det.labels[i]
            assert box_error(match['bbox'], det.bboxes[i]) <= 1, (match['bbox'], det.bboxes[i])
