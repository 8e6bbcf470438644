"""COCO metrics of any ``Detector`` on a config's test set, without the runner: the config's own test
evaluator (custom/evaluation/coco_metric.py) fed with the detector's detections, image by image, on the
images as the dataset reads them. What tools/test.py --slice runs (sliced inference sees the image at its
own size, which the runner's test pipeline would have resized), for any backend.
"""

import time
from dataclasses import dataclass
from pathlib import Path

import torch
from mmengine.config import Config
from mmengine.evaluator import Evaluator
from mmengine.registry import DefaultScope
from tqdm import tqdm

from custom.apis.inference import Detector, read_image
from custom.datasets.builder import configured_datasets, dataset_as_read
from custom.engine.runtime import result_dump
from custom.errors import ConfigError


@dataclass
class Evaluation:
    metrics: dict[str, float]
    images: int
    seconds_per_image: float  # the detector's time alone (not reading images or computing metrics)


def config_test_dataset(cfg: Config):
    """The config's test dataset, as it reads its images and annotations (no pipeline)."""
    found = list(configured_datasets(cfg, ('test_dataloader',)))
    if len(found) != 1:
        raise ConfigError(f'{cfg.filename}: evaluating a detector takes one test dataset, the config has '
                          f'{len(found)} (test_dataloader.dataset)')
    return dataset_as_read(found[0][1])


def evaluate_detector(detector: Detector, cfg: Config, score_thr: float = 0.0, limit: int | None = None,
                      dump: str | Path | None = None) -> Evaluation:
    """The test evaluator's metrics of ``detector`` on the config's test set (its first ``limit`` images);
    with ``dump``, the predictions also go to that pickle, as tools/test.py --out writes them (mmdet's
    DumpDetResults)."""
    dataset = config_test_dataset(cfg)
    with DefaultScope.overwrite_default_scope('mmdet'):
        evaluator = Evaluator(cfg.test_evaluator)
    if dump is not None:
        evaluator.metrics.append(result_dump(dump))
    evaluator.dataset_meta = dataset.metainfo
    count = len(dataset) if limit is None else min(limit, len(dataset))
    seconds = 0.0
    for index in tqdm(range(count), desc='evaluating', unit='image'):
        info = dataset.get_data_info(index)
        image = read_image(Path(info['img_path']))
        start = time.perf_counter()
        found = detector(image, score_thr)
        seconds += time.perf_counter() - start
        pred = dict(bboxes=torch.from_numpy(found.bboxes), scores=torch.from_numpy(found.scores),
                    labels=torch.from_numpy(found.labels))
        if found.masks is not None:
            pred['masks'] = torch.from_numpy(found.masks)
        evaluator.process([dict(img_id=info['img_id'], img_path=info['img_path'], ori_shape=image.shape[:2],
                                instances=info['instances'], pred_instances=pred)])
    return Evaluation(evaluator.evaluate(count), count, seconds / max(count, 1))
