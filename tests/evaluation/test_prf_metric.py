"""PrecisionRecallMetric, its matching core, and agreement of mmdet's CocoMetric with pycocotools."""

import copy
import json

import numpy as np
import pytest
import torch
from mmdet.evaluation import CocoMetric
from mmdet.registry import METRICS
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from custom.evaluation import PrecisionRecallMetric
from custom.evaluation.matching import ImageRecord, box_iou, match_image, pr_curve
from custom.evaluation.records import record_from_sample
from custom.structures.masks import mask_extent_box, mask_to_rle

torch.set_num_threads(1)
H, W = 64, 80


def rect_mask(x1: int, y1: int, x2: int, y2: int) -> np.ndarray:
    mask = np.zeros((H, W), dtype=np.uint8)
    mask[y1:y2, x1:x2] = 1
    return mask


def blob_mask(cx: int, cy: int, rx: int, ry: int) -> np.ndarray:
    ys, xs = np.mgrid[:H, :W]
    return (((xs - cx) / rx) ** 2 + ((ys - cy) / ry) ** 2 <= 1).astype(np.uint8)


def gt_instance(mask: np.ndarray, label: int = 0, ignore: int = 0) -> dict:
    return dict(bbox=mask_extent_box(mask), bbox_label=label, ignore_flag=ignore, mask=mask_to_rle(mask))


def sample(
    img_id: str,
    gt: list[dict],
    masks: list[np.ndarray],
    scores: list[float],
    labels: list[int] | None = None,
    boxes: list[list[float]] | None = None,
) -> dict:
    """A data sample as the evaluator hands it to metrics (tensors, masks at original size)."""
    boxes = boxes if boxes is not None else [mask_extent_box(m) for m in masks]
    return dict(
        img_id=img_id,
        img_path=f'{img_id}.png',
        ori_shape=(H, W),
        instances=gt,
        pred_instances=dict(
            bboxes=torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
            scores=torch.tensor(scores, dtype=torch.float32),
            labels=torch.tensor(labels if labels is not None else [0] * len(masks), dtype=torch.int64),
            masks=torch.from_numpy(np.stack(masks).astype(bool))
            if masks
            else torch.zeros((0, H, W), dtype=bool),
        ),
    )


def run_metric(metric, samples: list[dict], classes=('pedestrian',)) -> dict:
    metric.dataset_meta = dict(classes=classes)
    metric.process({}, copy.deepcopy(samples))
    return metric.evaluate(len(samples))


def prf(**kwargs) -> PrecisionRecallMetric:
    return PrecisionRecallMetric(**kwargs)


@pytest.fixture
def perfect_samples() -> list[dict]:
    masks_a = [blob_mask(20, 30, 10, 20), rect_mask(45, 10, 70, 60)]
    masks_b = [blob_mask(40, 32, 25, 15)]
    return [
        sample('img_a', [gt_instance(m) for m in masks_a], masks_a, [0.9, 0.8]),
        sample('img_b', [gt_instance(m) for m in masks_b], masks_b, [0.95]),
    ]


def test_metric_is_registered_and_builds_from_config_dict():
    metric = METRICS.build(dict(type='PrecisionRecallMetric', metric='segm', iou_thrs=0.75, score_thr=0.3))
    assert isinstance(metric, PrecisionRecallMetric)
    assert metric.kinds == ['segm'] and metric.iou_thrs == [0.75] and metric.score_thr == 0.3


def test_unknown_metric_kind_is_rejected():
    with pytest.raises(ValueError, match='metric must be among'):
        PrecisionRecallMetric(metric='keypoints')


def test_perfect_predictions_give_ones_and_coco_ap_of_one(perfect_samples, tmp_path):
    values = run_metric(prf(), perfect_samples)
    for kind in ('bbox', 'segm'):
        for name in ('precision', 'recall', 'f1'):
            assert values[f'pr/{kind}_{name}@0.5'] == 1.0
            assert values[f'pr/pedestrian_{kind}_{name}@0.5'] == 1.0
    assert values['pr/segm_mask_iou'] == pytest.approx(1.0)
    assert values['pr/segm_dice'] == pytest.approx(1.0)

    coco = CocoMetric(metric=['bbox', 'segm'], ann_file=None, outfile_prefix=str(tmp_path / 'coco'))
    coco_values = run_metric(coco, perfect_samples)
    assert coco_values['coco/bbox_mAP'] == 1.0
    assert coco_values['coco/segm_mAP'] == 1.0


