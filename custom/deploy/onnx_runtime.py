"""Run a detector exported by tools/export_onnx.py with ONNX Runtime on the CPU, image by image.

What happens around the ONNX graph is numpy and OpenCV, written to give what ``mmdet.apis.inference_detector``
gives for the same image: the test pipeline's resize (cv2 bilinear, sizes rounded as mmcv's ``rescale_size``),
boxes divided by the resize factors, and each detection's mask probabilities pasted into the image as mmdet's
``_do_paste_mask`` does on the CPU (bilinear sampling at pixel centres, zero outside, then the threshold).
Only numpy, OpenCV and ONNX Runtime run here: this file is what a deployment without Python has to
reproduce around the graph (docs/deploy.md).
"""

import json
import os
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

from custom.errors import DataError, MissingFileError
from custom.structures.detections import Detections

METADATA_FORMAT = 'mmdet-pennfudan/onnx-1'  # what custom/deploy/export.py writes


def resize_like_test_pipeline(image: np.ndarray, scale: tuple[int, int],
                              keep_ratio: bool) -> tuple[np.ndarray, tuple[float, float]]:
    """mmdet's Resize (cv2 backend, bilinear): the resized image and its (w_scale, h_scale)."""
    height, width = image.shape[:2]
    if keep_ratio:  # mmcv.rescale_size: fit the long side in max(scale) and the short side in min(scale)
        factor = min(max(scale) / max(height, width), min(scale) / min(height, width))
        new_width, new_height = int(width * factor + 0.5), int(height * factor + 0.5)
    else:
        new_width, new_height = scale
    resized = cv2.resize(image, (new_width, new_height), interpolation=cv2.INTER_LINEAR)
    return resized, (new_width / width, new_height / height)


def sampling_matrix(pixels: np.ndarray, low: np.float32, high: np.float32, size: int) -> np.ndarray:
    """(len(pixels), size) weights of the bilinear sample that grid_sample(align_corners=False, zero padding)
    takes from a size-long axis spanning [low, high] in image pixels, at each pixel centre."""
    with np.errstate(divide='ignore', invalid='ignore'):
        grid = (pixels + np.float32(0.5) - low) / (high - low) * np.float32(2) - np.float32(1)
    grid[~np.isfinite(grid)] = 0  # a box of zero width or height, as mmdet does
    source = ((grid + np.float32(1)) * np.float32(size) - np.float32(1)) / np.float32(2)
    first = np.floor(source)
    weights = np.zeros((len(pixels), size), np.float32)
    rows = np.arange(len(pixels))
    for index, weight in ((first, first + 1 - source), (first + 1, source - first)):
        inside = (index >= 0) & (index < size)
        weights[rows[inside], index[inside].astype(np.int64)] += weight[inside]
    return weights


def paste_masks(mask_probs: np.ndarray, boxes: np.ndarray, height: int, width: int,
                threshold: float) -> np.ndarray:
    """(N, M, M) probabilities inside (N, 4) boxes -> (N, height, width) bool masks, as FCNMaskHead pastes
    them on the CPU: each mask is sampled only over its box's pixels plus one, everything else stays False."""
    masks = np.zeros((len(boxes), height, width), bool)
    for mask, probs, (x0, y0, x1, y1) in zip(masks, mask_probs, boxes.astype(np.float32), strict=True):
        left, top = max(int(np.floor(x0)) - 1, 0), max(int(np.floor(y0)) - 1, 0)
        right, bottom = min(int(np.ceil(x1)) + 1, width), min(int(np.ceil(y1)) + 1, height)
        if right <= left or bottom <= top:
            continue
        rows = sampling_matrix(np.arange(top, bottom, dtype=np.float32), y0, y1, probs.shape[0])
        cols = sampling_matrix(np.arange(left, right, dtype=np.float32), x0, x1, probs.shape[1])
        mask[top:bottom, left:right] = rows @ probs.astype(np.float32) @ cols.T >= threshold
    return masks


