"""Sliced inference over any Detector (custom/apis/slicing.py): tiles, batches, merging across borders."""

import numpy as np
import pytest

from custom.apis.slicing import Piece, SlicedDetector, SliceSettings, merge_pieces
from custom.structures.detections import Detections
from custom.structures.tiles import TileSize
from tests.helpers.fake_detector import BatchBlobDetector, BlobDetector

TILES = SliceSettings(TileSize(64, 64), overlap=0.25, batch_size=4)  # 160x120: 3 x 3 tiles (stride 48)


def blob_image(width: int = 160, height: int = 120) -> tuple[np.ndarray, list[np.ndarray]]:
    """A BGR image with three blobs for BlobDetector, and their masks: an L-shape across tile borders
    (score 0.8, class 0), a small square inside one tile (0.6, class 1) and a bar of class 1 across a border
    (0.9)."""
    image = np.zeros((height, width, 3), np.uint8)
    masks = [np.zeros((height, width), bool) for _ in range(3)]
    masks[0][30:100, 40:60] = True  # through the borders at y 48/64 and x 48
    masks[0][80:100, 40:130] = True
    masks[1][5:15, 5:15] = True
    masks[2][10:20, 100:150] = True
    for mask, (red, green) in zip(masks, [(204, 0), (153, 1), (230, 1)], strict=True):
        image[mask] = (0, green, red)
    return image, masks


def as_tuple(found: Detections) -> tuple:
    return found.bboxes.tolist(), found.scores.tolist(), found.labels.tolist(), found.masks.tolist()


def test_an_object_cut_by_tile_borders_comes_back_as_one_object_with_one_mask():
    image, masks = blob_image()
    sliced = SlicedDetector(BlobDetector(), TILES)
    pieces = sliced.pieces(image)
    assert len(pieces) == 9
    assert sum(len(piece.detections) for piece in pieces) > 10  # the L and the bar found cut, in many tiles
    found = sliced(image)
    assert len(found) == 3
    # best first, each object with its own score
    assert found.scores.tolist() == pytest.approx([230 / 255, 204 / 255, 153 / 255])
    assert found.labels.tolist() == [1, 0, 1]
    for got, mask in zip(found.masks, [masks[2], masks[0], masks[1]], strict=True):
        assert np.array_equal(got, mask)  # the union of the pieces is the whole object, nothing more
    assert found.bboxes.tolist() == [[100, 10, 150, 20], [40, 30, 130, 100], [5, 5, 15, 15]]


def test_an_image_smaller_than_a_tile_runs_once_as_it_is():
    image, _ = blob_image(60, 50)
    backend = BlobDetector()
    found = SlicedDetector(backend, SliceSettings(TileSize(64, 64), full_pass=True))(image)
    assert backend.shapes == [(50, 60, 3)]  # one tile, the image itself, and no second full pass
    direct = BlobDetector()(image)
    assert as_tuple(found) == as_tuple(direct.top(len(direct)))  # the same detections, best first


def test_merging_is_the_same_whichever_backend_and_batch():
    """SlicedDetector only uses the Detector protocol: a backend that runs tiles one by one (ONNX Runtime,
    OpenVINO) and one that takes batches (PyTorch) give the same merged detections for the same tiles."""
    image, _ = blob_image()
    one_by_one = BlobDetector()
    batched = BatchBlobDetector()
    expected = as_tuple(SlicedDetector(one_by_one, TILES)(image))
    assert as_tuple(SlicedDetector(batched, TILES)(image)) == expected
    assert batched.batches == [4, 4] and len(batched.shapes) == len(one_by_one.shapes) == 9
    single = BatchBlobDetector()
    assert as_tuple(SlicedDetector(single, SliceSettings(TILES.tile, TILES.overlap, batch_size=1))(image)) \
        == expected
    assert single.batches == []  # batches of one go through __call__


def test_full_pass_adds_what_no_tile_holds_and_merges_with_the_tiles():
    image, _ = blob_image()
    image[60:118, 2:30] = (0, 0, 100)  # taller than a tile and spread over 3 rows of tiles: score 100/255
    backend = BlobDetector()
    found = SlicedDetector(backend, SliceSettings(TILES.tile, TILES.overlap, full_pass=True))(image)
    assert backend.shapes[-1] == image.shape  # the full pass came last, on the whole image
    assert len(found) == 4
    tall = found.masks[found.scores.tolist().index(pytest.approx(100 / 255))]
    assert tall.sum() == 58 * 28 and tall[60:118, 2:30].all()


def piece(tile, boxes, scores, labels=None, size=(64, 64)) -> Piece:
    masks = np.zeros((len(boxes), size[1], size[0]), bool)
    for mask, (x1, y1, x2, y2) in zip(masks, boxes, strict=True):
        mask[y1:y2, x1:x2] = True
    labels = labels or [0] * len(boxes)
    return Piece(tile, Detections(np.array(boxes, np.float32).reshape(-1, 4), np.array(scores, np.float32),
                                  np.array(labels, np.int64), masks))


def test_pieces_are_compared_where_their_tiles_overlap_by_ios_or_iou():
    # tile A holds the whole object (x 10-50); tile B (from x 40) found only x 46-50 of its end x 40-50.
    # Where the tiles overlap (x 40-64) the piece lies inside the object: IoS 1, IoU 0.4.
    pieces = [piece((0, 0, 64, 64), [(10, 10, 50, 60)], [0.9]),
              piece((40, 0, 104, 64), [(6, 10, 10, 60)], [0.7])]
    merged = merge_pieces(pieces, 64, 104, SliceSettings(TileSize(64, 64), match_metric='ios'))
    assert len(merged) == 1 and merged.bboxes.tolist() == [[10, 10, 50, 60]]
    assert len(merge_pieces(pieces, 64, 104, SliceSettings(TileSize(64, 64), match_metric='iou'))) == 2


def test_detections_of_one_tile_or_of_other_classes_are_never_merged():
    # a person standing before another: the model separated them, merging must not join them again
    nested = [piece((0, 0, 64, 64), [(10, 10, 50, 60), (20, 20, 40, 50)], [0.9, 0.8])]
    assert len(merge_pieces(nested, 64, 64, TILES)) == 2
    two_classes = [piece((0, 0, 64, 64), [(10, 10, 50, 60)], [0.9], [0]),
                   piece((40, 0, 104, 64), [(0, 10, 10, 60)], [0.7], [1])]
    assert merge_pieces(two_classes, 64, 104, TILES).labels.tolist() == [0, 1]
    agnostic = SliceSettings(TILES.tile, TILES.overlap, class_agnostic=True)
    assert merge_pieces(two_classes, 64, 104, agnostic).labels.tolist() == [0]


def test_no_detections_anywhere_give_empty_detections_with_masks_of_the_image_size():
    image = np.zeros((120, 160, 3), np.uint8)
    found = SlicedDetector(BlobDetector(), TILES)(image)
    assert len(found) == 0 and found.masks.shape == (0, 120, 160) and found.bboxes.shape == (0, 4)


def test_two_objects_side_by_side_across_a_border_stay_two():
    # two people 2 px apart, both cut by the borders at x 48 and 64 (tiles from x 0, 48 and 96)
    image = np.zeros((120, 160, 3), np.uint8)
    image[20:90, 40:55] = (0, 0, 200)
    image[20:90, 57:75] = (0, 0, 180)
    found = SlicedDetector(BlobDetector(), TILES)(image)
    assert len(found) == 2
    assert found.bboxes.tolist() == [[40, 20, 55, 90], [57, 20, 75, 90]]
    assert [int(mask.sum()) for mask in found.masks] == [70 * 15, 70 * 18]
