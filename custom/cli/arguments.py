"""Argument groups the command-line tools share, so a flag means the same in every tool, and the on-disk
sources by their command-line names."""

import argparse
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from mmengine.config import DictAction

from custom.apis.augmentation import TTA_SUMMARY, AugmentedDetector
from custom.apis.slicing import MATCH_METRICS, SlicedDetector, SliceSettings
from custom.errors import ConfigError
from custom.evaluation.matching import DEFAULT_SCORE_THR
from custom.structures.tiles import parse_tile_size

if TYPE_CHECKING:  # the backends import torch and onnxruntime: only the tools that run one load them
    from custom.apis.inference import Detector

SOURCE_TYPES = {'pennfudan': 'PennFudanDataset', 'voc': 'VOCXMLDataset', 'kitti': 'KittiDataset'}
# The json sources: for coco, via and labelstudio `split` names the annotation json, for labelme a list of
# stems.
SOURCE_TYPES.update(coco='CocoJsonDataset', labelme='LabelmeDataset', via='VIADataset',
                    labelstudio='LabelStudioDataset')


def source_config(source: str, root: str | Path, split: str | Path | None = '',
                  classes: Iterable[str] | None = None, class_map: dict | None = None,
                  data_prefix: dict | None = None, with_mask: bool = False,
                  options: dict | None = None) -> dict:
    """Dataset config for `source` over `root`; `split` is a list file relative to root (or any existing
    path), ''/None for every image (coco, via, labelstudio: the annotation json); `with_mask` is VOC's (the
    other formats' masks are fixed); `options` are further arguments of the dataset class (e.g. via's
    class_attribute)."""
    if source not in SOURCE_TYPES:
        raise ConfigError(f'unknown source {source!r}; choose from {sorted(SOURCE_TYPES)}')
    if split and not (Path(root) / split).is_file() and Path(split).is_file():
        split = Path(split).resolve()
    cfg = dict(type=SOURCE_TYPES[source], data_root=str(root), ann_file=str(split or ''))
    if classes:
        cfg['metainfo'] = dict(classes=tuple(classes))
    if data_prefix:
        cfg['data_prefix'] = dict(data_prefix)
    if class_map:
        cfg['class_map'] = dict(class_map)
    if with_mask:
        if source != 'voc':
            raise ConfigError(f'with_mask is an option of the voc source ({source} masks are fixed by its '
                              'format)')
        cfg['with_mask'] = True
    cfg.update(options or {})
    return cfg


