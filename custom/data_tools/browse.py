"""What the model is fed: samples of a config's split after its pipeline, ground truth drawn on them.

``tools/browse_dataset.py`` (custom/cli/browse_dataset.py) draws, on the image as the pipeline leaves it
(resized, flipped, cropped), each object's mask tinted, its box and its class name in the class's colour,
and every ignore region (``difficult``, ``DontCare``, crowd: PackDetInputs' ``ignored_instances``) hatched in
grey. MMDetection's own browse_dataset.py draws with DetLocalVisualizer, which shows ``gt_instances`` only:
ignore regions, which this project's datasets keep, would be invisible.

The train split runs the training pipeline (random augmentations included); val and test run their own
pipeline with the training pipeline's annotation loading (custom/datasets/pipelines.py), as the validation
loss sees them.
"""

import math
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from custom.datasets.builder import build_dataset
from custom.datasets.pipelines import annotated_eval_pipeline
from custom.errors import ConfigError

IGNORED = (160, 160, 160)  # BGR grey of hatched ignore regions
HATCH_PERIOD = 6  # pixels between hatch lines
PALETTE = [(56, 56, 255), (151, 157, 255), (31, 112, 255), (29, 178, 255), (49, 210, 207), (10, 249, 72),
           (23, 204, 146), (134, 219, 61), (52, 147, 26), (187, 212, 0), (168, 153, 44), (255, 194, 0),
           (147, 69, 52), (255, 115, 100), (236, 24, 0), (255, 56, 132), (133, 0, 82), (255, 56, 203)]


def browse_dataset_cfg(cfg, split: str) -> dict:
    """The ``<split>_dataloader`` dataset config, with ground truth loaded for val and test."""
    dataset = (cfg.get(f'{split}_dataloader') or {}).get('dataset')
    if not dataset:
        raise ConfigError(f'the config has no {split}_dataloader.dataset')
    dataset = dict(dataset)
    if split != 'train':
        dataset['pipeline'] = annotated_eval_pipeline(cfg, split)
    return dataset


def to_numpy_masks(masks, count: int, shape: tuple[int, int]) -> list[np.ndarray | None]:
    """Per-instance boolean masks from BitmapMasks / PolygonMasks (None entries when there are none)."""
    if masks is None or len(masks) == 0:
        return [None] * count
    array = masks.to_ndarray() if hasattr(masks, 'to_ndarray') else np.asarray(masks)
    return [m.astype(bool)[:shape[0], :shape[1]] for m in array]


def instances_of(data_sample, name: str) -> tuple[np.ndarray, np.ndarray, list]:
    """(boxes x1y1x2y2, labels, masks) of ``data_sample.<name>`` (gt_instances or ignored_instances)."""
    instances = data_sample.get(name)
    if instances is None or len(instances) == 0:
        return np.zeros((0, 4)), np.zeros(0, dtype=np.int64), []
    boxes = instances.bboxes
    boxes = boxes.tensor if hasattr(boxes, 'tensor') else boxes
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    labels = np.asarray(instances.labels, dtype=np.int64).reshape(-1)
    shape = tuple(data_sample.metainfo.get('img_shape', (0, 0)))[:2]
    return boxes, labels, to_numpy_masks(instances.get('masks'), len(boxes), shape)


def box_region(box: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    region = np.zeros(shape, dtype=bool)
    x1, y1, x2, y2 = (int(round(v)) for v in box)
    region[max(y1, 0):max(y2, 0), max(x1, 0):max(x2, 0)] = True
    return region


def draw_sample(image: np.ndarray, data_sample, classes: list[str]) -> np.ndarray:
    """BGR image with the sample's ground truth drawn: tinted masks, boxes, names; ignore regions hatched."""
    canvas = np.ascontiguousarray(image.copy())
    shape = canvas.shape[:2]
    font_scale = max(0.3, canvas.shape[1] / 1200)
    thickness = max(1, canvas.shape[1] // 500)  # 1 px on small images, 2-3 px on 1333-px ones
    ys, xs = np.mgrid[:shape[0], :shape[1]]
    hatch = (xs + ys) % HATCH_PERIOD < 2
    boxes, _, masks = instances_of(data_sample, 'ignored_instances')
    for box, mask in zip(boxes, masks, strict=True):
        region = mask if mask is not None else box_region(box, shape)
        canvas[region & hatch] = IGNORED
        x1, y1, x2, y2 = (int(round(v)) for v in box)
        cv2.rectangle(canvas, (x1, y1), (max(x1, x2 - 1), max(y1, y2 - 1)), IGNORED, thickness)
    boxes, labels, masks = instances_of(data_sample, 'gt_instances')
    for box, label, mask in zip(boxes, labels, masks, strict=True):
        colour = PALETTE[int(label) % len(PALETTE)]
        if mask is not None:
            canvas[mask] = (0.55 * canvas[mask] + 0.45 * np.array(colour)).astype(np.uint8)
        x1, y1, x2, y2 = (int(round(v)) for v in box)
        cv2.rectangle(canvas, (x1, y1), (max(x1, x2 - 1), max(y1, y2 - 1)), colour, thickness)
        name = classes[label] if 0 <= label < len(classes) else str(label)
        cv2.putText(canvas, name, (x1, max(8, y1 - 2)), cv2.FONT_HERSHEY_SIMPLEX, font_scale, colour, 1,
                    cv2.LINE_AA)
    return canvas


def browse(cfg, split: str = 'train', indices: list[int] | None = None,
           limit: int = 16) -> Iterator[tuple[str, np.ndarray]]:
    """(image file name, drawn BGR image) of the given dataset indices, else of the first ``limit``."""
    dataset = build_dataset(browse_dataset_cfg(cfg, split))
    classes = list(dataset.metainfo.get('classes', ()))
    for index in indices if indices is not None else range(min(limit, len(dataset))):
        packed = dataset[index]
        image = packed['inputs'].numpy().transpose(1, 2, 0)  # CHW -> HWC, BGR as the image was read
        sample = packed['data_samples']
        yield Path(sample.metainfo.get('img_path', f'{index}')).name, draw_sample(image, sample, classes)


def contact_sheet(images: list[tuple[str, np.ndarray]], columns: int = 0,
                  caption_height: int = 16) -> np.ndarray:
    """One BGR image: the images on a grid (``columns`` 0: about square), each captioned with its name."""
    if not images:
        raise ValueError('no images for a contact sheet')
    columns = columns or math.ceil(math.sqrt(len(images)))
    rows = math.ceil(len(images) / columns)
    cell_h = max(image.shape[0] for _, image in images) + caption_height
    cell_w = max(image.shape[1] for _, image in images)
    sheet = np.full((rows * cell_h, columns * cell_w, 3), 255, dtype=np.uint8)
    for i, (name, image) in enumerate(images):
        top, left = (i // columns) * cell_h, (i % columns) * cell_w
        sheet[top:top + image.shape[0], left:left + image.shape[1]] = image
        cv2.putText(sheet, name[:max(4, cell_w // 7)], (left + 2, top + cell_h - 4), cv2.FONT_HERSHEY_SIMPLEX,
                    0.35, (0, 0, 0), 1, cv2.LINE_AA)
    return sheet
