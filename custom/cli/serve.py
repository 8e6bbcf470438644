"""Serve a trained detector over HTTP: POST /predict, GET /model, GET /health, a page at /, API docs at /docs.

    serve.py CONFIG CHECKPOINT [--port 8000]                 PyTorch (MMDetection), on the GPU if there is one
    serve.py --backend onnxruntime MODEL.onnx [--port 8000]  ONNX Runtime on the CPU (tools/export_onnx.py)
    serve.py --backend openvino MODEL.onnx [--port 8000]     OpenVINO on the CPU, the same file and detections

The app is custom/serving/app.py over the Detector tools/infer.py uses; docs/serving.md has the API.
"""

import argparse
import gc
import hashlib
import json
import os
import sys
from importlib import metadata
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from custom.apis.augmentation import AugmentedDetector
from custom.apis.slicing import SlicedDetector
from custom.cli.arguments import BACKEND_FILES, add_backend_arguments, detector_from_args
from custom.errors import ConfigError, ExportError, report_user_errors
from custom.serving.app import Limits, create_app

API_KEY_ENV = 'SERVE_API_KEY'
ARGV_ENV = 'SERVE_ARGV'  # how each of --workers processes gets the command line (uvicorn starts them)
WORKER_STARTUP_S = 120  # the longest a --workers process may take to load its model and answer uvicorn's ping


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    defaults = Limits()
    parser = argparse.ArgumentParser(
        description='Serve a detector over HTTP (docs/serving.md)',
        usage='%(prog)s [--backend pytorch] CONFIG CHECKPOINT [options]\n'
              '       %(prog)s --backend onnxruntime|openvino MODEL.onnx [options]')
    parser.add_argument('files', nargs='+', metavar='FILE',
                        help='pytorch: the config the checkpoint was trained with and the checkpoint (.pth); '
                             'onnxruntime, openvino: the exported model (.onnx)')
    add_backend_arguments(parser)
    server = parser.add_argument_group('server')
    server.add_argument('--host', default='127.0.0.1',
                        help='address to listen on (default 127.0.0.1: this machine only; 0.0.0.0 for all, '
                             'better behind a reverse proxy)')
    server.add_argument('--port', type=int, default=8000)
    server.add_argument('--workers', type=int, default=1,
                        help='server processes, each with its own model and queue (default 1)')
    server.add_argument('--root-path', default='', help='the path prefix a reverse proxy serves this under')
    server.add_argument('--api-key', default=os.environ.get(API_KEY_ENV),
                        help=f'needed by /predict and /model (X-API-Key header); default ${API_KEY_ENV}, '
                             'which keeps it out of the process list')
    server.add_argument('--no-access-log', action='store_true', help='no log line per request')
    limits = parser.add_argument_group('limits (per server process)')
    limits.add_argument('--max-bytes', type=int, default=defaults.max_bytes,
                        help=f'largest request body; more is 413 (default {defaults.max_bytes})')
    limits.add_argument('--max-pixels', type=int, default=defaults.max_pixels,
                        help='largest image, width x height, checked from its header before decoding; more '
                             f'is 413 (default {defaults.max_pixels})')
    limits.add_argument('--queue', type=int, default=defaults.queue,
                        help='requests that may wait for the model; one more is 503 with Retry-After '
                             f'(default {defaults.queue})')
    limits.add_argument('--parallel', type=int, default=defaults.parallel,
                        help='model calls at once (default 1); above 1 for onnxruntime only, whose sessions '
                             'are safe to run from several threads')
    limits.add_argument('--retry-after', type=int, default=defaults.retry_after_s,
                        help=f'seconds a busy answer asks to wait (default {defaults.retry_after_s})')
    limits.add_argument('--read-timeout', type=float, default=defaults.read_timeout_s,
                        help='seconds an upload may take to arrive; longer is 408 (default '
                             f'{defaults.read_timeout_s:g})')
    return parser.parse_args(argv)


