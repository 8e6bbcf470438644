"""Speed of this project's Mask R-CNN against torchvision's maskrcnn_resnet50_fpn, side by side.

Run it in the benchmark environment (benchmarks/README.md), from the repo root:
    .venv-bench/bin/python -m benchmarks.torchvision_speed --data-root ../shared/data/PennFudanPed \
        --images 2 --size 512x384 --batch 2 --warmup 2 --iters 5

Both models get the same images (read from a Penn-Fudan-layout folder and resized to one input size),
the same ground truth, batch, device and thread count, and matched settings: ResNet-50-FPN with frozen
BatchNorm and the stem + layer1 frozen, 2000 proposals per FPN level before NMS and 1000 after in
training, 512 sampled RoIs per image, 1000/1000 proposals and at most 100 detections at test time,
score threshold 0.05. Weights are random (nothing is downloaded): the timings do not depend on them
except through the number of detections, which is printed.

Measured: training throughput (images/s of forward + backward + SGD step on a cached batch), inference
latency (ms per batch, forward without gradients including mask pasting), and for this project's
model the data time vs step time of a real DataLoader built from the Penn-Fudan config.
"""

import argparse
import copy
import platform
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pycocotools.mask as mask_utils
import torch

from custom.errors import UserError, report_user_errors

PROJECT_CONFIG = 'configs/pennfudan_maskrcnn.py'


class BenchmarkError(UserError, RuntimeError):
    """The benchmark cannot run here (missing torchvision, no images, no CUDA for --device cuda)."""


def require_torchvision():
    """Imports torchvision or explains how to get an environment that has it."""
    try:
        import torchvision
        from torchvision.models.detection import MaskRCNN  # noqa: F401
    except Exception as error:  # ImportError, or PyPI's torchvision beside another torch build
        raise BenchmarkError(
            f'torchvision cannot be imported here ({type(error).__name__}: {error}). The benchmark compares '
            'against torchvision\'s maskrcnn_resnet50_fpn, so it needs both in one environment: run '
            '`bash benchmarks/setup_env.sh` once, then '
            '`.venv-bench/bin/python -m benchmarks.torchvision_speed ...` (benchmarks/README.md).'
        ) from error
    return torchvision


@dataclass
class Sample:
    """One image at the benchmark size: BGR uint8 (H, W, 3), boxes (N, 4) x1y1x2y2, masks (N, H, W) uint8."""

    image: np.ndarray
    boxes: np.ndarray
    masks: np.ndarray


def load_samples(data_root: str | Path, count: int, size: tuple[int, int]) -> list[Sample]:
    """The first `count` images of a Penn-Fudan-layout folder with their masks, resized to size=(W, H)."""
    from custom.datasets.pennfudan import PennFudanDataset
    from custom.structures.masks import mask_extent_box

    dataset = PennFudanDataset(data_root=f'{Path(data_root)}/', ann_file='', lazy_init=True,
                               filter_cfg=None, pipeline=[])
    infos = []
    for stem in dataset.image_keys():  # parses only as many images as needed
        if len(infos) >= count:
            break
        info = dataset.parse_image(stem).info
        if info['instances']:
            infos.append(info)
    if len(infos) < count:
        raise BenchmarkError(f'{data_root}: needs {count} images with pedestrians, found {len(infos)}')
    width, height = size
    samples = []
    for info in infos:
        image = cv2.resize(cv2.imread(info['img_path']), (width, height), interpolation=cv2.INTER_LINEAR)
        masks = np.stack([cv2.resize(mask_utils.decode(inst['mask']), (width, height),
                                     interpolation=cv2.INTER_NEAREST) for inst in info['instances']])
        keep = masks.reshape(len(masks), -1).any(axis=1)
        masks = masks[keep]
        boxes = np.array([mask_extent_box(mask) for mask in masks], dtype=np.float32)
        samples.append(Sample(image, boxes, masks))
    return samples


def batches(samples: list[Sample], batch_size: int) -> list[list[Sample]]:
    return [samples[i:i + batch_size] for i in range(0, len(samples), batch_size)]


# ---------------------------------------------------------------- this project's model (MMDetection)