def test_hand_built_case_gives_exact_tp_fp_fn_ratios():
    gt_a, gt_b, gt_c = rect_mask(0, 0, 20, 20), rect_mask(30, 0, 50, 20), rect_mask(0, 30, 20, 50)
    preds = [
        rect_mask(0, 0, 20, 20),  # on A: TP
        rect_mask(1, 0, 20, 20),  # duplicate on A: FP
        rect_mask(30, 0, 50, 8),  # on B with IoU 0.4: FP at 0.5, TP at 0.3
        rect_mask(60, 40, 70, 50),  # on nothing: FP
    ]
    data = [sample('img', [gt_instance(m) for m in (gt_a, gt_b, gt_c)], preds, [0.9, 0.8, 0.75, 0.7])]
    values = run_metric(prf(iou_thrs=(0.3, 0.5)), data)
    for kind in ('bbox', 'segm'):
        # IoU 0.5: TP 1, FP 3, FN 2
        assert values[f'pr/{kind}_precision@0.5'] == pytest.approx(1 / 4)
        assert values[f'pr/{kind}_recall@0.5'] == pytest.approx(1 / 3)
        assert values[f'pr/{kind}_f1@0.5'] == pytest.approx(2 / 7)
        # IoU 0.3: TP 2, FP 2, FN 1
        assert values[f'pr/{kind}_precision@0.3'] == pytest.approx(2 / 4)
        assert values[f'pr/{kind}_recall@0.3'] == pytest.approx(2 / 3)
        assert values[f'pr/{kind}_f1@0.3'] == pytest.approx(4 / 7)


def test_wrong_class_counts_as_fp_for_that_class_and_fn_for_the_true_one():
    gt = [gt_instance(rect_mask(0, 0, 20, 20), label=0), gt_instance(rect_mask(30, 0, 50, 20), label=1)]
    preds = [rect_mask(0, 0, 20, 20), rect_mask(30, 0, 50, 20)]
    data = [sample('img', gt, preds, [0.9, 0.9], labels=[0, 0])]
    values = run_metric(prf(metric='bbox'), data, classes=('pedestrian', 'cyclist'))
    assert values['pr/pedestrian_bbox_precision@0.5'] == pytest.approx(0.5)
    assert values['pr/pedestrian_bbox_recall@0.5'] == 1.0
    assert values['pr/cyclist_bbox_recall@0.5'] == 0.0
    assert values['pr/cyclist_bbox_precision@0.5'] == 0.0  # no predictions but a missed GT
    assert values['pr/bbox_recall@0.5'] == pytest.approx(0.5)
    assert not any(key.startswith('pr/segm') for key in values)


def test_score_threshold_drops_low_scoring_predictions():
    gt = [gt_instance(rect_mask(0, 0, 20, 20)), gt_instance(rect_mask(30, 0, 50, 20))]
    preds = [rect_mask(0, 0, 20, 20), rect_mask(30, 0, 50, 20), rect_mask(60, 30, 75, 60)]
    data = [sample('img', gt, preds, [0.9, 0.4, 0.3])]  # TP, low-scoring TP, low-scoring FP
    low = run_metric(prf(metric='bbox', score_thr=0.25), data)
    high = run_metric(prf(metric='bbox', score_thr=0.5), data)
    assert (low['pr/bbox_precision@0.5'], low['pr/bbox_recall@0.5']) == pytest.approx((2 / 3, 1.0))
    assert (high['pr/bbox_precision@0.5'], high['pr/bbox_recall@0.5']) == pytest.approx((1.0, 0.5))


def test_ignored_gt_is_neither_fn_nor_makes_its_predictions_fp():
    crowd = rect_mask(40, 10, 80, 64)
    gt = [
        gt_instance(rect_mask(0, 0, 20, 20)),
        gt_instance(crowd, ignore=1),
        gt_instance(rect_mask(0, 40, 20, 60), ignore=1),
    ]
    # A TP, then a small prediction inside the crowd region: its plain IoU is small, but it lies inside.
    preds = [rect_mask(0, 0, 20, 20), rect_mask(50, 20, 60, 40)]
    data = [sample('img', gt, preds, [0.9, 0.8])]
    values = run_metric(prf(), data)
    for kind in ('bbox', 'segm'):
        assert values[f'pr/{kind}_precision@0.5'] == 1.0
        assert values[f'pr/{kind}_recall@0.5'] == 1.0

    unflagged = copy.deepcopy(data)
    for instance in unflagged[0]['instances']:
        instance['ignore_flag'] = 0
    values = run_metric(prf(metric='bbox'), unflagged)
    assert values['pr/bbox_precision@0.5'] == pytest.approx(0.5)
    assert values['pr/bbox_recall@0.5'] == pytest.approx(1 / 3)


