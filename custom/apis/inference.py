"""Inference over images, folders and videos: overlays plus a JSON of the detections.

The loop, overlays and results.json take any detector that maps a BGR image to ``Detections``:
``PyTorchDetector`` here (mmdet's init_detector / inference_detector, so a script can do the same with
`model = init_detector(config, checkpoint); result = inference_detector(model, image)`) or ``OnnxDetector``
(custom/deploy/onnx_runtime.py, ONNX Runtime).
"""

import json
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np
import torch
from mmdet.apis import inference_detector, init_detector
from mmengine.config import Config
from tqdm import tqdm

from custom.engine.checkpoints import check_checkpoint_fits
from custom.errors import DataError, MissingFileError
from custom.structures.detections import Detections
from custom.structures.masks import mask_to_polygons, mask_to_rle

IMAGE_SUFFIXES = {'.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp'}
VIDEO_SUFFIXES = {'.mp4', '.avi', '.mov', '.mkv', '.webm'}


class Detector(Protocol):
    """What run_inference needs: the class names, and the detections scoring at least score_thr in a BGR uint8
    image (each backend drops the others before the costly part: copying masks off the GPU, pasting them)."""

    classes: tuple[str, ...]

    def __call__(self, image: np.ndarray, score_thr: float = 0.0) -> Detections: ...


def default_device() -> str:
    return 'cuda:0' if torch.cuda.is_available() else 'cpu'


def expand_inputs(inputs: list[str | Path]) -> list[Path]:
    """Image files, video files, and folders (their images, sorted) -> a flat list of files."""
    files = []
    for item in map(Path, inputs):
        if item.is_dir():
            files += sorted(p for p in item.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        elif not item.is_file():
            raise MissingFileError(f'{item}: no such image, video or folder')
        elif item.suffix.lower() in IMAGE_SUFFIXES | VIDEO_SUFFIXES:
            files.append(item)
        else:
            raise DataError(item, f'not an image ({", ".join(sorted(IMAGE_SUFFIXES))}) '
                                  f'or video ({", ".join(sorted(VIDEO_SUFFIXES))})')
    return files


class PyTorchDetector:
    """A config (file or loaded) + checkpoint run by MMDetection (init_detector / inference_detector)."""

    def __init__(self, config: str | Path | Config, checkpoint: str | Path | None,
                 device: str | None = None) -> None:
        self.model = init_detector(config, None if checkpoint is None else str(checkpoint),
                                   device=device or default_device())
        if checkpoint is not None:  # init_detector loads one of other classes in part, with a warning
            name = config.filename if isinstance(config, Config) else config
            check_checkpoint_fits(self.model, checkpoint, name or 'the config')
        self.classes = tuple(self.model.dataset_meta.get('classes', ()))

    def __call__(self, image: np.ndarray, score_thr: float = 0.0) -> Detections:
        pred = inference_detector(self.model, image).pred_instances
        return Detections.from_instances(pred[pred.scores >= score_thr].cpu())


def class_name(classes: tuple[str, ...], label: int) -> str:
    return classes[label] if label < len(classes) else str(label)


MASK_FORMATS = ('rle', 'polygon', 'none')


def detections(pred: Detections, classes: tuple[str, ...], mask_format: str = 'rle') -> list[dict]:
    """Predictions as JSON-ready dicts (box x1,y1,x2,y2; mask as COCO RLE, or as COCO polygons (outer
    contours, custom/structures/masks.py) or left out, as ``mask_format`` says)."""
    if mask_format not in MASK_FORMATS:
        raise ValueError(f'mask_format must be one of {MASK_FORMATS}, got {mask_format!r}')
    out = []
    for i in range(len(pred)):
        label = int(pred.labels[i])
        item = {'label': label, 'class': class_name(classes, label), 'score': round(float(pred.scores[i]), 4),
                'bbox': [round(float(v), 1) for v in pred.bboxes[i]]}
        if pred.masks is not None and mask_format == 'rle':
            item['mask'] = mask_to_rle(pred.masks[i])
        elif pred.masks is not None and mask_format == 'polygon':
            item['polygons'] = mask_to_polygons(pred.masks[i])
        out.append(item)
    return out


def draw_overlay(image: np.ndarray, pred: Detections, classes: tuple[str, ...]) -> np.ndarray:
    """BGR image with translucent masks, boxes and 'class score' labels."""
    canvas = image.copy()
    rng = np.random.default_rng(0)
    for i in range(len(pred)):
        color = tuple(int(c) for c in rng.integers(60, 256, 3))
        if pred.masks is not None:
            mask = pred.masks[i]
            canvas[mask] = (0.5 * canvas[mask] + 0.5 * np.array(color)).astype(np.uint8)
        x1, y1, x2, y2 = (int(round(float(v))) for v in pred.bboxes[i])
        cv2.rectangle(canvas, (x1, y1), (x2, y2), color, 2)
        cv2.putText(canvas, f'{class_name(classes, int(pred.labels[i]))} {float(pred.scores[i]):.2f}',
                    (x1, max(y1 - 4, 10)), cv2.FONT_HERSHEY_SIMPLEX, 0.45, color, 1, cv2.LINE_AA)
    return canvas


def unique_stem(path: Path, taken: set[str]) -> str:
    """The file's stem, with _2, _3, ... appended when another input already used it (a/x.jpg, b/x.png)."""
    stem, n = path.stem, 1
    while stem in taken:
        n += 1
        stem = f'{path.stem}_{n}'
    taken.add(stem)
    return stem


def run_inference(detector: Detector, inputs: list[str | Path], out_dir: str | Path, score_thr: float = 0.3,
                  header: dict | None = None) -> dict:
    """Writes <out_dir>/<name>.png overlays (videos: <stem>_overlay.mp4) and <out_dir>/results.json, which
    holds `header` (what ran), score_thr and the detections of every image or frame."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    results = {**(header or {}), 'score_thr': score_thr, 'items': []}
    taken: set[str] = set()
    for path in tqdm(expand_inputs(inputs), desc='inference', unit='file'):
        stem = unique_stem(path, taken)
        if path.suffix.lower() in VIDEO_SUFFIXES:
            results['items'] += infer_video(detector, path, out_dir / f'{stem}_overlay.mp4', score_thr)
            continue
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise DataError(path, 'cannot read the image (corrupt or unsupported format)')
        pred = detector(image, score_thr)
        cv2.imwrite(str(out_dir / f'{stem}.png'), draw_overlay(image, pred, detector.classes))
        results['items'].append({'file': str(path), 'overlay': f'{stem}.png',
                                 'detections': detections(pred, detector.classes)})
    (out_dir / 'results.json').write_text(json.dumps(results, indent=1))
    return results


def infer_video(detector: Detector, path: Path, out_file: Path, score_thr: float) -> list[dict]:
    """Runs every frame; writes the overlaid video to out_file (closed even when inference fails)."""
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise DataError(path, 'cannot open the video')
    fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    writer, items = None, []
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            pred = detector(frame, score_thr)
            if writer is None:
                height, width = frame.shape[:2]
                writer = cv2.VideoWriter(str(out_file), cv2.VideoWriter_fourcc(*'mp4v'), fps, (width, height))
            writer.write(draw_overlay(frame, pred, detector.classes))
            items.append({'file': str(path), 'frame': len(items),
                          'detections': detections(pred, detector.classes)})
    finally:
        capture.release()
        if writer is not None:
            writer.release()
    return items
