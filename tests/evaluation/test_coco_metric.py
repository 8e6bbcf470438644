"""PerClassCocoMetric's evaluation backends: faster-coco-eval gives every AP and AR pycocotools gives."""

import copy
import json

import numpy as np
import pycocotools.mask as mask_utils
import pytest
import torch

from custom.errors import ConfigError
from custom.evaluation.coco_metric import PerClassCocoMetric, evaluate_results

W, H = 160, 120  # large enough for COCO's small, medium and large objects
CLASSES = ('person', 'car', 'bicycle')
NO_GT, NO_PREDICTIONS, CROWDED, MANY_DETECTIONS = (0, 1), (2, 3), 4, 5
# File stems as image ids, as the project's sources give them; '7' and '007' are one image to int().
IMAGE_IDS = ('7', '007', 'FudanPed00001', 'img_3', 'img_4', 'img_5', 'img_6', 'img_7', 'img_8')
N_IMAGES = len(IMAGE_IDS)


def ellipse(rng: np.random.Generator) -> np.ndarray:
    ys, xs = np.mgrid[:H, :W]
    rx, ry = np.exp(rng.uniform(np.log(3), np.log(55), 2))
    cx, cy = rng.uniform(rx, W - rx), rng.uniform(ry, H - ry)
    return (((xs - cx) / rx) ** 2 + ((ys - cy) / ry) ** 2 <= 1).astype(np.uint8)


def rectangle(rng: np.random.Generator) -> tuple[list[float], np.ndarray]:
    """A polygon (COCO form) and its mask as pycocotools rasterises it."""
    w, h = rng.uniform(4, 150), rng.uniform(4, 110)
    x, y = rng.uniform(0, W - w), rng.uniform(0, H - h)
    polygon = [x, y, x + w, y, x + w, y + h, x, y + h]
    return polygon, mask_utils.decode(mask_utils.frPyObjects([polygon], H, W))[..., 0]


def extent(mask: np.ndarray) -> list[float]:
    ys, xs = np.nonzero(mask)
    if not xs.size:
        return [0.0] * 4
    return [float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)]


def rle(mask: np.ndarray) -> dict:
    return mask_utils.encode(np.asfortranarray(mask))