def test_mask_iou_and_dice_are_the_means_over_matched_pairs():
    gt_masks = [rect_mask(0, 0, 20, 40), blob_mask(55, 30, 15, 20)]
    pred_masks = [rect_mask(0, 4, 20, 40), blob_mask(57, 31, 15, 19), rect_mask(30, 50, 40, 60)]
    data = [sample('img', [gt_instance(m) for m in gt_masks], pred_masks, [0.9, 0.8, 0.7])]
    values = run_metric(prf(metric='segm'), data)

    def iou(a, b):
        return np.logical_and(a, b).sum() / np.logical_or(a, b).sum()

    def dice(a, b):
        return 2 * np.logical_and(a, b).sum() / (a.sum() + b.sum())

    pairs = list(zip(gt_masks, pred_masks[:2], strict=True))
    assert values['pr/segm_mask_iou'] == pytest.approx(np.mean([iou(g, p) for g, p in pairs]))
    assert values['pr/segm_dice'] == pytest.approx(np.mean([dice(g, p) for g, p in pairs]))
    assert values['pr/segm_precision@0.5'] == pytest.approx(2 / 3)


def test_higher_scoring_prediction_claims_the_gt_first():
    record = ImageRecord(
        img_id='x',
        gt_bboxes=np.array([[0, 0, 10, 10]]),
        gt_labels=np.array([0]),
        gt_ignore=np.array([False]),
        pred_bboxes=np.array([[0, 0, 10, 10], [0, 0, 10, 6]]),
        pred_scores=np.array([0.3, 0.9]),
        pred_labels=np.array([0, 0]),
    )
    match = match_image(record, 'bbox', 0.5)
    assert match.pred_order.tolist() == [1, 0]
    assert match.pred_tp.tolist() == [True, False]
    assert match.pred_iou[0] == pytest.approx(0.6)


def test_box_iou_uses_exclusive_corners_and_crowd_columns():
    ious = box_iou(
        np.array([[0, 0, 10, 10]]),
        np.array([[5, 0, 15, 10], [0, 0, 100, 100]]),
        crowd_b=np.array([False, True]),
    )
    assert ious[0, 0] == pytest.approx(50 / 150)
    assert ious[0, 1] == pytest.approx(1.0)


def test_missing_ground_truth_names_the_image():
    data = sample('img', [], [rect_mask(0, 0, 5, 5)], [0.9])
    del data['instances']
    with pytest.raises(ValueError, match="img.png: .*'instances'"):
        record_from_sample(data, with_masks=False)


def _coco_json_direct(samples: list[dict]) -> tuple[dict, list[dict], list[dict]]:
    """GT and result json built here from the samples, independently of CocoMetric's conversion."""
    images, annotations, boxes, segms = [], [], [], []
    for s in samples:
        images.append(dict(id=s['img_id'], width=W, height=H, file_name=s['img_path']))
        for inst in s['instances']:
            x1, y1, x2, y2 = inst['bbox']
            annotations.append(
                dict(
                    id=len(annotations) + 1,
                    image_id=s['img_id'],
                    category_id=0,
                    iscrowd=0,
                    bbox=[x1, y1, x2 - x1, y2 - y1],
                    area=(x2 - x1) * (y2 - y1),
                    segmentation=inst['mask'],
                )
            )
        pred = s['pred_instances']
        for box, score, mask in zip(
            pred['bboxes'].tolist(), pred['scores'].tolist(), pred['masks'].numpy(), strict=True
        ):
            x1, y1, x2, y2 = box
            common = dict(image_id=s['img_id'], category_id=0, score=score)
            boxes.append(dict(common, bbox=[x1, y1, x2 - x1, y2 - y1]))
            segms.append(dict(common, segmentation=mask_to_rle(mask)))
    gt = dict(images=images, annotations=annotations, categories=[dict(id=0, name='pedestrian')])
    return gt, boxes, segms


def _cocoeval_stats(gt_file, results: list[dict], iou_type: str) -> np.ndarray:
    coco_gt = COCO(str(gt_file))
    evaluator = COCOeval(coco_gt, coco_gt.loadRes(results), iou_type)
    evaluator.evaluate()
    evaluator.accumulate()
    evaluator.summarize()
    return evaluator.stats