def thread_count(threads: int | None) -> int:
    """A runtime's CPU threads: ``threads``, else $OMP_NUM_THREADS, else 0 (the runtime picks: all cores)."""
    return threads or int(os.environ.get('OMP_NUM_THREADS', 0))


class OnnxDetector:
    """An exported detector: ``detector(image, score_thr)`` -> the Detections scoring at least score_thr in a
    BGR uint8 image (as cv2.imread gives). Another runtime (custom/deploy/openvino_runtime.py) overrides
    ``load_graph`` and ``run_graph``; everything around the graph stays here."""

    RUNTIME = 'ONNX Runtime'

    def __init__(self, path: str | Path, threads: int | None = None) -> None:
        path = Path(path)
        if not path.is_file():
            raise MissingFileError(f'{path}: no such ONNX model')
        try:
            meta, outputs = self.load_graph(path, thread_count(threads))
        except Exception as error:  # each runtime raises its own exception types for unreadable files
            raise DataError(path, f'{self.RUNTIME} cannot load it ({error})') from error
        if meta.get('format') != METADATA_FORMAT:
            raise DataError(path, 'not a model written by tools/export_onnx.py (its metadata has no '
                                  f'format={METADATA_FORMAT!r}); export it with that tool')
        with_mask = outputs > 3  # boxes, scores, labels (, mask_probs)
        missing = [key for key in ('classes', 'resize', *['mask_thr_binary'] * with_mask) if key not in meta]
        if missing:
            raise DataError(path, f'its metadata lacks {", ".join(missing)} (tools/export_onnx.py writes '
                                  'them all): export it again with that tool')
        if 'mask_thr_binary' in meta and not with_mask:
            raise DataError(path, 'its metadata is of a model with masks (mask_thr_binary) but the graph has '
                                  'no mask output: export it again with tools/export_onnx.py')
        try:
            classes, resize = json.loads(meta['classes']), json.loads(meta['resize'])
            if not isinstance(classes, list):
                raise TypeError(f'classes is {classes!r}, not a list')
            self.classes = tuple(map(str, classes))
            self.scale, self.keep_ratio = tuple(int(v) for v in resize['scale']), bool(resize['keep_ratio'])
            self.mask_threshold = float(meta['mask_thr_binary']) if with_mask else None
        except (ValueError, TypeError, KeyError) as error:
            raise DataError(path, f'its metadata cannot be read ({type(error).__name__}: {error}): export it '
                                  'again with tools/export_onnx.py') from error
        self.path = path

    def load_graph(self, path: Path, threads: int) -> tuple[dict[str, str], int]:
        """Loads the graph for ``run_graph`` on ``threads`` CPU threads (0: all); returns the file's metadata
        and the number of outputs of the graph."""
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(path), options, providers=['CPUExecutionProvider'])
        self.input_name = self.session.get_inputs()[0].name
        return self.session.get_modelmeta().custom_metadata_map, len(self.session.get_outputs())

    def run_graph(self, image: np.ndarray) -> list[np.ndarray]:
        """The graph's outputs (boxes, scores, labels, mask probabilities) for one resized image."""
        return self.session.run(None, {self.input_name: image})

    def __call__(self, image: np.ndarray, score_thr: float = 0.0) -> Detections:
        resized, (w_scale, h_scale) = resize_like_test_pipeline(image, self.scale, self.keep_ratio)
        outputs = self.run_graph(resized)
        keep = outputs[1] >= score_thr
        boxes, scores, labels, *mask_probs = (output[keep] for output in outputs)
        boxes = boxes / np.array([w_scale, h_scale, w_scale, h_scale], np.float32)
        masks = None
        if mask_probs:
            masks = paste_masks(mask_probs[0], boxes, image.shape[0], image.shape[1], self.mask_threshold)
        return Detections(boxes, scores, labels.astype(np.int64), masks)
