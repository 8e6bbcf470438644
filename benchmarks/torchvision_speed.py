"""Speed of this project's Mask R-CNN against torchvision's maskrcnn_resnet50_fpn, doing the same work.

Run it in the benchmark environment (benchmarks/README.md), from the repo root:
    .venv-bench/bin/python -m benchmarks.torchvision_speed --data-root ../shared/data/PennFudanPed \
        --images 2 --size 512x384 --batch 2 --threads 2 [--size native] [--optimised] [--device cuda --amp]

Both models compute the same function (benchmarks/matched_models.py: torchvision's weights mapped onto the
project's model, RoIAlign and anchors matched) on the same images at the same size (resized to --size, or
each at its own with --size native), the same ground truth, batch, device and thread count, with matched
settings: frozen BatchNorm and stem + layer1 frozen, RPN 2000 per level before NMS and 1000 after in training,
1000/1000 at test time, 512 sampled RoIs per image, score threshold 0.05, at most 100 detections per image.

Before any timing, the two models' predictions on the batch, as the project's Detections, are compared by the
export's parity check (custom/deploy/parity.py: detection counts, boxes matched at IoU >= 0.9, score
differences, mask IoU); if they differ, nothing is timed. Then the models alternate
call by call (a load change on a shared machine hits both), `--repeats` times `--warmup` untimed +
`--iters` timed calls per mode; reported: the median of each repeat's median and their spread, the ratios,
the per-stage breakdown (benchmarks/stages.py), each model's GFLOP per step (torch's FLOP counter) and the
fraction of the machine's measured dense fp32 matmul rate that reaches.
"""

import argparse
import contextlib
import copy
import platform
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pycocotools.mask as mask_utils
import torch

from benchmarks.matched_models import (
    FAST_MODEL,
    PROJECT_CONFIG,
    BenchmarkError,
    build_project_model,
    matched_models,
    require_torchvision,
    torchvision_detections,
)
from benchmarks.stages import STAGES, StageTimer, instrument_project, instrument_torchvision
from custom.deploy.parity import Agreement, agreement
from custom.errors import report_user_errors
from custom.structures.detections import Detections


@dataclass
class Sample:
    """One image at the benchmark size: BGR uint8 (H, W, 3), boxes (N, 4) x1y1x2y2, masks (N, H, W) uint8."""

    image: np.ndarray
    boxes: np.ndarray
    masks: np.ndarray


def load_samples(data_root: str | Path, count: int, size: tuple[int, int] | None) -> list[Sample]:
    """The first `count` images of a Penn-Fudan-layout folder with their masks, resized to size=(W, H)
    (None: each at its own size)."""
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
    samples = []
    for info in infos:
        image = cv2.imread(info['img_path'])
        masks = np.stack([mask_utils.decode(inst['mask']) for inst in info['instances']])
        if size is not None:
            image = cv2.resize(image, size, interpolation=cv2.INTER_LINEAR)
            masks = np.stack([cv2.resize(mask, size, interpolation=cv2.INTER_NEAREST) for mask in masks])
        keep = masks.reshape(len(masks), -1).any(axis=1)
        masks = masks[keep]
        boxes = np.array([mask_extent_box(mask) for mask in masks], dtype=np.float32)
        samples.append(Sample(image, boxes, masks))
    return samples


def batches(samples: list[Sample], batch_size: int) -> list[list[Sample]]:
    return [samples[i:i + batch_size] for i in range(0, len(samples), batch_size)]


# ---------------------------------------------------------------- the two models' inputs and steps

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


def torchvision_batch(batch: list[Sample], device: str) -> tuple[list[torch.Tensor], list[dict]]:
    """0-1 RGB images and targets (label 1: torchvision's class 0 is the background)."""
    images, targets = [], []
    for sample in batch:
        rgb = np.ascontiguousarray(sample.image[:, :, ::-1].transpose(2, 0, 1))
        images.append(torch.from_numpy(rgb).to(device).float() / 255)
        targets.append(dict(boxes=torch.from_numpy(sample.boxes).to(device),
                            labels=torch.ones(len(sample.boxes), dtype=torch.int64, device=device),
                            masks=torch.from_numpy(sample.masks).to(device)))
    return images, targets


PROJECT, PROJECT_FAST, TORCHVISION = 'project (mmdet)', 'project FastMaskRCNN', 'torchvision maskrcnn_r50_fpn'
SHORT_NAMES = {PROJECT: 'project', PROJECT_FAST: 'fast', TORCHVISION: 'torchvision'}