def test_coco_metric_ap_equals_pycocotools_and_pr_curve_ap50(tmp_path):
    gt_a = [blob_mask(15, 20, 10, 15), rect_mask(40, 5, 60, 45), rect_mask(62, 30, 78, 62)]
    gt_b = [blob_mask(30, 30, 20, 12), rect_mask(60, 0, 75, 20)]
    samples = [
        sample(
            'img_a',
            [gt_instance(m) for m in gt_a],
            [blob_mask(16, 21, 10, 14), rect_mask(42, 8, 60, 45), rect_mask(0, 50, 30, 64)],
            [0.92, 0.61, 0.83],
        ),
        sample(
            'img_b',
            [gt_instance(m) for m in gt_b],
            [blob_mask(30, 30, 20, 12), rect_mask(60, 0, 70, 20), rect_mask(58, 2, 75, 22)],
            [0.55, 0.74, 0.47],
        ),
    ]
    coco = CocoMetric(metric=['bbox', 'segm'], ann_file=None, outfile_prefix=str(tmp_path / 'coco'))
    coco_values = run_metric(coco, samples)

    gt_json, box_results, segm_results = _coco_json_direct(samples)
    gt_file = tmp_path / 'direct_gt.json'
    gt_file.write_text(json.dumps(gt_json))
    bbox_stats = _cocoeval_stats(gt_file, box_results, 'bbox')
    segm_stats = _cocoeval_stats(gt_file, segm_results, 'segm')
    assert 0 < bbox_stats[0] < 1 and 0 < segm_stats[0] < 1  # a case that is neither trivial nor hopeless
    assert coco_values['coco/bbox_mAP'] == pytest.approx(round(bbox_stats[0], 3))
    assert coco_values['coco/bbox_mAP_50'] == pytest.approx(round(bbox_stats[1], 3))
    assert coco_values['coco/segm_mAP'] == pytest.approx(round(segm_stats[0], 3))
    assert coco_values['coco/segm_mAP_75'] == pytest.approx(round(segm_stats[2], 3))

    # The matching core reproduces COCO's AP@0.5 through its PR curve.
    records = [record_from_sample(s, with_masks=True) for s in samples]
    for kind, stats in (('bbox', bbox_stats), ('segm', segm_stats)):
        curve = pr_curve([match_image(r, kind, 0.5) for r in records])
        assert curve.ap == pytest.approx(stats[1], abs=1e-9)


def test_metric_runs_next_to_coco_metric_in_one_evaluator_on_det_data_samples(perfect_samples, tmp_path):
    """The config form ``val_evaluator = [CocoMetric, PrecisionRecallMetric]`` on DetDataSamples."""
    from mmdet.structures import DetDataSample
    from mmengine.evaluator import Evaluator
    from mmengine.registry import init_default_scope
    from mmengine.structures import InstanceData

    init_default_scope('mmdet')
    evaluator = Evaluator(
        [
            dict(
                type='CocoMetric', metric=['bbox', 'segm'], ann_file=None, outfile_prefix=str(tmp_path / 'c')
            ),
            dict(type='PrecisionRecallMetric', metric=['bbox', 'segm']),
        ]
    )
    evaluator.dataset_meta = dict(classes=('pedestrian',))
    batch = []
    for s in perfect_samples:
        data_sample = DetDataSample(
            metainfo=dict(
                img_id=s['img_id'], img_path=s['img_path'], ori_shape=s['ori_shape'], instances=s['instances']
            )
        )
        data_sample.pred_instances = InstanceData(**s['pred_instances'])
        batch.append(data_sample)
    evaluator.process(batch)
    values = evaluator.evaluate(len(batch))
    assert values['coco/segm_mAP'] == 1.0
    assert values['pr/segm_f1@0.5'] == 1.0
    assert values['pr/pedestrian_bbox_recall@0.5'] == 1.0


