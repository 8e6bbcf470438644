"""Sliced inference (SAHI) over any detector of the ``Detector`` protocol: small objects in big images.

``SlicedDetector(detector, SliceSettings(...))`` is itself a ``Detector``, so every backend (PyTorch,
ONNX Runtime, OpenVINO, and any added later) gets slicing through this one code path, and so does every tool
that runs a detector. An image is cut along the tile grid of custom/structures/tiles.py (SAHI's
``get_slice_bboxes``: an image smaller than a tile is one tile, the image itself, and its detections come
back as the backend gave them, best first); tiles run in batches of ``batch_size`` where the backend has
``detect_batch`` (PyTorchDetector), else one by one (batches cost more per image on the CPU, measured in
docs/serving.md#micro-batching, so the default is 1); an optional full-image pass adds the large objects no
tile holds whole. Each tile's detections are shifted into image coordinates and merged across tile borders:
greedy non-maximum merging, the most alike pair first, with IoS (intersection over the smaller) or IoU. A
merged object's mask is the union of its pieces' masks, its box the union of their boxes (the extent of the
whole object; an unmerged detection keeps the model's box, which fits better than its coarse mask's extent:
box AP 0.473 against 0.309 with the extent, docs/sliced_inference.md), its score the highest of its
pieces', its class that piece's.

The grid is SAHI's; the merging is the project's, for three reasons:

- SAHI's GREEDYNMM compares whole boxes, and only with the best detection of a group: an object larger than
  the tile overlap is cut into pieces none of which holds it whole, and the pieces of a 2 x 2 cut (or an L
  shape) overlap too little to join the best one. Here two detections of different tiles are compared only
  where their tiles overlap (their masks there, else their boxes clipped there), where both saw the same
  pixels of the same object, and pairs join transitively.
- Detections of one tile never merge with each other: the model's own NMS already told them apart (one
  person standing in front of another, whose box lies inside the first's, would merge by IoS).
- SAHI's ``ObjectPrediction`` keeps a full-image mask per detection of every tile (30 tiles of 100
  detections in a 1280x960 image are 3.7 GB) and merges masks through shapely polygons. Here a tile's masks
  stay tile-sized until the merge, and only the ``max_detections`` best objects get a full-image bool mask,
  the project's ``Detections``.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from custom.errors import ConfigError
from custom.structures.detections import Detections
from custom.structures.tiles import DEFAULT_OVERLAP, TileSize, check_overlap, tile_boxes

MATCH_METRICS = ('ios', 'iou')
Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class SliceSettings:
    """How ``SlicedDetector`` cuts and merges; the defaults are SAHI's (overlap 0.2, IoS 0.5, per class)."""

    tile: TileSize
    overlap: float = DEFAULT_OVERLAP
    full_pass: bool = False
    match_metric: str = 'ios'
    match_threshold: float = 0.5
    class_agnostic: bool = False
    batch_size: int = 1  # tiles per backend call where it takes batches (on a GPU; docs/sliced_inference.md)
    max_detections: int = 100  # merged objects kept per image, best first (COCO's maxDets)

    def __post_init__(self) -> None:
        check_overlap(self.overlap)
        if self.match_metric not in MATCH_METRICS:
            raise ConfigError(f'the match metric is one of {MATCH_METRICS}, got {self.match_metric!r}')
        if not 0 < self.match_threshold <= 1 or self.batch_size < 1 or self.max_detections < 1:
            raise ConfigError('match_threshold is in (0, 1], batch_size and max_detections at least 1')

    def summary(self) -> dict:
        """What a results file or GET /model says about the slicing."""
        return {'tile': list(self.tile), 'overlap': self.overlap, 'full_pass': self.full_pass,
                'match': self.match_metric, 'batch': self.batch_size}


@dataclass
class Piece:
    """The detections of one tile (or of the full image), in the tile's own pixels."""

    tile: Box
    detections: Detections


def overlap(a: np.ndarray, b: np.ndarray, metric: str) -> float:
    """IoU, or IoS (intersection over the smaller), of two bool masks or of two x1y1x2y2 boxes."""
    if a.ndim == 1:
        inter = max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
        area_a, area_b = (a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1])
    else:
        inter, area_a, area_b = float(np.logical_and(a, b).sum()), float(a.sum()), float(b.sum())
    denominator = min(area_a, area_b) if metric == 'ios' else area_a + area_b - inter
    return float(inter / denominator) if denominator > 0 else 0.0


def shared_region(a: Box, b: Box) -> Box | None:
    x1, y1, x2, y2 = max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])
    return (x1, y1, x2, y2) if x2 > x1 and y2 > y1 else None


def image_boxes(piece: Piece) -> np.ndarray:
    """The piece's boxes in image pixels."""
    x0, y0 = piece.tile[:2]
    return piece.detections.bboxes.reshape(-1, 4) + np.array([x0, y0, x0, y0], np.float32)


def in_region(piece: Piece, index: int, region: Box) -> np.ndarray:
    """Detection ``index`` of a piece seen inside ``region`` (image pixels): its mask there, or without
    masks its box clipped to the region."""
    x0, y0 = piece.tile[:2]
    x1, y1, x2, y2 = region
    if piece.detections.masks is not None:
        return piece.detections.masks[index, y1 - y0:y2 - y0, x1 - x0:x2 - x0]
    return np.clip(image_boxes(piece)[index], [x1, y1, x1, y1], [x2, y2, x2, y2])


