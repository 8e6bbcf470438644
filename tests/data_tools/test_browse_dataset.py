"""tools/browse_dataset.py: ground truth drawn after the pipeline, ignore regions hatched (no training)."""

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
from mmengine.config import Config

from custom.cli.browse_dataset import main
from custom.data_tools.browse import IGNORED, browse, browse_dataset_cfg
from custom.datasets.builder import build_dataset
from tests.helpers import REPO
from tests.helpers.source_writers import make_kitti
from tests.helpers.tool_runs import DEMO_CONFIG, tiny_overrides


def test_kitti_dontcare_region_is_hatched_grey_and_the_pedestrian_boxed_on_the_resized_val_image(tmp_path):
    make_kitti(tmp_path / 'training')
    (tmp_path / 'ImageSets').mkdir()
    (tmp_path / 'ImageSets' / 'val.txt').write_text('000000\n')
    out_dir = tmp_path / 'browse'
    assert main([str(REPO / 'configs' / 'kitti_fasterrcnn.py'), '--split', 'val', '--out-dir', str(out_dir),
                 '--cfg-options', f'val_dataloader.dataset.data_root={tmp_path}/',
                 f'train_dataloader.dataset.data_root={tmp_path}/']) == 0
    drawn = cv2.imread(str(out_dir / '000000.png'))
    # 120x40 resized to fit 1333x800 with its ratio: 1333x444 (factor 11.11); DontCare is (80, 0)-(119, 20).
    assert drawn.shape == (444, 1333, 3)
    grey = np.all(drawn == IGNORED, axis=2)
    inside = grey[5:215, 900:1310].mean()  # the region shrunk by a few pixels
    assert 0.25 < inside < 0.45  # 2 of every 6 diagonals
    assert grey[250:, :].mean() < 0.01  # nothing hatched below it
    # The pedestrian (10.5, 5.25)-(30.75, 38) gets a box in its class colour: a non-grey, non-noise edge.
    left_edge = drawn[100:400, int(10.5 * 1333 / 120)]
    assert (np.abs(left_edge.astype(int) - left_edge[0].astype(int)).sum(axis=1) == 0).mean() > 0.9


def test_train_masks_are_tinted_after_the_pipeline_and_val_fills_a_contact_sheet(pennfudan_root, tmp_path):
    cfg = Config.fromfile(REPO / DEMO_CONFIG)
    cfg.merge_from_dict(tiny_overrides(pennfudan_root))
    # Without the random flip, the drawing can be compared pixel by pixel with the pipeline's own output.
    pipeline = cfg.train_dataloader.dataset.pipeline
    cfg.train_dataloader.dataset.pipeline = [step for step in pipeline if step.type != 'RandomFlip']
    dataset = build_dataset(browse_dataset_cfg(cfg, 'train'))
    assert len(dataset) == 4
    (name, drawn), = browse(cfg, 'train', indices=[0])
    packed = dataset[0]
    raw = packed['inputs'].numpy().transpose(1, 2, 0)
    assert drawn.shape == raw.shape == (128, 154, 3)  # 96x80 resized to fit the demo's 160x128
    assert name == Path(packed['data_samples'].img_path).name
    changed = np.any(drawn != raw, axis=2)
    masks = packed['data_samples'].gt_instances.masks.to_ndarray().astype(bool)
    assert len(masks) >= 1 and changed[masks.any(axis=0)].mean() > 0.95  # every person tinted
    boxes = np.zeros_like(changed)
    for x1, y1, x2, y2 in packed['data_samples'].gt_instances.bboxes.tensor.round().int().tolist():
        boxes[max(y1 - 12, 0):y2 + 1, max(x1 - 1, 0):x2 + 1] = True  # the box, its edge and the name above
    assert not changed[~boxes].any()  # nothing drawn elsewhere

    out_dir = tmp_path / 'sheet'
    assert main([DEMO_CONFIG, '--split', 'val', '--contact-sheet', '--out-dir', str(out_dir), '--cfg-options',
                 *(f'{key}={value}' for key, value in tiny_overrides(pennfudan_root).items())]) == 0
    sheet = cv2.imread(str(out_dir / 'contact_sheet.png'))
    assert sheet.shape == (128 + 16, 2 * 154, 3)  # two val images side by side, captioned


def test_mmdetections_stock_browse_dataset_runs_on_the_project_config_without_pythonpath(pennfudan_root,
                                                                                          tmp_path):
    """The editable install alone makes ``custom`` importable: mmdet's own tool, run from another folder."""
    import mmdet

    stock_tool = Path(mmdet.__file__).parent / '.mim' / 'tools' / 'analysis_tools' / 'browse_dataset.py'
    out_dir = tmp_path / 'browsed'
    env = {key: value for key, value in os.environ.items() if key != 'PYTHONPATH'}
    data_root = f'train_dataloader.dataset.data_root={pennfudan_root}/'
    process = subprocess.run(
        [sys.executable, str(stock_tool), str(REPO / 'configs/pennfudan_maskrcnn.py'), '--output-dir',
         str(out_dir), '--not-show', '--cfg-options', data_root],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert process.returncode == 0, process.stderr[-3000:]
    drawn = sorted(path.name for path in out_dir.iterdir())
    train_split = (pennfudan_root / 'splits' / 'train.txt').read_text().split()
    assert len(train_split) == 4 and drawn == sorted(f'{stem}.png' for stem in train_split)