def test_per_class_ap50_of_the_matcher_equals_cocoeval_and_the_pooled_curve_is_not_their_mean(tmp_path):
    # Two classes, two images; image b holds an ignored (crowd) person with a detection on it.
    gt = {'a': [([2, 2, 30, 40], 0, 0), ([40, 5, 60, 45], 0, 0), ([50, 40, 78, 60], 1, 0)],
          'b': [([5, 5, 25, 50], 0, 0), ([30, 10, 50, 30], 1, 0), ([55, 5, 78, 55], 0, 1)]}
    preds = {'a': [([3, 2, 30, 38], 0.9, 0), ([41, 8, 60, 45], 0.35, 0), ([0, 45, 30, 64], 0.8, 0),
                   ([50, 42, 78, 60], 0.6, 1), ([40, 5, 60, 45], 0.7, 1)],
             'b': [([5, 5, 24, 48], 0.5, 0), ([56, 6, 78, 52], 0.95, 0), ([31, 10, 50, 31], 0.3, 1),
                   ([0, 0, 10, 10], 0.65, 1)]}
    images = [dict(id=i, width=W, height=H, file_name=f'{name}.png') for i, name in enumerate(gt)]
    annotations = [dict(id=len(gt[name]) * i + j + 1, image_id=i, category_id=label, iscrowd=crowd,
                        bbox=[x1, y1, x2 - x1, y2 - y1], area=(x2 - x1) * (y2 - y1))
                   for i, name in enumerate(gt)
                   for j, ((x1, y1, x2, y2), label, crowd) in enumerate(gt[name])]
    results = [dict(image_id=i, category_id=label, score=score, bbox=[x1, y1, x2 - x1, y2 - y1])
               for i, name in enumerate(preds) for (x1, y1, x2, y2), score, label in preds[name]]
    gt_file = tmp_path / 'gt.json'
    gt_file.write_text(json.dumps(dict(images=images, annotations=annotations,
                                       categories=[dict(id=0, name='person'), dict(id=1, name='car')])))
    coco_gt = COCO(str(gt_file))
    evaluator = COCOeval(coco_gt, coco_gt.loadRes(results), 'bbox')
    evaluator.evaluate()
    evaluator.accumulate()
    # precision[iou 0.5, recall thresholds, class, area 'all', maxDets 100]; -1 where a class has no GT.
    coco_ap50 = [float(evaluator.eval['precision'][0, :, k, 0, 2].mean()) for k in (0, 1)]

    records = [ImageRecord(img_id=name, gt_bboxes=np.array([g[0] for g in gt[name]], dtype=float),
                           gt_labels=np.array([g[1] for g in gt[name]]),
                           gt_ignore=np.array([bool(g[2]) for g in gt[name]]),
                           pred_bboxes=np.array([p[0] for p in preds[name]], dtype=float),
                           pred_scores=np.array([p[1] for p in preds[name]]),
                           pred_labels=np.array([p[2] for p in preds[name]])) for name in gt]
    matches = [match_image(r, 'bbox', 0.5) for r in records]
    ours = [pr_curve(matches, label).ap for label in (0, 1)]
    assert 0 < min(coco_ap50) and max(coco_ap50) < 1 and coco_ap50[0] != coco_ap50[1]
    assert ours == pytest.approx(coco_ap50, abs=1e-12)
    pooled = pr_curve(matches).ap
    assert pooled != pytest.approx(np.mean(coco_ap50), abs=1e-3)  # hence the plot's "all classes pooled"


def test_per_class_coco_metric_lists_the_means_first_then_each_class_ap_per_iou_type(tmp_path):
    from custom.evaluation import PerClassCocoMetric

    # Class 0 is found perfectly, class 1 (the second object of img_a) is missed.
    masks = [blob_mask(20, 30, 10, 20), rect_mask(45, 10, 70, 60)]
    gt = [gt_instance(masks[0], label=0), gt_instance(masks[1], label=1)]
    samples = [sample('img_a', gt, masks[:1], [0.9], labels=[0])]
    metric = PerClassCocoMetric(metric=['segm', 'bbox'], ann_file=None, classwise=True,
                                outfile_prefix=str(tmp_path / 'coco'))
    values = run_metric(metric, samples, classes=('person', 'car'))
    keys = list(values)
    assert keys[0] == 'coco/segm_mAP'  # what save_best='auto' and early stopping judge by
    assert keys[-4:] == ['coco/segm_AP_person', 'coco/segm_AP_car', 'coco/bbox_AP_person', 'coco/bbox_AP_car']
    assert values['coco/segm_AP_person'] == values['coco/bbox_AP_person'] == 1.0
    assert values['coco/segm_AP_car'] == values['coco/bbox_AP_car'] == 0.0
    assert values['coco/segm_mAP'] == pytest.approx(0.5)
    # One class: its AP is the mean, so no per-class entries.
    single = PerClassCocoMetric(metric=['bbox'], ann_file=None, classwise=True)
    values = run_metric(single, [sample('img_a', gt[:1], masks[:1], [0.9])], classes=('person',))
    assert not [key for key in values if '_AP_' in key] and values['coco/bbox_mAP'] == 1.0
