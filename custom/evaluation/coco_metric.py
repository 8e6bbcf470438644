"""PerClassCocoMetric: MMDetection's CocoMetric with per-class AP that keeps the mean AP the run is judged by,
evaluated by faster-coco-eval (pycocotools on request).

With ``classwise=True``, MMDetection 3.3's CocoMetric names each class's AP ``<class>_precision``, without
the metric, so when segm and bbox are both evaluated bbox's value overwrites segm's under the same name; and
it lists these before the means, so the first metric (what ``save_best='auto'`` and early stopping judge by)
becomes the first class's AP instead of ``coco/segm_mAP``. This metric evaluates one iou type at a time
and returns the means first, then ``<metric>_AP_<class>`` (``coco/segm_AP_pedestrian``); with one class it
adds none (that AP is the mean).

Backend (``backend=``): 'faster_coco_eval' (default) runs pycocotools' algorithm in C++ (the
faster-coco-eval package) and gives every AP and AR pycocotools gives (tests/evaluation/test_coco_metric.py;
docs/benchmarks.md, "Scale", times both); 'pycocotools' is MMDetection's own path, kept as the fallback. The
backend's ``COCO`` and ``COCOeval`` classes stand in for the names MMDetection's coco_metric module evaluates
with while this metric's ``__init__`` and ``compute_metrics`` run (``coco_backend``), so everything else
(ground truth conversion, result files, keys, rounding) stays CocoMetric's. faster-coco-eval needs integer
image ids and lays out its summary differently; ``FasterCOCO`` and ``FasterCOCOeval`` bridge both. One
difference stays: when the whole data set has no detection, pycocotools cannot load the empty results
(MMDetection logs 'The testing results of the whole dataset is empty' and reports no metric), while
faster-coco-eval reports AP 0.
"""

import json
import os
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import faster_coco_eval
import mmdet.evaluation.metrics.coco_metric as mmdet_coco_metric
from faster_coco_eval.core.faster_eval_api import COCOeval as FasterCOCOevalBase
from mmdet.datasets.api_wrappers import COCO as PycocotoolsCOCO
from mmdet.datasets.api_wrappers import COCOeval as PycocotoolsCOCOeval
from mmdet.evaluation import CocoMetric
from mmdet.registry import METRICS

from custom.errors import ConfigError

CLASS_AP_SUFFIX = '_precision'  # how CocoMetric names one class's AP
COCO_BACKENDS = ('faster_coco_eval', 'pycocotools')
# pycocotools' first summary number (AP over IoU 0.5:0.95) counts 100 detections per image whatever
# maxDets holds; the others count the last maxDets (MMDetection sets maxDets to 100, 300, 1000).
PYCOCOTOOLS_AP_MAX_DETS = 100


class FasterCOCOeval(FasterCOCOevalBase):
    """faster-coco-eval's evaluator (it prints its summary as pycocotools does), with ``stats`` as pycocotools
    lays them out for boxes and masks: faster-coco-eval's ``stats[0]`` counts the last maxDets detections."""

    def summarize(self) -> None:
        super().summarize()
        if self.params.iouType in ('bbox', 'segm'):
            max_dets = self.params.maxDets
            self.stats[0] = (self._summarize(1, maxDets=PYCOCOTOOLS_AP_MAX_DETS)
                             if PYCOCOTOOLS_AP_MAX_DETS in max_dets else -1)


class FasterCOCO(faster_coco_eval.COCO):
    """faster-coco-eval's COCO for ground truth whose image ids are not all integers: the project's sources
    name images by their file stem (``FudanPed00001``), which faster-coco-eval's index passes to ``int()``
    (and '007' and '7' would become one image). Such images are numbered 1..N in their order, and the image
    ids of the results loaded against them (``loadRes``) are mapped the same way."""

    image_numbers: dict | None = None  # image id as written -> its number (None: every id is an integer)

    def createIndex(self) -> None:
        images = self.dataset.get('images', [])
        if any(type(image['id']) is not int for image in images):
            self.image_numbers = {image['id']: number for number, image in enumerate(images, start=1)}
            for image in images:
                image['id'] = self.image_numbers[image['id']]
            for ann in self.dataset.get('annotations', []):
                ann['image_id'] = self.image_numbers.get(ann['image_id'], ann['image_id'])
        super().createIndex()

    def loadRes(self, resFile, min_score: float = 0.0) -> faster_coco_eval.COCO:
        """Results (a list, or a json file of one) against these images; sets their ``image_id`` to the
        images' numbers (pycocotools' ``loadRes`` too writes into the results it is given)."""
        if self.image_numbers is not None:
            if isinstance(resFile, (str, os.PathLike)):
                resFile = json.loads(Path(resFile).read_text(encoding='utf-8'))
            for result in resFile:
                result['image_id'] = self.image_numbers.get(result['image_id'], result['image_id'])
        return super().loadRes(resFile, min_score)