def matching_pairs(pieces: list[Piece], settings: SliceSettings) -> list[tuple[float, int, int]]:
    """(overlap, a, b) of every two detections of different pieces (a, b numbered piece after piece) that
    look alike where their tiles overlap (masks there, else boxes clipped there): overlap at least
    match_threshold, and the same class unless class_agnostic."""
    starts = np.cumsum([0] + [len(piece.detections) for piece in pieces])
    pairs = []
    for p, q in combinations(range(len(pieces)), 2):
        region = shared_region(pieces[p].tile, pieces[q].tile)
        if region is None or not len(pieces[p].detections) or not len(pieces[q].detections):
            continue
        low, high = np.array(region[:2] * 2, np.float32), np.array(region[2:] * 2, np.float32)
        box_a, box_b = (np.clip(image_boxes(piece), low, high) for piece in (pieces[p], pieces[q]))
        # candidates: boxes that still meet inside the region
        meet = np.ones((len(box_a), len(box_b)), bool)
        for low_side, high_side in ((0, 2), (1, 3)):
            meet &= (np.minimum(box_a[:, None, high_side], box_b[None, :, high_side])
                     > np.maximum(box_a[:, None, low_side], box_b[None, :, low_side]))
        if not settings.class_agnostic:
            meet &= pieces[p].detections.labels[:, None] == pieces[q].detections.labels[None, :]
        for i, j in zip(*np.nonzero(meet), strict=True):
            value = overlap(in_region(pieces[p], i, region), in_region(pieces[q], j, region),
                            settings.match_metric)
            if value >= settings.match_threshold:
                pairs.append((value, int(starts[p] + i), int(starts[q] + j)))
    return pairs


def merge_groups(pairs: list[tuple[float, int, int]], sources: np.ndarray,
                 scores: np.ndarray) -> list[list[int]]:
    """Groups of detections that are one object, best first (each led by its best detection): matching
    pairs joined greedily, the most alike first, as long as no two members of a group come from the same
    piece (one tile's detections were already told apart by the model's own NMS)."""
    group_of = list(range(len(sources)))
    members: dict[int, list[int]] = {i: [i] for i in range(len(sources))}
    for _, a, b in sorted(pairs, key=lambda pair: (-pair[0], pair[1], pair[2])):
        ga, gb = group_of[a], group_of[b]
        if ga == gb or set(sources[members[ga]]) & set(sources[members[gb]]):
            continue
        for member in members.pop(gb):
            group_of[member] = ga
            members[ga].append(member)
    groups = [sorted(group, key=lambda i: (-float(scores[i]), i)) for group in members.values()]
    return sorted(groups, key=lambda group: (-float(scores[group[0]]), group[0]))


def merge_pieces(pieces: list[Piece], height: int, width: int, settings: SliceSettings) -> Detections:
    """One image's Detections from its tiles' (see the module docstring)."""
    with_masks = any(piece.detections.masks is not None for piece in pieces)
    origin = [(p, i) for p, piece in enumerate(pieces) for i in range(len(piece.detections))]
    if not origin:
        return Detections(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64),
                          np.zeros((0, height, width), bool) if with_masks else None)
    boxes = np.concatenate([image_boxes(piece) for piece in pieces])
    scores = np.concatenate([piece.detections.scores for piece in pieces])
    labels = np.concatenate([piece.detections.labels for piece in pieces])
    sources = np.array([p for p, _ in origin])
    groups = merge_groups(matching_pairs(pieces, settings), sources, scores)[:settings.max_detections]
    out_boxes = np.zeros((len(groups), 4), np.float32)
    out_masks = np.zeros((len(groups), height, width), bool) if with_masks else None
    for g, members in enumerate(groups):
        out_boxes[g] = [boxes[members, 0].min(), boxes[members, 1].min(),
                        boxes[members, 2].max(), boxes[members, 3].max()]
        if out_masks is None:
            continue
        for member in members:
            p, i = origin[member]
            x1, y1, x2, y2 = pieces[p].tile
            if pieces[p].detections.masks is not None:
                out_masks[g, y1:y2, x1:x2] |= pieces[p].detections.masks[i]
    leaders = [members[0] for members in groups]
    return Detections(out_boxes, scores[leaders].astype(np.float32), labels[leaders].astype(np.int64),
                      out_masks)


def batches(items: list, size: int) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


class SlicedDetector:
    """A ``Detector`` that runs ``detector`` on overlapping tiles (and optionally the full image) and merges
    what they find (see the module docstring)."""

    def __init__(self, detector, settings: SliceSettings) -> None:
        self.detector, self.settings = detector, settings
        self.classes = detector.classes

    def detect_tiles(self, crops: list[np.ndarray], score_thr: float) -> list[Detections]:
        """The backend's detections of each crop: in one batch where it takes one, else one by one."""
        detect_batch = getattr(self.detector, 'detect_batch', None)
        if detect_batch is not None and len(crops) > 1:
            return detect_batch(crops, score_thr)
        return [self.detector(crop, score_thr) for crop in crops]

    def pieces(self, image: np.ndarray, score_thr: float = 0.0) -> list[Piece]:
        """The detections of each tile, then of the full image (with full_pass, when there are several
        tiles), before merging."""
        height, width = image.shape[:2]
        tiles = tile_boxes(width, height, self.settings.tile, self.settings.overlap)
        pieces = []
        for group in batches(tiles, self.settings.batch_size):
            crops = [np.ascontiguousarray(image[y1:y2, x1:x2]) for x1, y1, x2, y2 in group]
            pieces += [Piece(tile, found) for tile, found in zip(group, self.detect_tiles(crops, score_thr),
                                                                   strict=True)]
        if self.settings.full_pass and len(tiles) > 1:
            pieces.append(Piece((0, 0, width, height), self.detector(image, score_thr)))
        return pieces

    def __call__(self, image: np.ndarray, score_thr: float = 0.0) -> Detections:
        height, width = image.shape[:2]
        return merge_pieces(self.pieces(image, score_thr), height, width, self.settings)