def shifted(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return np.roll(mask, tuple(int(v) for v in rng.integers(-2, 3, 2)), axis=(0, 1))


def make_samples(seed: int = 0) -> list[dict]:
    """Data samples as the evaluator hands them to metrics: polygon and RLE ground truth of three classes, a
    crowd region, images without ground truth, images without predictions, one with 120 false detections
    that outscore its true ones."""
    rng = np.random.default_rng(seed)
    samples = []
    for index in range(N_IMAGES):
        instances, pred_masks, pred_labels, scores = [], [], [], []
        for _ in range(0 if index in NO_GT else int(rng.integers(2, 7))):
            label = 0 if index == MANY_DETECTIONS else int(rng.integers(0, len(CLASSES)))
            if rng.random() < 0.5:
                polygon, mask = rectangle(rng)
                instances.append(dict(bbox=extent(mask), bbox_label=label, ignore_flag=0, mask=[polygon]))
            else:
                mask = ellipse(rng)
                instances.append(dict(bbox=extent(mask), bbox_label=label, ignore_flag=0, mask=rle(mask)))
            if rng.random() < 0.8:
                pred_masks.append(shifted(mask, rng))
                pred_labels.append(label if rng.random() < 0.9 else (label + 1) % len(CLASSES))
                # on the crowded image, below its 120 other detections: counted at 1000 per image, not 100
                scores.append(rng.uniform(0.01, 0.04) if index == MANY_DETECTIONS else rng.uniform(0.3, 1))
        if index == CROWDED:
            crowd = np.zeros((H, W), dtype=np.uint8)
            crowd[:, : W // 2] = 1
            instances.append(dict(bbox=[0.0, 0.0, W / 2, H], bbox_label=0, ignore_flag=1, mask=rle(crowd)))
            pred_masks += [ellipse(rng) * crowd for _ in range(3)]
            pred_labels += [0, 0, 1]
            scores += [0.9, 0.8, 0.7]
        extra = 120 if index == MANY_DETECTIONS else 2
        pred_masks += [ellipse(rng) for _ in range(extra)]
        pred_labels += [0] * extra
        scores += list(rng.uniform(0.05, 0.6, extra))
        if index in NO_PREDICTIONS:
            pred_masks, pred_labels, scores = [], [], []
        samples.append(dict(
            img_id=IMAGE_IDS[index], img_path=f'{IMAGE_IDS[index]}.png', ori_shape=(H, W), height=H, width=W,
            instances=instances,
            pred_instances=dict(
                bboxes=torch.tensor([extent(m) for m in pred_masks], dtype=torch.float32).reshape(-1, 4),
                scores=torch.tensor(scores, dtype=torch.float32),
                labels=torch.tensor(pred_labels, dtype=torch.int64),
                masks=torch.from_numpy(np.array(pred_masks, dtype=bool).reshape(-1, H, W)))))
    return samples


def evaluate(backend: str, samples: list[dict], prefix=None, **options) -> dict:
    metric = PerClassCocoMetric(metric=['segm', 'bbox'], ann_file=None, backend=backend,
                                outfile_prefix=prefix and str(prefix), **options)
    metric.dataset_meta = dict(classes=CLASSES)
    metric.process({}, copy.deepcopy(samples))
    return metric.evaluate(len(samples))


@pytest.fixture(scope='module')
def written(tmp_path_factory) -> tuple:
    """The faster backend's metrics, and the ground truth and result files CocoMetric wrote for them."""
    prefix = tmp_path_factory.mktemp('coco') / 'run'
    samples = make_samples()
    return samples, evaluate('faster_coco_eval', samples, prefix, classwise=True), prefix


@pytest.mark.parametrize('iou_type', ['bbox', 'segm'])
def test_faster_coco_eval_gives_pycocotools_numbers_to_1e_4(written, iou_type):
    _, _, prefix = written
    predictions = json.loads(prefix.with_name(f'run.{iou_type}.json').read_text())
    assert len({p['image_id'] for p in predictions}) == N_IMAGES - len(NO_PREDICTIONS)
    fast, reference = (evaluate_results(prefix.with_name('run.gt.json'), predictions, iou_type, backend)
                       for backend in ('faster_coco_eval', 'pycocotools'))
    assert len(fast.stats) == len(reference.stats) == 12
    np.testing.assert_allclose(fast.stats, reference.stats, rtol=0, atol=1e-4)
    for table in ('precision', 'recall'):
        np.testing.assert_allclose(fast.eval[table], reference.eval[table], rtol=0, atol=1e-4)
    # neither trivial nor hopeless; pycocotools' AP counts 100 detections per image, and the 120 of one image
    # make that differ from AP at 1000 (what faster-coco-eval's own summary counts)
    assert 0.1 < reference.stats[0] < 0.9
    precision = reference.eval['precision'][:, :, :, 0, :]
    ap_at_100, ap_at_1000 = (np.mean(precision[..., m][precision[..., m] > -1]) for m in (0, 2))
    assert reference.stats[0] == pytest.approx(ap_at_100) and abs(ap_at_100 - ap_at_1000) > 1e-4


def test_the_metric_reports_the_same_keys_and_values_with_either_backend(written):
    samples, fast, _ = written
    reference = evaluate('pycocotools', samples, classwise=True)
    assert list(fast) == list(reference)
    assert fast == reference
    assert list(fast)[0] == 'coco/segm_mAP' and 'coco/bbox_AP_bicycle' in fast
    assert 0 < fast['coco/segm_mAP'] < 1
    # every size range holds objects (-1: none)
    assert all(fast[f'coco/{kind}_mAP_{size}'] >= 0 for kind in ('bbox', 'segm') for size in 'sml')


def test_no_detection_at_all_gives_ap_zero_where_pycocotools_gives_no_metric():
    samples = make_samples()[:3]
    for sample in samples:
        sample['pred_instances'] = {key: value[:0] for key, value in sample['pred_instances'].items()}
    assert evaluate('pycocotools', samples) == {}
    assert evaluate('faster_coco_eval', samples)['coco/segm_mAP'] == 0.0


def test_unknown_backend_and_mp_eval_without_pycocotools_are_refused():
    with pytest.raises(ConfigError, match="backend must be one of .*'pycocotools'"):
        PerClassCocoMetric(backend='lvis')
    with pytest.raises(ConfigError, match="use_mp_eval.*backend='pycocotools'"):
        PerClassCocoMetric(use_mp_eval=True)
    assert PerClassCocoMetric(use_mp_eval=True, backend='pycocotools').use_mp_eval
