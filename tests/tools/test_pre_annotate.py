"""tools/pre_annotate.py and tools/dist_pre_annotate.sh end to end: the demo model untrained (the weights the
config's seed gives) on tiny synthetic Penn-Fudan images and a broken one, in one process and in two torchrun
processes over gloo, which must write the same drafts."""

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from custom.jobs.main_job import save_untrained_checkpoint
from tests.helpers.source_writers import make_pennfudan
from tests.helpers.tool_runs import DEMO_CONFIG, REPO, run_tool

# 64x64 input and at most 10 detections an image: about a second an image on 2 loaded cores. One thread per
# process, so that one process and two compute the same numbers.
MODEL_OPTIONS = ['--img-scale', '64', '64', '--cfg-options', 'model.test_cfg.rpn.max_per_img=50',
                 'model.test_cfg.rcnn.max_per_img=10']
IMAGES = 4


@pytest.fixture(scope='module')
def setup(tmp_path_factory) -> tuple[Path, Path, Path]:
    """(work folder, image folder with IMAGES images and broken.png, untrained checkpoint)."""
    base = tmp_path_factory.mktemp('pre_annotate')
    root = make_pennfudan(base / 'PennFudanPed', n_images=IMAGES)
    images = base / 'images'
    shutil.copytree(root / 'PNGImages', images)
    (images / 'broken.png').write_bytes(b'\x89PNG\r\n\x1a\nnot an image')
    return base, images, save_untrained_checkpoint(DEMO_CONFIG, base / 'untrained.pth')


def arguments(setup, name: str) -> list[str]:
    base, images, checkpoint = setup
    return [DEMO_CONFIG, str(checkpoint), str(images), '--format', 'coco', '--out',
            str(base / 'drafts' / f'{name}.json'), '--cache', str(base / f'cache_{name}'), *MODEL_OPTIONS]


@pytest.fixture(scope='module')
def single(setup) -> subprocess.CompletedProcess:
    return run_tool('pre_annotate.py', *arguments(setup, 'single'), check=False, threads=1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def run_sharded(*args: str, attempts: int = 3) -> subprocess.CompletedProcess:
    """tools/dist_pre_annotate.sh 2 args... on a free port; again on another when the port was taken
    between choosing it and torchrun binding it."""
    for _ in range(attempts):
        env = dict(os.environ, PYTHON=sys.executable, PORT=str(free_port()), OMP_NUM_THREADS='1',
                   PYTHONWARNINGS='ignore')
        process = subprocess.run(['bash', 'tools/dist_pre_annotate.sh', '2', *args], cwd=REPO, env=env,
                                 text=True, capture_output=True, timeout=600)
        if 'address already in use' not in process.stderr.lower():
            return process
    return process


def test_the_tool_drafts_every_readable_image_names_the_broken_one_and_exits_1(setup, single):
    base, _, _ = setup
    assert single.returncode == 1, single.stderr[-3000:]
    assert 'broken.png: cannot read the image' in single.stderr
    assert 'warning: 1 images could not be read and were skipped' in single.stderr
    assert f'coco drafts of {IMAGES} images' in single.stdout
    drafts = json.loads((base / 'drafts' / 'single.json').read_text())
    assert sorted(image['file_name'] for image in drafts['images']) == [
        f'../images/FudanPed{i:05d}.png' for i in range(1, IMAGES + 1)]
    assert drafts['annotations'] and all(ann['score'] >= 0.3 for ann in drafts['annotations'])


def test_two_torchrun_processes_share_the_images_and_write_the_drafts_of_one_process(setup, single):
    base, _, _ = setup
    process = run_sharded(*arguments(setup, 'sharded'))
    assert process.returncode == 1, process.stdout[-3000:] + process.stderr[-5000:]
    parts = sorted((base / 'cache_sharded').glob('*/part-*.jsonl'))
    assert [part.name for part in parts] == ['part-0.jsonl', 'part-1.jsonl']
    # 5 files dealt in turn: rank 0 predicts 3 (one is broken.png, a line saying so), rank 1 two
    assert [len(part.read_text().splitlines()) for part in parts] == [3, 2]
    assert process.stdout.count('coco drafts of') == 1  # rank 0 writes them, once
    sharded = json.loads((base / 'drafts' / 'sharded.json').read_text())
    assert sharded == json.loads((base / 'drafts' / 'single.json').read_text())