class KeyValueAction(DictAction):
    """mmengine's DictAction (``key=value`` pairs, values read as numbers, lists or tuples where they look
    like one) that stops with a usage error, not a traceback, at an item without '='."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        malformed = [value for value in values or [] if '=' not in value]
        if malformed:
            parser.error(f'{option_string} takes key=value pairs, got {malformed[0]!r}')
        super().__call__(parser, namespace, values, option_string)


def add_source_arguments(parser: argparse.ArgumentParser, required: bool = True) -> None:
    """SOURCE ROOT and the flags that describe one data set on disk (validate, convert, split)."""
    nargs = None if required else '?'
    parser.add_argument('source', nargs=nargs, choices=sorted(SOURCE_TYPES), help='on-disk format of ROOT')
    parser.add_argument('root', nargs=nargs, help='data set folder (data_root)')
    parser.add_argument('--split', default='',
                        help='split file relative to ROOT (or any path); default: every image. '
                             'coco, via, labelstudio: the annotation json')
    parser.add_argument('--classes', nargs='+', help="class names (default: the format's own classes)")
    parser.add_argument('--class-map', nargs='+', action=KeyValueAction, default={}, metavar='SRC=DST',
                        help='rename source classes before matching --classes, e.g. person=pedestrian')
    parser.add_argument('--data-prefix', nargs='+', action=KeyValueAction, default={}, metavar='KEY=FOLDER',
                        help='folders relative to ROOT, e.g. img=JPEGImages/ ann=Annotations/')
    parser.add_argument('--with-mask', action='store_true', help='voc: also read SegmentationObject/ masks')
    options_help = ("further arguments of the source's dataset class, e.g. via: class_attribute=name, "
                    'labelme: ignore_label=__ignore__, coco: require_masks=False, '
                    'labelstudio: results=predictions')
    parser.add_argument('--dataset-options', nargs='+', action=KeyValueAction, default={},
                        metavar='KEY=VALUE', help=options_help)


def source_config_from_args(args: argparse.Namespace) -> dict:
    """The dataset config the source flags describe."""
    return source_config(args.source, args.root, args.split, args.classes, args.class_map, args.data_prefix,
                         args.with_mask, args.dataset_options)


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    """--data-root, --classes and --img-scale: one flag each for what a config repeats in every loader, head
    or pipeline (custom/engine/runtime.py apply_data_options), and --cfg-options for the rest."""
    group = parser.add_argument_group('data and config (each flag is set everywhere the config uses it)')
    group.add_argument('--data-root', metavar='DIR', help='data folder of every dataset the config reads')
    group.add_argument('--classes', nargs='+', metavar='NAME',
                       help="class names of every dataset, and every head's number of classes")
    group.add_argument('--img-scale', nargs=2, type=int, metavar=('WIDTH', 'HEIGHT'),
                       help='image size of every Resize step of every pipeline (e.g. 320 240 for a CPU try)')
    group.add_argument('--cfg-options', nargs='+', action=KeyValueAction,
                       help='override config settings, key=value pairs like model.backbone.depth=101')


def data_options(args: argparse.Namespace) -> dict:
    """The data flags as keyword arguments of load_config (custom/engine/runtime.py)."""
    return dict(data_root=args.data_root, classes=args.classes, img_scale=args.img_scale)


# What each inference backend takes before its inputs (tools/infer.py, tools/serve.py).
BACKEND_FILES = {'pytorch': ('CONFIG', 'CHECKPOINT'), 'onnxruntime': ('MODEL.onnx',),
                 'openvino': ('MODEL.onnx',)}


def add_backend_arguments(parser: argparse.ArgumentParser) -> None:
    """--backend and what a backend takes besides its files: --device, --threads, and the data flags that
    rebuild the config as trained (pytorch)."""
    parser.add_argument('--backend', choices=list(BACKEND_FILES), default='pytorch',
                        help='pytorch: MMDetection on CONFIG + CHECKPOINT; onnxruntime, openvino: an ONNX '
                             'file written by tools/export_onnx.py, run by that runtime on the CPU')
    parser.add_argument('--device', help="pytorch: e.g. 'cuda:0' or 'cpu' (default: GPU when available)")
    parser.add_argument('--threads', type=int,
                        help='onnxruntime, openvino: CPU threads (default: $OMP_NUM_THREADS, else all cores)')
    add_data_arguments(parser)  # pytorch: the config as trained (--classes when training had them)
    add_tta_argument(parser)
    add_slice_arguments(parser)


def add_tta_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--tta', action='store_true',
                        help='test-time augmentation: also run the mirror image and merge the two (masks by '
                             'vote, custom/apis/augmentation.py); twice the time, higher AP on the measured '
                             'cases (docs/sliced_inference.md)')


def add_slice_arguments(parser: argparse.ArgumentParser) -> None:
    """--slice and its settings: sliced inference (custom/apis/slicing.py) over any backend."""
    group = parser.add_argument_group('sliced inference, for small objects in big images '
                                      '(docs/sliced_inference.md)')
    group.add_argument('--slice', metavar='WxH',
                       help='run the model on overlapping tiles of this size (e.g. 640x640) and merge what '
                            'they find; an image smaller than a tile runs whole')
    group.add_argument('--overlap', type=float,
                       help='--slice: overlap of neighbouring tiles, a fraction of the tile size '
                            f'(default {SliceSettings.overlap})')
    group.add_argument('--full-pass', action='store_true',
                       help='--slice: also run the whole image, for objects larger than a tile')
    group.add_argument('--slice-match', choices=MATCH_METRICS,
                       help="--slice: how alike two tiles' detections must look where the tiles overlap to "
                            'be one object: intersection over the smaller (ios, default) or over the union '
                            '(iou), at least 0.5')
    group.add_argument('--slice-batch', type=int, metavar='N',
                       help='--slice, pytorch: tiles per model call (default 1; 4-8 on a GPU: on the CPU a '
                            'batch costs more per image)')


# The --slice settings: flag -> SliceSettings field (the defaults are SliceSettings').
SLICE_FLAGS = {'--overlap': 'overlap', '--full-pass': 'full_pass', '--slice-match': 'match_metric',
               '--slice-batch': 'batch_size'}


def slice_settings_from_args(args: argparse.Namespace) -> SliceSettings | None:
    """SliceSettings of the --slice flags, None without --slice; a setting without --slice is refused."""
    given = {flag: getattr(args, flag[2:].replace('-', '_')) for flag in SLICE_FLAGS}
    given = {flag: value for flag, value in given.items() if value is not None and value is not False}
    if args.slice is None:
        if given:
            raise ConfigError(f'{", ".join(given)} only apply to sliced inference: add --slice WxH')
        return None
    settings = {SLICE_FLAGS[flag]: value for flag, value in given.items()}
    return SliceSettings(parse_tile_size(args.slice), **settings)


def detector_from_args(args: argparse.Namespace, files: list[str]) -> tuple['Detector', dict]:
    """The detector --backend names over its files (BACKEND_FILES), with --tta on each image (or tile) and
    its mirror image, sliced with --slice, and a header saying what runs."""
    settings = slice_settings_from_args(args)  # bad flags stop the tool before a model loads
    detector, header = backend_from_args(args, files)
    if args.tta:
        detector, header = AugmentedDetector([detector]), {**header, 'tta': TTA_SUMMARY}
    if settings is None:
        return detector, header
    return SlicedDetector(detector, settings), {**header, 'slice': settings.summary()}


def backend_from_args(args: argparse.Namespace, files: list[str]) -> tuple['Detector', dict]:
    """The detector --backend names over its files (BACKEND_FILES), and a header saying what runs."""
    from custom.apis.inference import PyTorchDetector
    from custom.deploy.onnx_runtime import OnnxDetector
    from custom.deploy.openvino_runtime import OpenVinoDetector
    from custom.engine.runtime import load_config

    if args.backend == 'pytorch':
        config, checkpoint = files
        if checkpoint.endswith('.onnx'):
            raise ConfigError(f'{checkpoint} is an ONNX model: run it with --backend onnxruntime '
                              f'{checkpoint} (no config)')
        cfg = load_config(config, args.cfg_options, **data_options(args))
        return PyTorchDetector(cfg, checkpoint, args.device), {
            'backend': 'pytorch', 'config': config, 'checkpoint': checkpoint}
    runtime = OpenVinoDetector if args.backend == 'openvino' else OnnxDetector
    return runtime(files[0], args.threads), {'backend': args.backend, 'model': files[0]}


def model_and_inputs_parser(description: str, inputs: str,
                            options: str = '[options]') -> argparse.ArgumentParser:
    """A parser whose positionals are the model's files, as --backend takes them (BACKEND_FILES), then the
    inputs (``inputs`` says what they may be); ``detector_and_inputs`` splits them. Backend flags included."""
    parser = argparse.ArgumentParser(
        description=description,
        usage=f'%(prog)s [--backend pytorch] CONFIG CHECKPOINT INPUT... {options}\n'
              f'       %(prog)s --backend onnxruntime|openvino MODEL.onnx INPUT... {options}')
    parser.add_argument('paths', nargs='+', metavar='PATH',
                        help='pytorch: the config the checkpoint was trained with, the checkpoint (.pth), '
                             'then the inputs; onnxruntime, openvino: the exported model (.onnx), then the '
                             f'inputs. Inputs are {inputs}')
    add_backend_arguments(parser)
    return parser


def detector_and_inputs(args: argparse.Namespace) -> tuple['Detector', list[str], dict]:
    """``args.paths`` as the files --backend takes (BACKEND_FILES) and then at least one input: the
    detector, the inputs, and the header that says what runs."""
    files = BACKEND_FILES[args.backend]
    if len(args.paths) <= len(files):
        raise ConfigError(f'--backend {args.backend} takes {" ".join(files)} and then at least one input')
    detector, header = detector_from_args(args, args.paths[:len(files)])
    return detector, args.paths[len(files):], header


def add_runner_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags that tools/train.py and tools/test.py share (as in MMDetection, plus the data flags): --work-dir,
    --cfg-options, --data-root, --classes, --img-scale, --launcher."""
    parser.add_argument('--work-dir', help='where logs, checkpoints and metrics go (default: work_dirs/NAME)')
    add_data_arguments(parser)
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none',
                        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def runner_config(args: argparse.Namespace):
    """The config of a training or test run, with every flag of ``add_runner_arguments`` applied."""
    from custom.engine.runtime import load_config

    return load_config(args.config, args.cfg_options, args.work_dir, args.launcher, **data_options(args))