def build_project_model(device: str) -> torch.nn.Module:
    """The Mask R-CNN of configs/pennfudan_maskrcnn.py with random weights (no backbone download)."""
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    from mmengine.config import Config

    register_all_modules()
    cfg = Config.fromfile(PROJECT_CONFIG)
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.backbone.init_cfg = None
    return MODELS.build(model_cfg).to(device)


def project_batch(batch: list[Sample]) -> dict:
    """What PackDetInputs + pseudo_collate produce for these images (metainfo at the benchmark size)."""
    from mmdet.structures import DetDataSample
    from mmdet.structures.bbox import HorizontalBoxes
    from mmdet.structures.mask import BitmapMasks
    from mmengine.structures import InstanceData

    inputs, data_samples = [], []
    for sample in batch:
        height, width = sample.image.shape[:2]
        inputs.append(torch.from_numpy(np.ascontiguousarray(sample.image.transpose(2, 0, 1))))
        data_sample = DetDataSample(metainfo=dict(img_shape=(height, width), ori_shape=(height, width),
                                                  scale_factor=(1.0, 1.0)))
        data_sample.gt_instances = InstanceData(
            bboxes=HorizontalBoxes(torch.from_numpy(sample.boxes)),
            labels=torch.zeros(len(sample.boxes), dtype=torch.long),
            masks=BitmapMasks(sample.masks, height, width))
        data_samples.append(data_sample)
    return dict(inputs=inputs, data_samples=data_samples)


def project_train_step(model, optimizer, batch: dict) -> None:
    data = model.data_preprocessor(copy.copy(batch), training=True)
    loss, _ = model.parse_losses(model.loss(data['inputs'], data['data_samples']))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()


def project_predict(model, batch: dict) -> int:
    """Runs inference; returns the number of detections in the batch."""
    data = model.data_preprocessor(copy.copy(batch), training=False)
    results = model.predict(data['inputs'], data['data_samples'], rescale=True)
    return sum(len(result.pred_instances) for result in results)


# ---------------------------------------------------------------- torchvision's model

def build_torchvision_model(device: str) -> torch.nn.Module:
    """maskrcnn_resnet50_fpn's architecture with the project model's settings (see module docstring)."""
    torchvision = require_torchvision()
    from torchvision.models.detection import MaskRCNN
    from torchvision.models.detection.backbone_utils import _resnet_fpn_extractor
    from torchvision.ops import FrozenBatchNorm2d

    resnet = torchvision.models.resnet50(weights=None, norm_layer=FrozenBatchNorm2d)
    backbone = _resnet_fpn_extractor(resnet, trainable_layers=3)  # layer2-4 train, as frozen_stages=1
    model = MaskRCNN(backbone, num_classes=2,  # background + pedestrian
                     rpn_pre_nms_top_n_train=2000, rpn_post_nms_top_n_train=1000,
                     rpn_pre_nms_top_n_test=1000, rpn_post_nms_top_n_test=1000,
                     box_batch_size_per_image=512, box_score_thresh=0.05, box_detections_per_img=100)
    return model.to(device)


def torchvision_model_input_size(model, size: tuple[int, int]) -> None:
    """Keeps torchvision's transform from resizing: the images already have the benchmark size."""
    width, height = size
    model.transform.min_size, model.transform.max_size = (min(width, height),), max(width, height)


def torchvision_batch(batch: list[Sample], device: str) -> tuple[list[torch.Tensor], list[dict]]:
    images, targets = [], []
    for sample in batch:
        rgb = np.ascontiguousarray(sample.image[:, :, ::-1].transpose(2, 0, 1))
        images.append(torch.from_numpy(rgb).to(device).float() / 255)
        targets.append(dict(boxes=torch.from_numpy(sample.boxes).to(device),
                            labels=torch.ones(len(sample.boxes), dtype=torch.int64, device=device),
                            masks=torch.from_numpy(sample.masks).to(device)))
    return images, targets


def torchvision_train_step(model, optimizer, batch: tuple[list[torch.Tensor], list[dict]]) -> None:
    images, targets = batch
    loss = sum(model(images, targets).values())
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()


def torchvision_predict(model, batch: tuple[list[torch.Tensor], list[dict]]) -> int:
    return sum(len(output['boxes']) for output in model(batch[0]))


# ---------------------------------------------------------------- timing

def synchronize(device: str) -> None:
    if device.startswith('cuda'):
        torch.cuda.synchronize()