@dataclass
class Side:
    """One model of the comparison: how it trains one step and predicts one batch (the timed calls), and what
    its predictions are as the project's Detections (untimed: on a GPU that copies the masks to the host)."""

    name: str
    model: torch.nn.Module
    loss: Callable[[], torch.Tensor]
    predict: Callable[[], list]
    detections: Callable[[list], list[Detections]]
    instrument: Callable[[StageTimer, torch.nn.Module], None]

    def predict_detections(self) -> list[Detections]:
        return self.detections(self.predict())


def project_side(name: str, model, batch: list[Sample], device: str) -> Side:
    data = project_batch(batch)

    def loss():
        inputs = model.data_preprocessor(copy.copy(data), training=True)
        return model.parse_losses(model.loss(inputs['inputs'], inputs['data_samples']))[0]

    def predict():
        inputs = model.data_preprocessor(copy.copy(data), training=False)
        return model.predict(inputs['inputs'], inputs['data_samples'], rescale=True)

    return Side(name, model.to(device), loss, predict,
                lambda results: [Detections.from_instances(result.pred_instances) for result in results],
                instrument_project)


def torchvision_side(model, batch: list[Sample], device: str) -> Side:
    images, targets = torchvision_batch(batch, device)
    return Side(TORCHVISION, model.to(device), lambda: sum(model(images, targets).values()),
                lambda: model(images), lambda outputs: [torchvision_detections(out) for out in outputs],
                instrument_torchvision)


# ---------------------------------------------------------------- agreement of the predictions

# Before any timing the models must predict the same over the batch: as many detections, at least 95% of them
# paired at box IoU >= 0.9 with scores within 1e-3, and a mean mask IoU of those pairs of at least 0.75, not
# more: pasting differs by design (matched_models.py), random masks differ along every cell edge.
PAIR_BOX_IOU, MIN_PAIRED, MAX_SCORE_DIFF, MIN_MEAN_MASK_IOU = 0.9, 0.95, 1e-3, 0.75


def check_agreement(name: str, ours: list[Detections], theirs: list[Detections]) -> str:
    """How the project model `name`'s detections compare with torchvision's (custom/deploy/parity.py pairs
    them); raises BenchmarkError when they do not agree as above."""
    result = Agreement.combined([agreement(mine, other) for mine, other in zip(ours, theirs, strict=True)])
    paired = result.paired(PAIR_BOX_IOU)
    max_score_diff = float(result.score_diffs[paired].max(initial=0.0))
    mean_mask_iou = float(result.mask_ious[paired].mean()) if paired.any() else 0.0
    summary = (f'{result.expected} vs {result.actual} detections, {paired.sum()} matched at box IoU >= '
               f'{PAIR_BOX_IOU}, max score difference {max_score_diff:.2g}, mean mask IoU of matched '
               f'{mean_mask_iou:.3f}')
    if not (result.expected == result.actual and paired.sum() >= MIN_PAIRED * result.actual
            and max_score_diff < MAX_SCORE_DIFF and mean_mask_iou >= MIN_MEAN_MASK_IOU):
        raise BenchmarkError(f'{name} and torchvision do not predict the same: {summary}; no timing reported')
    return summary


# ---------------------------------------------------------------- timing

def synchronize(device: str) -> None:
    if device.startswith('cuda'):
        torch.cuda.synchronize()


def make_optimizer(model: torch.nn.Module) -> torch.optim.Optimizer:
    # lr 0: the timed steps do all the work of an SGD step without drifting the weights.
    return torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.0, momentum=0.9)


def step_calls(side: Side, timer: StageTimer, amp: bool, device: str) -> dict[str, Callable[[], object]]:
    """The timed call of each mode: a training step (forward, backward, SGD step) and an inference."""
    optimizer = make_optimizer(side.model)
    autocast = (lambda: torch.autocast(device.split(':')[0])) if amp else contextlib.nullcontext

    def train():
        with autocast():
            loss = side.loss()
        optimizer.zero_grad()
        timer.time_backward(loss)
        timer.time_stage('optimizer step', optimizer.step)

    def infer():
        with torch.no_grad(), autocast():
            return side.predict()

    return {'train': train, 'infer': infer}


@dataclass
class ModeTiming:
    """Seconds of one model in one mode: the median of each repeat, and the per-stage medians."""

    repeat_medians: list[float] = field(default_factory=list)
    stages: dict[str, float] = field(default_factory=dict)
    gflops: float = 0.0

    @property
    def median(self) -> float:
        return statistics.median(self.repeat_medians)


