"""Pre-annotate images with a trained model: drafts to correct in labelme, CVAT (COCO), Label Studio or VIA.

    pre_annotate.py CONFIG CHECKPOINT INPUT... --format FORMAT --out OUT       PyTorch (MMDetection)
    pre_annotate.py --backend onnxruntime MODEL.onnx INPUT... --format FORMAT --out OUT   ONNX Runtime
    tools/dist_pre_annotate.sh GPUS CONFIG CHECKPOINT INPUT... --format ... --out ...     GPUS processes

Predictions are cached image by image (--cache), so a stopped run started again continues where it stopped;
the drafts are written at the end (custom/data_engine/pre_annotate.py). An image that cannot be read is named
in a warning and skipped (exit status 1 at the end). docs/data_engine.md walks through the whole loop.
"""

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path

import torch
import torch.distributed as dist

from custom.apis.augmentation import TTA_SUMMARY
from custom.cli.arguments import (
    BACKEND_FILES,
    detector_and_inputs,
    model_and_inputs_parser,
    slice_settings_from_args,
)
from custom.data_engine.pre_annotate import ProcessGroup, pre_annotate, summary_lines
from custom.datasets.drafts import DRAFT_FORMATS
from custom.engine.distributed import join_launched_group
from custom.errors import ConfigError, report_user_errors
from custom.evaluation.matching import DEFAULT_SCORE_THR
from custom.files import write_atomic

CACHE_FOLDER = '.pre_annotate_cache'


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = model_and_inputs_parser(
        'Draft annotations of images by a trained model, for a labelling tool',
        'image files or folders of images', '--format FORMAT --out OUT [options]')
    parser.add_argument('--format', required=True, choices=DRAFT_FORMATS,
                        help='labelme: a json per image in the --out folder; coco: one instances json (CVAT '
                             '"COCO 1.0"); labelstudio: a tasks json with predictions; via: a VIA 2 project')
    parser.add_argument('--out', required=True, type=Path,
                        help='labelme: a folder (the images folder itself puts each draft beside its image); '
                             'the others: the json file to write, which must not exist yet')
    parser.add_argument('--score-thr', type=float, default=DEFAULT_SCORE_THR,
                        help=f'draft the detections scoring at least this (default {DEFAULT_SCORE_THR})')
    parser.add_argument('--select', type=int, metavar='N',
                        help='draft only the N images most in need of a human (the most expected '
                             'corrections, custom/data_engine/selection.py), those first')
    parser.add_argument('--skip-labelled', nargs='+', default=[], metavar='PATH',
                        help='annotation files or folders (any format the project reads, earlier drafts '
                             'included) whose images are skipped: run again with the last output here to '
                             'go on where it stopped')
    parser.add_argument('--model-version', help='labelstudio: model_version of the predictions (default: '
                                                'the checkpoint or ONNX file name)')
    parser.add_argument('--image-url-prefix',
                        help='labelstudio: what goes before each image path in the task, e.g. '
                             '/data/local-files/?d= for local-file storage (default: the path as is)')
    parser.add_argument('--cache', type=Path,
                        help=f'folder of the prediction cache (default: {CACHE_FOLDER}/ beside --out); a '
                             'subfolder per model and prediction settings')
    parser.add_argument('--launcher', choices=['none', 'pytorch'], default='none',
                        help='pytorch: one of the processes torchrun started (tools/dist_pre_annotate.sh)')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    return parser.parse_args(argv)


def model_identity(args: argparse.Namespace) -> dict:
    """What decides the predictions: the model files (path, size, modification time), the flags that
    rebuild the model, --tta and --slice's; a cache subfolder holds the predictions of one identity only."""
    files = args.paths[:len(BACKEND_FILES[args.backend])]
    stats = []
    for name in files:
        stat = Path(name).stat()
        stats.append((str(Path(name).resolve()), stat.st_size, stat.st_mtime_ns))
    identity = {'backend': args.backend, 'files': stats, 'cfg_options': args.cfg_options,
                'data_root': args.data_root, 'classes': args.classes, 'img_scale': args.img_scale}
    settings = slice_settings_from_args(args)
    if settings is not None:  # only then: the caches of earlier runs without --slice keep their folder
        identity['slice'] = settings.summary()
    if args.tta:
        identity['tta'] = TTA_SUMMARY
    return identity


def cache_folder(args: argparse.Namespace) -> Path:
    """--cache (default .pre_annotate_cache/ beside --out) / <digest of the model identity>, with the
    identity written beside the parts as model.json."""
    identity = model_identity(args)
    digest = hashlib.blake2b(json.dumps(identity, sort_keys=True).encode(), digest_size=6).hexdigest()
    folder = (args.cache or args.out.resolve().parent / CACHE_FOLDER) / digest
    write_atomic(folder / 'model.json', json.dumps(identity, indent=1).encode())
    return folder


@report_user_errors
def main(argv: list[str] | None = None) -> int:
    """Exit status 1 when an image could not be read (each is named and skipped), as tools/infer.py."""
    args = parse_args(argv)
    if not 0 <= args.score_thr <= 1:
        raise ConfigError(f'--score-thr must be within 0 and 1, got {args.score_thr}')
    if args.launcher == 'none':
        return run(args, ProcessGroup())
    rank, world_size = join_launched_group()
    if args.device is None and torch.cuda.is_available():
        args.device = f'cuda:{os.environ.get("LOCAL_RANK", args.local_rank)}'
    try:
        return run(args, ProcessGroup(rank, world_size, dist.barrier))
    finally:
        dist.destroy_process_group()


def run(args: argparse.Namespace, group: ProcessGroup) -> int:
    detector, inputs, header = detector_and_inputs(args)
    model_file = Path(header.get('checkpoint') or header['model'])
    result = pre_annotate(detector, inputs, args.format, args.out, cache_folder(args),
                          score_thr=args.score_thr, skip_labelled=args.skip_labelled, select=args.select,
                          model_version=args.model_version or model_file.stem,
                          image_url_prefix=args.image_url_prefix, group=group)
    if group.rank == 0:
        for line in summary_lines(result, args.format, args.out, args.select):
            print(line, file=sys.stderr if line.startswith('warning') else sys.stdout)
    return int(bool(result.unreadable))


if __name__ == '__main__':
    sys.exit(main())
