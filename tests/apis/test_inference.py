"""Inference over images, folders and videos (custom/apis/inference.py), around a fake detector."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from custom.apis.inference import run_inference
from custom.errors import DataError
from tests.helpers import REPO
from tests.helpers.fake_detector import BoxDetector
from tests.helpers.source_writers import write_image
from tests.helpers.tool_runs import write_video


@pytest.fixture
def folder(tmp_path) -> Path:
    """images/: a.png, b.png (not an image inside), c.jpg, notes.txt and a subfolder."""
    images = tmp_path / 'images'
    write_image(images / 'a.png', 40, 30)
    (images / 'b.png').write_bytes(b'not a png')
    write_image(images / 'c.jpg', 40, 30, seed=1)
    (images / 'notes.txt').write_text('taken on 2026-03-01\n')
    write_image(images / 'more' / 'd.png', 40, 30)
    return images


def test_unreadable_inputs_are_named_and_skipped_and_what_folders_hold_besides_images_is_counted(
        folder, tmp_path, capsys):
    broken_video = tmp_path / 'clip.mp4'
    broken_video.write_bytes(b'not a video')
    damaged_video = write_video(tmp_path / 'damaged.mp4', [folder / 'a.png'] * 3)
    data = bytearray(damaged_video.read_bytes())  # mp4v puts the frames (mdat) before the index (moov)
    start, end = data.index(b'mdat') + 4, data.index(b'moov') - 4
    data[start:end] = bytes(end - start)  # frames zeroed: the video opens but no frame decodes
    damaged_video.write_bytes(data)
    out = tmp_path / 'out'
    results = run_inference(BoxDetector(), [folder, broken_video, damaged_video], out,
                            header={'backend': 'fake'})
    assert [item['overlay'] for item in results['items']] == ['a.png', 'c.png']
    assert results['skipped'] == [
        {'file': str(folder / 'b.png'), 'problem': 'cannot read the image (corrupt or unsupported format)'},
        {'file': str(broken_video), 'problem': 'cannot open the video (corrupt or unsupported format)'},
        {'file': str(damaged_video),
         'problem': 'cannot read a frame of the video (corrupt or unsupported format)'}]
    assert results['ignored'] == [str(folder / 'more'), str(folder / 'notes.txt')]
    assert results['complete'] and results['backend'] == 'fake'
    assert json.loads((out / 'results.json').read_text()) == results
    assert sorted(p.name for p in out.iterdir()) == ['a.png', 'c.png', 'results.json']  # no temporary left
    error = capsys.readouterr().err
    unreadable = folder / 'b.png'
    assert f'warning: {unreadable}: cannot read the image (corrupt or unsupported format); skipped' in error
    assert f'warning: {broken_video}: cannot open the video' in error
    assert f'note: ignored 2 folder entries that are not images: {folder / "more"}, ' in error
    # A file named on its own must be an image or a video: a typo in a path stops the run before it starts.
    with pytest.raises(DataError, match='notes.txt: not an image'):
        run_inference(BoxDetector(), [folder / 'notes.txt', folder], tmp_path / 'typo')


def test_results_json_is_written_as_the_run_goes_so_a_killed_run_keeps_what_it_did(folder, tmp_path):
    out = tmp_path / 'out'
    script = ('import sys; from custom.apis.inference import run_inference; '
              'from tests.helpers.fake_detector import BoxDetector; '
              'run_inference(BoxDetector(kill_at=3), sys.argv[1:-1], sys.argv[-1], save_interval=0)')
    inputs = [folder / 'a.png', folder / 'b.png', folder / 'c.jpg', folder / 'a.png']
    process = subprocess.run([sys.executable, '-c', script, *map(str, inputs), str(out)], cwd=REPO,
                             env=dict(os.environ, PYTHONPATH=str(REPO)), capture_output=True, text=True,
                             timeout=300)
    assert process.returncode == -9, process.stderr  # SIGKILL at the third image read (the second a.png)
    results = json.loads((out / 'results.json').read_text())
    assert not results['complete']
    assert [item['file'] for item in results['items']] == [str(folder / 'a.png'), str(folder / 'c.jpg')]
    assert [item['file'] for item in results['skipped']] == [str(folder / 'b.png')]


def test_a_run_stopped_by_an_error_still_writes_what_it_did(folder, tmp_path):
    class Failing(BoxDetector):
        def __call__(self, image, score_thr=0.0):
            if self.calls == 1:
                raise RuntimeError('out of memory')
            return super().__call__(image, score_thr)

    with pytest.raises(RuntimeError, match='out of memory'):
        run_inference(Failing(), [folder / 'a.png', folder / 'c.jpg'], tmp_path / 'out')
    results = json.loads((tmp_path / 'out' / 'results.json').read_text())
    assert not results['complete'] and [item['overlay'] for item in results['items']] == ['a.png']


def test_a_checkpoint_without_class_names_takes_the_configs_not_cocos(tmp_path):
    """init_detector falls back to COCO's 80 names for a checkpoint without dataset_meta (the main job's
    untrained baseline is one): the detector names the config's classes instead."""
    from custom.apis.inference import PyTorchDetector
    from custom.jobs.main_job import save_untrained_checkpoint
    from tests.helpers.tool_runs import DEMO_CONFIG

    checkpoint = save_untrained_checkpoint(str(REPO / DEMO_CONFIG), tmp_path / 'untrained.pth')
    detector = PyTorchDetector(str(REPO / DEMO_CONFIG), checkpoint, 'cpu')
    assert detector.classes == ('pedestrian',)
    assert detector.model.dataset_meta['classes'] == ('pedestrian',)