def parse_runner_args(parser: argparse.ArgumentParser, argv: list[str] | None = None) -> argparse.Namespace:
    """Adds the runner flags (``add_runner_arguments``) and parses the command line; torch.distributed.launch
    passes the rank as a flag, torchrun in LOCAL_RANK."""
    add_runner_arguments(parser)
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def add_prediction_arguments(parser: argparse.ArgumentParser, predictions_help: str = 'pickle written by '
                             'tools/test.py --out (only pickles you wrote)') -> None:
    """A tools/test.py --out pickle and where its ground truth and class names come from (analysis tools)."""
    parser.add_argument('predictions', help=predictions_help)
    parser.add_argument('--out-dir', required=True)
    parser.add_argument('--config', help='config whose dataset supplies GT and class names')
    parser.add_argument('--split', default='test', choices=['train', 'val', 'test'],
                        help='dataloader of --config')
    parser.add_argument('--classes', nargs='+', help='class names when no --config is given')
    parser.add_argument('--iou-thr', type=float, default=0.5)
    parser.add_argument('--score-thr', type=float, default=DEFAULT_SCORE_THR,
                        help=f'detections counted from this score (default {DEFAULT_SCORE_THR})')


def records_from_args(args: argparse.Namespace, with_masks: bool) -> tuple[list, list[str]]:
    """ImageRecords of the predictions and the class names (config, --classes, or class<i>)."""
    from custom.analysis.predictions import load_records
    from custom.evaluation.records import class_names

    records, classes = load_records(args.predictions, with_masks, args.config, args.split)
    return records, class_names(records, classes or args.classes or [])