def time_side_by_side(sides: list[Side], warmup: int, iters: int, repeats: int, amp: bool,
                      device: str) -> dict[str, dict[str, ModeTiming]]:
    """timings[mode][side name]. The models alternate call by call, so a load change on a shared machine hits
    both alike; each repeat warms up again and gives one median of `iters` calls per model and mode."""
    from torch.utils.flop_counter import FlopCounterMode

    timings: dict[str, dict[str, ModeTiming]] = {'train': {}, 'infer': {}}
    timers, calls = {}, {}
    for side in sides:
        timers[side.name] = StageTimer(lambda: synchronize(device))
        side.instrument(timers[side.name], side.model)
        calls[side.name] = step_calls(side, timers[side.name], amp, device)
    try:
        for mode in ('train', 'infer'):
            for side in sides:
                side.model.train(mode == 'train')
                timings[mode][side.name] = ModeTiming()
                with FlopCounterMode(display=False) as counter:  # also the first warm-up call
                    calls[side.name][mode]()
                timings[mode][side.name].gflops = counter.get_total_flops() / 1e9
            if PROJECT_FAST in timings[mode]:
                # The same function as the plain model (agreement-checked), but torch's FLOP counter books its
                # sparse RoIAlign product as a dense one over every feature position: count the plain model's.
                timings[mode][PROJECT_FAST].gflops = timings[mode][PROJECT].gflops
            for _ in range(repeats):
                for _ in range(warmup):
                    for side in sides:
                        calls[side.name][mode]()
                seconds: dict[str, list[float]] = {side.name: [] for side in sides}
                for _ in range(iters):
                    for side in sides:
                        side.model.train(mode == 'train')
                        seconds[side.name].append(timers[side.name].measure(calls[side.name][mode])[0])
                for side in sides:
                    timings[mode][side.name].repeat_medians.append(statistics.median(seconds[side.name]))
            for side in sides:
                timings[mode][side.name].stages = timers[side.name].medians()
                timers[side.name].reset()
    finally:
        for timer in timers.values():
            timer.restore()
    return timings


def dense_gflops_per_second(device: str, size: int = 2048, seconds: float = 2.0) -> float:
    """The machine's measured dense fp32 matrix-multiply rate: the ceiling the models' convolutions reach."""
    a, b = torch.randn(size, size, device=device), torch.randn(size, size, device=device)
    torch.mm(a, b)
    synchronize(device)
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        torch.mm(a, b)
        synchronize(device)
        count += 1
    return 2 * size ** 3 * count / (time.perf_counter() - start) / 1e9


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


def format_report(sides: list[Side], timings: dict[str, dict[str, ModeTiming]], batch_size: int,
                  peak_gflops: float) -> str:
    names = [side.name for side in sides]
    lines = [f'{"model":<30}{"train step ms":>16}{"[min - max]":>17}{"img/s":>7}'
             f'{"infer ms/batch":>17}{"[min - max]":>17}']
    for name in names:
        train, infer = timings['train'][name], timings['infer'][name]
        lines.append(f'{name:<30}{train.median * 1000:>16.0f}{spread(train.repeat_medians, 1000):>17}'
                     f'{batch_size / train.median:>7.2f}{infer.median * 1000:>17.0f}'
                     f'{spread(infer.repeat_medians, 1000):>17}')
    reference = names[-1]  # torchvision's
    for name in names[:-1]:
        ours, theirs = timings['train'][name].repeat_medians, timings['train'][reference].repeat_medians
        train_ratios = [b / a for a, b in zip(ours, theirs, strict=True)]  # throughput: theirs/ours time
        ours, theirs = timings['infer'][name].repeat_medians, timings['infer'][reference].repeat_medians
        infer_ratios = [a / b for a, b in zip(ours, theirs, strict=True)]
        lines += ['', f'ratios {name} / {reference} (median of the repeats [min - max]):',
                  f'  training throughput {statistics.median(train_ratios):.2f}x {spread(train_ratios)} '
                  f'(target >= 1.1x: {"met" if statistics.median(train_ratios) >= 1.1 else "missed"})',
                  f'  inference latency   {statistics.median(infer_ratios):.2f}x {spread(infer_ratios)} '
                  f'(target <= 0.8x: {"met" if statistics.median(infer_ratios) <= 0.8 else "missed"})']
    lines += ['', 'per-stage breakdown, median ms per step (training: forward + backward + SGD step):',
              f'{"stage":<30}' + ''.join(f'{mode + " " + SHORT_NAMES[name]:>19}'
                                         for mode in ('train', 'infer') for name in names)]
    for stage in STAGES:
        values = [timings[mode][name].stages.get(stage) for mode in ('train', 'infer') for name in names]
        if any(value is not None for value in values):
            lines.append(f'{stage:<30}' + ''.join(f'{"" if v is None else f"{v * 1000:.0f}":>19}'
                                                   for v in values))
    lines += ['', f'physical limit: dense fp32 matmul measured at {peak_gflops:.1f} GFLOP/s on this device',
              f'{"model":<30}{"train GFLOP":>13}{"% of limit":>12}{"infer GFLOP":>13}{"% of limit":>12}']
    for name in names:
        train, infer = timings['train'][name], timings['infer'][name]
        lines.append(f'{name:<30}{train.gflops:>13.1f}{train.gflops / train.median / peak_gflops:>12.1%}'
                     f'{infer.gflops:>13.1f}{infer.gflops / infer.median / peak_gflops:>12.1%}')
    return '\n'.join(lines)