def coco_api(backend: str) -> tuple[type, type]:
    """The ``(COCO, COCOeval)`` classes of an evaluation backend (``COCO_BACKENDS``)."""
    if backend == 'faster_coco_eval':
        return FasterCOCO, FasterCOCOeval
    if backend == 'pycocotools':
        return PycocotoolsCOCO, PycocotoolsCOCOeval
    raise ConfigError(f'COCO evaluation backend must be one of {COCO_BACKENDS}, got {backend!r}')


def evaluate_results(ground_truth: str | Path, results: list[dict], iou_type: str,
                     backend: str = 'faster_coco_eval'):
    """The summarized evaluator of COCO ``results`` (a list as a COCO results json holds it) against a
    ground-truth json, with CocoMetric's settings: maxDets 100, 300, 1000, and for segm the areas of the masks
    (a result's bbox is left out). ``results`` is not changed."""
    coco, coco_eval = coco_api(backend)
    truth = coco(str(ground_truth))
    results = [dict(result) for result in results]  # loadRes writes into each
    if iou_type == 'segm':
        for result in results:
            result.pop('bbox', None)
    evaluator = coco_eval(truth, truth.loadRes(results), iou_type)
    evaluator.params.maxDets = [100, 300, 1000]
    evaluator.evaluate()
    evaluator.accumulate()
    evaluator.summarize()
    return evaluator


@contextmanager
def coco_backend(backend: str) -> Iterator[None]:
    """MMDetection's CocoMetric evaluates with ``backend``'s classes inside the block (see the docstring)."""
    saved = mmdet_coco_metric.COCO, mmdet_coco_metric.COCOeval
    mmdet_coco_metric.COCO, mmdet_coco_metric.COCOeval = coco_api(backend)
    try:
        yield
    finally:
        mmdet_coco_metric.COCO, mmdet_coco_metric.COCOeval = saved


@METRICS.register_module()
class PerClassCocoMetric(CocoMetric):
    """CocoMetric; with ``classwise=True`` and several classes, ``<metric>_AP_<class>`` after the means.

    Args:
        backend: 'faster_coco_eval' (default) or 'pycocotools' (see the module docstring).
        Everything else: MMDetection's CocoMetric (``use_mp_eval`` is pycocotools' only).
    """

    def __init__(self, *args, backend: str = 'faster_coco_eval', **kwargs) -> None:
        coco_api(backend)  # refuses an unknown name
        if kwargs.get('use_mp_eval') and backend != 'pycocotools':
            raise ConfigError("use_mp_eval is pycocotools' multi-process evaluation: set "
                              "backend='pycocotools' with it (faster-coco-eval is faster on one process)")
        self.backend = backend
        with coco_backend(backend):
            super().__init__(*args, **kwargs)

    def compute_metrics(self, results: list) -> dict[str, float]:
        with coco_backend(self.backend):
            return self._per_class_metrics(results)

    def _per_class_metrics(self, results: list) -> dict[str, float]:
        if not self.classwise:
            return super().compute_metrics(results)
        metrics = self.metrics
        means, per_class = OrderedDict(), OrderedDict()
        self.classwise = len((self.dataset_meta or {}).get('classes', ())) > 1
        try:
            for metric in metrics:
                self.metrics = [metric]
                for key, value in super().compute_metrics(results).items():
                    if key.endswith(CLASS_AP_SUFFIX):
                        per_class[f'{metric}_AP_{key[:-len(CLASS_AP_SUFFIX)]}'] = value
                    else:
                        means[key] = value
        finally:
            self.metrics, self.classwise = metrics, True
        return OrderedDict(**means, **per_class)