def time_calls(call: Callable[[], object], warmup: int, iters: int, device: str) -> tuple[list[float], list]:
    """Seconds of each of `iters` timed calls after `warmup` untimed ones, and what those calls returned."""
    for _ in range(warmup):
        call()
    synchronize(device)
    seconds, returned = [], []
    for _ in range(iters):
        start = time.perf_counter()
        returned.append(call())
        synchronize(device)
        seconds.append(time.perf_counter() - start)
    return seconds, returned


@dataclass
class ModelTiming:
    name: str
    train_images_per_s: float
    train_step_ms: float
    infer_ms_per_batch: float
    detections_per_image: float


def make_optimizer(model: torch.nn.Module) -> torch.optim.Optimizer:
    # lr 0: the timed steps do all the work of an SGD step without drifting the random weights.
    return torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.0, momentum=0.9)


def time_model(name: str, model, train_step, predict, batch, batch_size: int, warmup: int, iters: int,
               device: str) -> ModelTiming:
    model.train()
    optimizer = make_optimizer(model)
    train_seconds, _ = time_calls(lambda: train_step(model, optimizer, batch), warmup, iters, device)
    model.eval()
    with torch.no_grad():
        infer_seconds, detections = time_calls(lambda: predict(model, batch), warmup, iters, device)
    step = statistics.median(train_seconds)
    return ModelTiming(name, batch_size / step, step * 1000, statistics.median(infer_seconds) * 1000,
                       statistics.mean(detections) / batch_size)


@dataclass
class LoaderTiming:
    num_workers: int
    persistent_workers: bool
    pin_memory: bool
    data_ms: float
    step_ms: float


def time_data_loading(data_root: str | Path, size: tuple[int, int], batch_size: int, iters: int,
                      num_workers: int | None, device: str) -> LoaderTiming:
    """mmengine-style data_time (waiting for the next batch) vs time (whole iteration) of the project's model
    trained from the Penn-Fudan config's own train DataLoader (workers, persistent workers, pin memory)."""
    from mmengine.optim import OptimWrapper
    from mmengine.runner import Runner

    from custom.engine.runtime import load_config

    cfg = load_config(PROJECT_CONFIG, {'train_dataloader.dataset.data_root': f'{Path(data_root)}/',
                                       'train_dataloader.dataset.ann_file': '',
                                       'train_dataloader.batch_size': batch_size})
    loader_cfg = cfg.train_dataloader
    if num_workers is not None:
        loader_cfg.num_workers = num_workers
        loader_cfg.persistent_workers = loader_cfg.persistent_workers and num_workers > 0
    for transform in loader_cfg.dataset.pipeline:
        if transform['type'] == 'Resize':
            transform['scale'] = size
    loader = Runner.build_dataloader(copy.deepcopy(loader_cfg.to_dict()), seed=0)
    model = build_project_model(device)
    model.train()
    optim_wrapper = OptimWrapper(make_optimizer(model))
    data_times, step_times = [], []
    batches_iter = iter(loader)
    for index in range(iters + 1):  # the first iteration starts the workers: not timed
        start = time.perf_counter()
        try:
            data = next(batches_iter)
        except StopIteration:
            batches_iter = iter(loader)
            data = next(batches_iter)
        loaded = time.perf_counter()
        model.train_step(data, optim_wrapper)
        synchronize(device)
        if index:
            data_times.append(loaded - start)
            step_times.append(time.perf_counter() - start)
    return LoaderTiming(loader_cfg.num_workers, bool(loader_cfg.get('persistent_workers')),
                        bool(loader_cfg.get('pin_memory')), statistics.mean(data_times) * 1000,
                        statistics.mean(step_times) * 1000)


