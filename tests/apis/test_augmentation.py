"""Test-time augmentation over any Detector (custom/apis/augmentation.py): mirror runs mapped back, merged."""

import numpy as np
import pytest

from custom.apis.augmentation import AugmentedDetector, Run, merge_runs
from custom.apis.slicing import SlicedDetector
from custom.structures.detections import Detections
from tests.apis.test_slicing import TILES, as_tuple, blob_image
from tests.helpers.fake_detector import BlobDetector


class LeftHalfDetector(BlobDetector):
    """BlobDetector that misses every blob whose box lies right of the image's middle."""

    def __call__(self, image: np.ndarray, score_thr: float = 0.0) -> Detections:
        found = super().__call__(image, score_thr)
        keep = np.nonzero(found.bboxes[:, 2] <= image.shape[1] / 2)[0]
        return Detections(found.bboxes[keep], found.scores[keep], found.labels[keep], found.masks[keep])


def detections(boxes: list, scores: list, labels: list, masks: list[np.ndarray] | None) -> Detections:
    return Detections(np.array(boxes, np.float32).reshape(-1, 4), np.array(scores, np.float32),
                      np.array(labels, np.int64), None if masks is None else np.array(masks, bool))


def square(x1: int, y1: int, x2: int, y2: int, shape: tuple[int, int] = (40, 60)) -> np.ndarray:
    mask = np.zeros(shape, bool)
    mask[y1:y2, x1:x2] = True
    return mask


def test_the_mirror_run_maps_back_onto_the_image_and_each_object_comes_back_once():
    image, masks = blob_image()
    backend = BlobDetector()
    found = AugmentedDetector([backend])(image)
    assert backend.shapes == [image.shape, image.shape]  # the image, then its mirror image
    direct = backend(image)
    assert len(found) == len(direct) == 3
    # both runs found every object at the same place: the same boxes, masks and scores as one run
    assert as_tuple(found) == as_tuple(direct.top(3))
    expected = [masks[2], masks[0], masks[1]]
    assert all(np.array_equal(got, mask) for got, mask in zip(found.masks, expected, strict=True))


def test_an_object_one_run_misses_gets_half_its_score_and_keeps_its_mask():
    image = np.zeros((40, 60, 3), np.uint8)
    image[10:30, 5:15] = (0, 0, 200)  # left: the image's run finds it, the mirror run (right) does not
    found = AugmentedDetector([LeftHalfDetector()])(image)
    assert found.scores.tolist() == pytest.approx([200 / 255 / 2])
    assert found.bboxes.tolist() == [[5, 10, 15, 30]]
    assert np.array_equal(found.masks[0], square(5, 10, 15, 30))
    # the score threshold applies to the merged score
    assert len(AugmentedDetector([LeftHalfDetector()])(image, score_thr=0.5)) == 0
    nothing = AugmentedDetector([BlobDetector()])(np.zeros((40, 60, 3), np.uint8))
    assert len(nothing) == 0 and nothing.masks.shape == (0, 40, 60)


def test_masks_merge_by_vote_of_the_runs_and_boxes_by_score_weighted_mean():
    shapes = [square(10, 10, 30, 30), square(12, 10, 32, 30), square(10, 12, 30, 32), square(40, 0, 60, 20)]
    runs = [Run(0, False, detections([[10, 10, 30, 30]], [0.8], [0], [shapes[0]])),
            Run(0, True, detections([[12, 10, 32, 30]], [0.4], [0], [shapes[1]])),
            Run(1, False, detections([[10, 12, 30, 32], [40, 0, 60, 20]], [0.4, 0.6], [0, 0], shapes[2:])),
            Run(1, True, detections([], [], [], np.zeros((0, 40, 60), bool)))]
    found = merge_runs(runs, 40, 60)
    assert found.scores.tolist() == pytest.approx([1.6 / 4, 0.6 / 4])  # the 4th run missed both
    votes = shapes[0].astype(int) + shapes[1] + shapes[2]
    assert np.array_equal(found.masks[0], votes >= 2)  # at least half of its 3 members
    assert found.bboxes[0].tolist() == pytest.approx([10.5, 10.5, 30.5, 30.5])  # (0.8, 0.4, 0.4)-weighted
    assert np.array_equal(found.masks[1], shapes[3])  # its one member's
    assert found.bboxes[1].tolist() == [40, 0, 60, 20]


def test_different_classes_and_detections_of_one_run_never_merge():
    mask = square(10, 10, 30, 30)
    runs = [Run(0, False, detections([[10, 10, 30, 30]] * 2, [0.9, 0.5], [0, 0], [mask, mask])),
            Run(0, True, detections([[10, 10, 30, 30]] * 2, [0.8, 0.7], [1, 0], [mask, mask]))]
    found = merge_runs(runs, 40, 60)
    # the 0.9 joins the 0.7 of its class; the other run's 0.8 is of another class; the 0.5 has no partner left
    assert found.scores.tolist() == pytest.approx([0.8, 0.4, 0.25])
    assert found.labels.tolist() == [0, 1, 0]


def test_box_only_detections_merge_by_box_iou():
    runs = [Run(0, False, detections([[0, 0, 10, 10]], [0.6], [0], None)),
            Run(0, True, detections([[1, 0, 11, 10], [30, 30, 40, 40]], [0.6, 0.5], [0, 0], None))]
    found = merge_runs(runs, 40, 60)
    assert found.masks is None
    assert found.scores.tolist() == pytest.approx([0.6, 0.25])
    assert found.bboxes.tolist() == [[0.5, 0, 10.5, 10], [30, 30, 40, 40]]


def test_sliced_inference_with_tta_still_joins_an_object_cut_by_tile_borders():
    image, masks = blob_image()
    found = SlicedDetector(AugmentedDetector([BlobDetector()]), TILES)(image)
    assert len(found) == 3
    assert np.array_equal(found.masks[1], masks[0])  # the L shape across several tiles, whole