def checked_limits(args: argparse.Namespace) -> Limits:
    for name in ('port', 'workers', 'max_bytes', 'max_pixels', 'parallel', 'retry_after', 'read_timeout'):
        if getattr(args, name) < (0 if name == 'port' else 1):
            raise ConfigError(f'--{name.replace("_", "-")} must be positive, got {getattr(args, name)}')
    if args.queue < 0:
        raise ConfigError(f'--queue must be 0 or more, got {args.queue}')
    if args.parallel > 1 and args.backend != 'onnxruntime':
        raise ConfigError(f'--parallel above 1 needs --backend onnxruntime: --backend {args.backend} runs '
                          'one call at a time (inference_detector and an OpenVINO infer request are not safe '
                          'to share between threads); use --workers for more models')
    files = BACKEND_FILES[args.backend]
    if len(args.files) != len(files):
        raise ConfigError(f'--backend {args.backend} takes {" ".join(files)}, got {len(args.files)} files')
    return Limits(args.max_bytes, args.max_pixels, args.queue, args.parallel, args.retry_after,
                  args.read_timeout)


def file_digest(path: str) -> str:
    """The first 12 hex digits of the file's SHA-256: which weights answer, whatever the file is called."""
    digest = hashlib.sha256()
    with open(path, 'rb') as file:
        while chunk := file.read(2**20):
            digest.update(chunk)
    return digest.hexdigest()[:12]


def model_info(detector, header: dict) -> dict:
    """What GET /model says besides the classes: backend, file names (not their folders), the weights'
    digest, the input size of the test pipeline, whether masks come out, the versions that run it, and
    with --slice the tiles and how they merge, with --tta the augmentation."""
    weights = header.get('checkpoint') or header['model']
    info = {'name': Path(weights).name, 'backend': header['backend'], 'sha256': file_digest(weights)}
    if isinstance(detector, SlicedDetector):  # --slice: the tiles go through the backend's own input size
        info['slice'] = header['slice']
        detector = detector.detector
    if isinstance(detector, AugmentedDetector):  # --tta
        info['tta'] = header['tta']
        detector = detector.views[0]
    if header['backend'] == 'pytorch':
        import mmdet
        import torch

        from custom.deploy.export import pipeline_resize

        info['config'] = Path(header['config']).name
        try:
            info['input'] = pipeline_resize(detector.model.cfg)
        except ExportError:  # no Resize step: the image goes in at its own size
            info['input'] = None
        info['masks'] = bool(getattr(detector.model, 'with_mask', False))
        runtime = {'mmdet': mmdet.__version__, 'torch': torch.__version__,
                   'device': str(next(detector.model.parameters()).device)}
    else:
        info['input'] = {'scale': list(detector.scale), 'keep_ratio': detector.keep_ratio}
        info['masks'] = detector.mask_threshold is not None
        runtime = {header['backend']: metadata.version(header['backend'])}
    try:
        project = metadata.version('mmdet-pennfudan')
    except metadata.PackageNotFoundError:
        project = 'unknown'
    info['version'] = project
    info['runtime'] = runtime
    return info


def build_app(args: argparse.Namespace) -> FastAPI:
    limits = checked_limits(args)
    detector, header = detector_from_args(args, args.files)
    return create_app(detector, model_info(detector, header), limits, args.api_key or None)


def app_from_environment() -> FastAPI:
    """The app of one of --workers processes, from the command line the parent left in ARGV_ENV."""
    return build_app(parse_args(json.loads(os.environ[ARGV_ENV])))


@report_user_errors
def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    app = build_app(args)  # a mistake in the files or flags is one error line, before anything listens
    options = dict(host=args.host, port=args.port, root_path=args.root_path,
                   access_log=not args.no_access_log, timeout_graceful_shutdown=5)
    if args.workers == 1:
        uvicorn.run(app, **options)
        return
    del app
    gc.collect()
    os.environ[ARGV_ENV] = json.dumps(argv)
    # uvicorn kills a worker that misses its health ping for timeout_worker_healthcheck s (default 5): loading
    # the model took longer on 2 loaded cores, and a worker was killed and restarted while it started.
    uvicorn.run('custom.cli.serve:app_from_environment', factory=True, workers=args.workers,
                timeout_worker_healthcheck=WORKER_STARTUP_S, **options)


if __name__ == '__main__':
    sys.exit(main())
