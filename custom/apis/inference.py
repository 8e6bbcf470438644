"""Inference over images, folders and videos: overlays plus a JSON of the detections.

The loop, overlays and results.json take any detector that maps a BGR image to ``Detections``:
``PyTorchDetector`` here (mmdet's init_detector / inference_detector, so a script can do the same with
`model = init_detector(config, checkpoint); result = inference_detector(model, image)`) or ``OnnxDetector``
(custom/deploy/onnx_runtime.py, ONNX Runtime).
"""

import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple, Protocol

import cv2
import numpy as np
import torch
from mmcv.transforms import Compose
from mmdet.apis import inference_detector, init_detector
from mmdet.utils import get_test_pipeline_cfg
from mmengine.config import Config
from tqdm import tqdm

from custom.datasets.builder import configured_datasets
from custom.engine.checkpoints import check_checkpoint_fits, write_atomic
from custom.errors import DataError, MissingFileError, shortened
from custom.files import write_image
from custom.structures.detections import Detections
from custom.structures.masks import mask_to_polygons, mask_to_rle

IMAGE_SUFFIXES = {'.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp'}
VIDEO_SUFFIXES = {'.mp4', '.avi', '.mov', '.mkv', '.webm'}
# While a run goes, results.json is rewritten at least this many seconds apart (more when a rewrite takes over
# 5% of that time, ResultsFile): a run killed midway leaves a valid file lacking at most its last seconds.
SAVE_INTERVAL_S = 2.0


class Detector(Protocol):
    """What run_inference needs: the class names, and the detections scoring at least score_thr in a BGR uint8
    image (each backend drops the others before the costly part: copying masks off the GPU, pasting them)."""

    classes: tuple[str, ...]

    def __call__(self, image: np.ndarray, score_thr: float = 0.0) -> Detections: ...


def default_device() -> str:
    return 'cuda:0' if torch.cuda.is_available() else 'cpu'


class Inputs(NamedTuple):
    """What expand_inputs found: the files to run, and the folders' entries that are not images."""

    files: list[Path]
    ignored: list[Path]


def expand_inputs(inputs: list[str | Path]) -> Inputs:
    """Image files, video files, and folders (their images, sorted) -> a flat list of files, and what the
    folders hold besides images (other files, videos, subfolders: not searched). A file named on its own that
    is neither an image nor a video is an error (a typo in a path)."""
    files, ignored = [], []
    for item in map(Path, inputs):
        if item.is_dir():
            for entry in sorted(item.iterdir()):
                is_image = entry.suffix.lower() in IMAGE_SUFFIXES and entry.is_file()
                (files if is_image else ignored).append(entry)
        elif not item.is_file():
            raise MissingFileError(f'{item}: no such image, video or folder')
        elif item.suffix.lower() in IMAGE_SUFFIXES | VIDEO_SUFFIXES:
            files.append(item)
        else:
            raise DataError(item, f'not an image ({", ".join(sorted(IMAGE_SUFFIXES))}) '
                                  f'or video ({", ".join(sorted(VIDEO_SUFFIXES))})')
    return Inputs(files, ignored)


def config_class_names(cfg: Config) -> tuple[str, ...]:
    """The classes of the config's test dataset (through wrappers), () when it names none."""
    for _, dataset in configured_datasets(cfg, ('test_dataloader', 'val_dataloader')):
        classes = (dataset.get('metainfo') or {}).get('classes')
        if classes:
            return tuple(classes)
    return ()


def scored_at_least(pred, score_thr: float) -> Detections:
    """The detections of mmdet's ``pred_instances`` scoring at least score_thr, off the GPU."""
    return Detections.from_instances(pred[pred.scores >= score_thr].cpu())


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
        self.test_pipeline: Compose | None = None  # built at the first detect_batch
        config_classes = config_class_names(self.model.cfg)
        if config_classes and len(self.classes) != len(config_classes):
            # a checkpoint without dataset_meta: init_detector falls back to COCO's 80 names
            self.classes = config_classes
            self.model.dataset_meta = {**self.model.dataset_meta, 'classes': config_classes}

    def __call__(self, image: np.ndarray, score_thr: float = 0.0) -> Detections:
        return scored_at_least(inference_detector(self.model, image).pred_instances, score_thr)

    def detect_batch(self, images: list[np.ndarray], score_thr: float = 0.0) -> list[Detections]:
        """The detections of several BGR images in one forward pass (inference_detector runs a list image by
        image): each image through the test pipeline, then the model's test_step on the batch, as its test
        loop runs one (sliced inference's tiles, custom/apis/slicing.py)."""
        if self.test_pipeline is None:
            steps = get_test_pipeline_cfg(self.model.cfg.copy())
            steps[0].type = 'mmdet.LoadImageFromNDArray'
            self.test_pipeline = Compose(steps)
        samples = [self.test_pipeline(dict(img=image, img_id=0)) for image in images]
        with torch.no_grad():
            results = self.model.test_step(dict(inputs=[sample['inputs'] for sample in samples],
                                                data_samples=[sample['data_samples'] for sample in samples]))
        return [scored_at_least(result.pred_instances, score_thr) for result in results]


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