def spread(values: list[float], scale: float = 1.0) -> str:
    digits = 0 if scale > 1 else 2
    return f'[{min(values) * scale:.{digits}f} - {max(values) * scale:.{digits}f}]'


# ---------------------------------------------------------------- command line

def parse_size(text: str) -> tuple[int, int] | None:
    """'512x384' -> (512, 384): width x height in pixels; 'native' -> None (each image at its own size)."""
    if text == 'native':
        return None
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
    parser.add_argument('--size', type=parse_size, default=(512, 384),
                        help='input size WIDTHxHEIGHT, or "native" for the images\' own sizes')
    parser.add_argument('--batch', type=int, default=2, help='images per step')
    parser.add_argument('--warmup', type=int, default=1, help='untimed calls at the start of each repeat')
    parser.add_argument('--iters', type=int, default=5, help='timed calls per repeat (their median counts)')
    parser.add_argument('--repeats', type=int, default=3, help='repeats: medians and spread over them')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--amp', action='store_true', help='both models under torch.autocast (CUDA: fp16)')
    parser.add_argument('--threads', type=int, default=None, help='torch CPU threads (default: torch\'s)')
    parser.add_argument('--optimised', action='store_true',
                        help='also time the project model with configs/_base_/models/fast_mask_rcnn.py')
    parser.add_argument('--workers', type=int, default=None,
                        help='DataLoader workers for the data-time measurement (default: the config\'s)')
    parser.add_argument('--loader-iters', type=int, default=0,
                        help='iterations of the data-time measurement of the project model; 0 skips it')
    return parser.parse_args(argv)


@report_user_errors
def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    require_torchvision()  # fail before anything slow
    if args.device.startswith('cuda') and not torch.cuda.is_available():
        raise BenchmarkError('--device cuda: no CUDA GPU is visible here; use --device cpu')
    if args.threads:
        torch.set_num_threads(args.threads)
    warnings.filterwarnings('ignore')
    samples = load_samples(args.data_root, args.images, args.size)
    batch = batches(samples, args.batch)[0]
    sizes = sorted({f'{s.image.shape[1]}x{s.image.shape[0]}' for s in batch})
    device_name = torch.cuda.get_device_name() if args.device.startswith('cuda') else platform.processor()
    import torchvision

    print(f'device {args.device} ({device_name or platform.machine()}), torch {torch.__version__}, '
          f'torchvision {torchvision.__version__}, {torch.get_num_threads()} threads'
          f'{", amp" if args.amp else ""}'
          f' | {len(batch)} images ({", ".join(sizes)}) from {args.data_root}, batch {len(batch)}, '
          f'{args.repeats} repeats of {args.warmup} warm-up + {args.iters} timed iterations', flush=True)

    images = torchvision_batch(batch, args.device)[0]
    project, reference = matched_models(images, args.device)
    sides = [project_side(PROJECT, project, batch, args.device)]
    if args.optimised:
        fast = build_project_model(args.device, overrides=FAST_MODEL)
        fast.load_state_dict(project.state_dict())
        sides.append(project_side(PROJECT_FAST, fast, batch, args.device))
    sides.append(torchvision_side(reference, batch, args.device))
    for side in sides:
        side.model.eval()
    with torch.no_grad():
        predictions = [side.predict_detections() for side in sides]
    for side, prediction in zip(sides[:-1], predictions, strict=False):
        summary = check_agreement(side.name, prediction, predictions[-1])
        print(f'agreement of {side.name} with torchvision before timing: {summary}', flush=True)
    timings = time_side_by_side(sides, args.warmup, args.iters, args.repeats, args.amp, args.device)
    print('\n' + format_report(sides, timings, len(batch), dense_gflops_per_second(args.device)))
    if args.loader_iters > 0:
        loader = time_data_loading(args.data_root, args.size or (512, 384), args.batch, args.loader_iters,
                                   args.workers, args.device)
        share = loader.data_ms / loader.step_ms
        print(f'\ndata loading (project, num_workers={loader.num_workers}, persistent_workers='
              f'{loader.persistent_workers}, pin_memory={loader.pin_memory}): data time '
              f'{loader.data_ms:.1f} ms of {loader.step_ms:.0f} ms per iteration ({share:.1%})'
              + (' -- the loader is starving the model' if share > 0.1 else ''))


if __name__ == '__main__':
    sys.exit(main())
