"""Synthetic Penn-Fudan generator (custom/data_tools/demo_data.py) and tools/make_demo_data.py."""

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from custom.data_tools.demo_data import generate_demo_dataset
from custom.datasets.pennfudan import PennFudanDataset, parse_annotation
from tests.helpers import REPO


def all_files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob('*')) if p.is_file()}


def test_same_seed_gives_identical_bytes_and_other_seed_differs(tmp_path, pennfudan_factory):
    first = all_files(pennfudan_factory(tmp_path / 'a', seed=5))
    assert first == all_files(pennfudan_factory(tmp_path / 'b', seed=5))
    other = all_files(pennfudan_factory(tmp_path / 'c', seed=6))
    assert other.keys() == first.keys()
    assert other['PNGImages/FudanPed00001.png'] != first['PNGImages/FudanPed00001.png']


def test_generated_files_follow_penn_fudan_layout(pennfudan_root):
    stems = [f'FudanPed{i:05d}' for i in range(1, 7)]
    assert sorted(p.stem for p in (pennfudan_root / 'PNGImages').iterdir()) == stems
    assert sorted(p.name for p in (pennfudan_root / 'PedMasks').iterdir()) == [f'{s}_mask.png' for s in stems]
    assert sorted(p.stem for p in (pennfudan_root / 'Annotation').iterdir()) == stems
    assert 'synthetic' in (pennfudan_root / 'readme.txt').read_text().lower()
    for stem in stems:
        image = Image.open(pennfudan_root / 'PNGImages' / f'{stem}.png')
        mask = Image.open(pennfudan_root / 'PedMasks' / f'{stem}_mask.png')
        assert (image.mode, image.size) == ('RGB', (96, 80))
        assert (mask.mode, mask.size) == ('L', (96, 80))
        ids = np.unique(np.asarray(mask))
        assert ids[0] == 0 and list(ids[1:]) == list(range(1, len(ids)))
        assert 1 <= len(ids) - 1 <= 4
        ann_path = pennfudan_root / 'Annotation' / f'{stem}.txt'
        assert ann_path.read_bytes().startswith(b'# Compatible with PASCAL Annotation Version 1.00\r\n')
        ann = parse_annotation(ann_path)
        assert ann.image_filename == f'PennFudanPed/PNGImages/{stem}.png'
        assert (ann.size, ann.num_objects) == ((96, 80, 3), len(ids) - 1)


def test_every_person_keeps_visible_pixels_and_boxes_equal_mask_extent(tmp_path):
    root = tmp_path / 'demo'
    summary = generate_demo_dataset(root, n_images=12, size=(160, 128), seed=1)
    dataset = PennFudanDataset(data_root=str(root), box_tolerance=0)  # annotation boxes exactly the extents
    assert len(dataset) == 12 and summary.n_images == 12
    n_instances = 0
    for i in range(len(dataset)):
        ids = np.asarray(Image.open(root / 'PedMasks' / f'FudanPed{i + 1:05d}_mask.png'))
        counts = np.bincount(ids.ravel())[1:]
        assert counts.min() >= 20
        n_instances += len(counts)
    assert n_instances == summary.n_instances > 12  # several images hold more than one person


def test_every_person_stands_out_from_the_background_around_it(tmp_path):
    root = tmp_path / 'demo'
    generate_demo_dataset(root, n_images=8, size=(160, 128), seed=2)
    for i in range(1, 9):
        image = np.asarray(Image.open(root / 'PNGImages' / f'FudanPed{i:05d}.png')).astype(float)
        ids = np.asarray(Image.open(root / 'PedMasks' / f'FudanPed{i:05d}_mask.png'))
        for instance_id in range(1, ids.max() + 1):
            person = ids == instance_id
            ring = cv2.dilate(person.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool) & (ids == 0)
            if not ring.any():
                continue
            # mean L1 colour distance of the person's pixels to the background just around it
            contrast = np.abs(image[person] - image[ring].mean(axis=0)).sum(axis=1).mean()
            assert contrast > 60, (i, instance_id, contrast)


def test_writes_splits_when_asked(tmp_path):
    summary = generate_demo_dataset(tmp_path / 'demo', n_images=10, size=(64, 64), seed=0, n_val=3)
    train = summary.splits['train'].read_text().split()
    val = summary.splits['val'].read_text().split()
    assert (len(train), len(val)) == (7, 3) and not set(train) & set(val)


def test_make_demo_data_tool_generates_dataset_and_splits(tmp_path):
    out_dir = tmp_path / 'DemoPed'
    result = subprocess.run(
        [sys.executable, str(REPO / 'tools' / 'make_demo_data.py'), str(out_dir), '--images', '4',
         '--size', '80', '64', '--seed', '3'],
        capture_output=True, text=True, check=True)
    assert 'wrote 4 images with' in result.stdout and str(out_dir) in result.stdout
    assert Image.open(out_dir / 'PNGImages' / 'FudanPed00004.png').size == (80, 64)
    assert (out_dir / 'splits' / 'val.txt').read_text().split() != []