class ResultsFile:
    """results.json kept on disk while a run fills ``results``: ``save()`` rewrites it atomically
    (write_atomic: a temporary file renamed into place, so a reader or a killed run never meets half a file);
    ``save_due()`` does when ``interval`` seconds have passed since the last rewrite, or 20 times its duration
    if longer (rewriting then takes at most 5% of the run: 0.9 s for 10,000 images of 5 detections each);
    ``interval`` 0 rewrites at every call."""

    def __init__(self, path: Path, results: dict, interval: float = SAVE_INTERVAL_S) -> None:
        self.path, self.results, self.interval = path, results, interval
        self.save()

    def save(self) -> None:
        start = time.monotonic()
        write_atomic(self.path, json.dumps(self.results, indent=1).encode())
        end = time.monotonic()
        self.next_save = end + (max(self.interval, 20 * (end - start)) if self.interval else 0)

    def save_due(self) -> None:
        if time.monotonic() >= self.next_save:
            self.save()


def read_image(path: Path) -> np.ndarray:
    """A BGR uint8 image; DataError when OpenCV cannot decode the file."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise DataError(path, 'cannot read the image (corrupt or unsupported format)')
    return image


def open_video(path: Path) -> cv2.VideoCapture:
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        capture.release()
        raise DataError(path, 'cannot open the video (corrupt or unsupported format)')
    return capture


def run_inference(detector: Detector, inputs: list[str | Path], out_dir: str | Path, score_thr: float = 0.3,
                  header: dict | None = None, save_interval: float = SAVE_INTERVAL_S) -> dict:
    """Writes <out_dir>/<name>.png overlays (videos: <stem>_overlay.mp4) and <out_dir>/results.json, which
    holds `header` (what ran), score_thr, 'complete' (whether the run got to its end), 'skipped' (the inputs
    that could not be read: file and problem), 'ignored' (the folders' entries that are not images) and
    'items', the detections of every image or frame.

    An unreadable image or video is named in a warning and skipped. results.json is rewritten as the run goes
    (ResultsFile, every save_interval seconds or so) and when it ends, however it ends."""
    files, ignored = expand_inputs(inputs)  # a wrong path stops the run before anything is written
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    results = {**(header or {}), 'score_thr': score_thr, 'complete': False, 'skipped': [],
               'ignored': [str(path) for path in ignored], 'items': []}
    if ignored:
        print(f'note: ignored {len(ignored)} folder entries that are not images: '
              f'{shortened([str(path) for path in ignored], 3)}', file=sys.stderr)
    saved = ResultsFile(out_dir / 'results.json', results, save_interval)

    def skip(error: DataError) -> None:
        tqdm.write(f'warning: {error}; skipped', file=sys.stderr)
        results['skipped'].append({'file': error.path, 'problem': error.problem})

    taken: set[str] = set()
    try:
        for path in tqdm(files, desc='inference', unit='file'):
            try:
                source = open_video(path) if path.suffix.lower() in VIDEO_SUFFIXES else read_image(path)
            except DataError as error:
                skip(error)
                continue
            stem = unique_stem(path, taken)
            if isinstance(source, np.ndarray):
                pred = detector(source, score_thr)
                write_image(out_dir / f'{stem}.png', draw_overlay(source, pred, detector.classes))
                results['items'].append({'file': str(path), 'overlay': f'{stem}.png',
                                         'detections': detections(pred, detector.classes)})
            else:
                frames = len(results['items'])
                for item in infer_video(detector, source, path, out_dir / f'{stem}_overlay.mp4', score_thr):
                    results['items'].append(item)
                    saved.save_due()
                if len(results['items']) == frames:
                    skip(DataError(path, 'cannot read a frame of the video (corrupt or unsupported format)'))
            saved.save_due()
        results['complete'] = True
    finally:
        saved.save()
    return results


def infer_video(detector: Detector, capture: cv2.VideoCapture, path: Path, out_file: Path,
                score_thr: float) -> Iterator[dict]:
    """Runs every frame of an opened video, yielding each frame's item as it is done; writes the overlaid
    video to out_file and releases the capture (also when inference fails)."""
    fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    writer, frame_index = None, 0
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
            yield {'file': str(path), 'frame': frame_index, 'detections': detections(pred, detector.classes)}
            frame_index += 1
    finally:
        capture.release()
        if writer is not None:
            writer.release()