def format_report(timings: list[ModelTiming], loader: LoaderTiming | None, setup: str) -> str:
    lines = [setup, '', f'{"model":<28}{"train img/s":>12}{"train step ms":>15}{"infer ms/batch":>16}'
                        f'{"dets/img":>10}']
    for timing in timings:
        lines.append(f'{timing.name:<28}{timing.train_images_per_s:>12.2f}{timing.train_step_ms:>15.0f}'
                     f'{timing.infer_ms_per_batch:>16.0f}{timing.detections_per_image:>10.1f}')
    if len(timings) == 2:
        ours, theirs = timings
        lines += ['', f'ratios {ours.name} / {theirs.name}: training throughput '
                      f'{ours.train_images_per_s / theirs.train_images_per_s:.2f}x, inference latency '
                      f'{ours.infer_ms_per_batch / theirs.infer_ms_per_batch:.2f}x (below 1 = faster)']
    if loader is not None:
        share = loader.data_ms / loader.step_ms
        lines += ['', f'data loading ({timings[0].name}, num_workers={loader.num_workers}, '
                      f'persistent_workers={loader.persistent_workers}, pin_memory={loader.pin_memory}): '
                      f'data time {loader.data_ms:.1f} ms of {loader.step_ms:.0f} ms per iteration '
                      f'({share:.1%})'
                      + (' -- the loader is starving the model' if share > 0.1 else '')]
    return '\n'.join(lines)


# ---------------------------------------------------------------- command line

def parse_size(text: str) -> tuple[int, int]:
    """'512x384' -> (512, 384): width x height in pixels."""
    try:
        width, height = (int(part) for part in text.lower().split('x'))
    except ValueError:
        raise argparse.ArgumentTypeError(f'{text!r}: expected WIDTHxHEIGHT, e.g. 512x384') from None
    return width, height


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--data-root', default='data/PennFudanPed',
                        help='a Penn-Fudan-layout folder (PNGImages/, PedMasks/) to read the images from')
    parser.add_argument('--images', type=int, default=2, help='images used for the model timings')
    parser.add_argument('--size', type=parse_size, default=(512, 384), help='input size WIDTHxHEIGHT')
    parser.add_argument('--batch', type=int, default=2, help='images per step')
    parser.add_argument('--warmup', type=int, default=2, help='untimed iterations first')
    parser.add_argument('--iters', type=int, default=5, help='timed iterations (medians are reported)')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--threads', type=int, default=None, help='torch CPU threads (default: torch\'s)')
    parser.add_argument('--workers', type=int, default=None,
                        help='DataLoader workers for the data-time measurement (default: the config\'s)')
    parser.add_argument('--loader-iters', type=int, default=5,
                        help='iterations of the data-time measurement; 0 skips it')
    parser.add_argument('--skip-torchvision', action='store_true',
                        help='time only this project\'s model when torchvision cannot be imported')
    return parser.parse_args(argv)


@report_user_errors
def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    try:
        torchvision_version = require_torchvision().__version__  # fail before anything slow
    except BenchmarkError as error:
        if not args.skip_torchvision:
            raise
        torchvision_version, missing = 'unavailable', str(error).split('. ')[0]
    if args.device.startswith('cuda') and not torch.cuda.is_available():
        raise BenchmarkError('--device cuda: no CUDA GPU is visible here; use --device cpu')
    if args.threads:
        torch.set_num_threads(args.threads)
    warnings.filterwarnings('ignore')
    samples = load_samples(args.data_root, args.images, args.size)
    batch = batches(samples, args.batch)[0]
    device_name = torch.cuda.get_device_name() if args.device.startswith('cuda') else platform.processor()
    setup = (f'device {args.device} ({device_name or platform.machine()}), torch {torch.__version__}, '
             f'torchvision {torchvision_version}, {torch.get_num_threads()} threads | '
             f'{len(batch)} images of {args.size[0]}x{args.size[1]} from {args.data_root}, '
             f'batch {len(batch)}, '
             f'{args.warmup} warm-up + {args.iters} timed iterations (medians)')

    project = build_project_model(args.device)
    timings = [time_model('project (mmdet Mask R-CNN)', project, project_train_step, project_predict,
                          project_batch(batch), len(batch), args.warmup, args.iters, args.device)]
    del project
    if torchvision_version != 'unavailable':
        reference = build_torchvision_model(args.device)
        torchvision_model_input_size(reference, args.size)
        timings.append(time_model('torchvision maskrcnn_r50_fpn', reference, torchvision_train_step,
                                  torchvision_predict, torchvision_batch(batch, args.device), len(batch),
                                  args.warmup, args.iters, args.device))
        del reference
    else:
        setup += f'\ntorchvision not measured (--skip-torchvision): {missing}'
    loader = None
    if args.loader_iters > 0:
        loader = time_data_loading(args.data_root, args.size, args.batch, args.loader_iters, args.workers,
                                   args.device)
    print(format_report(timings, loader, setup))


if __name__ == '__main__':
    sys.exit(main())
