"""One real server process (tools/serve.py, PyTorch backend) shared by every test of tests/serving/, the demo
model it serves, the same detector in the test process, and images to send."""

import struct
import zlib
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from custom.apis.inference import PyTorchDetector
from custom.engine.runtime import load_config
from custom.jobs.main_job import save_untrained_checkpoint
from tests.helpers.served import ServerProcess
from tests.helpers.source_writers import make_pennfudan
from tests.helpers.tool_runs import DEMO_CONFIG

API_KEY = 'test-key'
# The demo model made cheap: 64x64 input, at most 10 detections (about 0.3-1 s an image on 2 loaded cores).
IMG_SCALE = ('64', '64')
CFG_OPTIONS = {'model.test_cfg.rpn.max_per_img': 50, 'model.test_cfg.rcnn.max_per_img': 10}
# Small limits, so that the tests reach each of them with small requests.
LIMITS = {'max_bytes': 300_000, 'max_pixels': 100_000, 'queue': 2, 'read_timeout': 2}


@pytest.fixture(scope='session')
def demo_model(tmp_path_factory) -> Path:
    """The demo config's model untrained, saved with its classes as training saves them."""
    path = save_untrained_checkpoint(DEMO_CONFIG, tmp_path_factory.mktemp('serving') / 'untrained.pth')
    checkpoint = torch.load(path, weights_only=False)
    checkpoint['meta']['dataset_meta'] = {'classes': Config.fromfile(DEMO_CONFIG).classes}
    torch.save(checkpoint, path)
    return path


@pytest.fixture(scope='session')
def served(demo_model, tmp_path_factory):
    """tools/serve.py over demo_model on a free port, with the API key from the environment and LIMITS."""
    options = [f'{key}={value}' for key, value in CFG_OPTIONS.items()]
    limits = [f'--{name.replace("_", "-")}={value}' for name, value in LIMITS.items()]
    server = ServerProcess('serve.py', DEMO_CONFIG, str(demo_model), '--img-scale', *IMG_SCALE,
                           '--cfg-options', *options, *limits, log=demo_model.parent / 'server.log',
                           env={'SERVE_API_KEY': API_KEY})
    yield server
    server.stop()


@pytest.fixture(scope='session')
def local_detector(demo_model) -> PyTorchDetector:
    """What the server runs, built in the test process as tools/infer.py builds it from the same flags."""
    cfg = load_config(DEMO_CONFIG, CFG_OPTIONS, img_scale=tuple(map(int, IMG_SCALE)))
    return PyTorchDetector(cfg, demo_model, 'cpu')


@pytest.fixture(scope='session')
def image_file(tmp_path_factory) -> Path:
    """A 96x80 synthetic Penn-Fudan image (PNG) with people in it."""
    root = make_pennfudan(tmp_path_factory.mktemp('images') / 'PennFudanPed', n_images=3)
    return sorted((root / 'PNGImages').glob('*.png'))[0]


def png_bomb(width: int, height: int, rows: int = 100) -> bytes:
    """A PNG whose header says width x height RGB, with its first rows of zeros deflated: a few KB that a
    decoder would inflate into width * height * 3 bytes."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data))

    header = struct.pack('>IIBBBBB', width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b'\0' * (1 + 3 * width) * rows, 9)
    return b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', header) + chunk(b'IDAT', pixels) + chunk(b'IEND', b'')
