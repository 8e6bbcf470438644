"""Seeded train/val splits (custom/datasets/splits.py, data_tools/splitting.py) and tools/make_splits.py."""

import subprocess
import sys
from pathlib import Path

import pytest

from custom.cli.arguments import source_config
from custom.data_tools.splitting import source_images, write_splits
from custom.datasets.splits import counts_from_fraction, make_splits, read_split
from custom.errors import DataError
from tests.helpers import REPO
from tests.helpers.json_source_writers import corners, labelme_shape, write_labelme


@pytest.fixture
def image_root(tmp_path: Path) -> Path:
    """A folder whose PNGImages/ holds 30 (empty) files: splits only look at the file names."""
    img_dir = tmp_path / 'PNGImages'
    img_dir.mkdir()
    for i in range(1, 16):
        (img_dir / f'FudanPed{i:05d}.png').touch()
        (img_dir / f'PennPed{i:05d}.png').touch()
    (img_dir / 'notes.txt').touch()
    return tmp_path


def split_of(root: Path, n_train: int, n_val: int, seed: int = 0) -> dict[str, list[str]]:
    """make_splits over the image names of a Penn-Fudan folder, as tools/make_splits.py deals them."""
    images = source_images(source_config('pennfudan', root))
    return make_splits(images.stems, n_train, n_val, seed, source=images.location)


def test_splits_have_requested_sizes_are_disjoint_sorted_and_use_existing_stems(image_root):
    splits = split_of(image_root, n_train=20, n_val=8, seed=0)
    stems = {p.stem for p in (image_root / 'PNGImages').glob('*.png')}
    assert (len(splits['train']), len(splits['val'])) == (20, 8)
    assert not set(splits['train']) & set(splits['val'])
    assert set(splits['train']) | set(splits['val']) <= stems
    assert splits['train'] == sorted(splits['train']) and splits['val'] == sorted(splits['val'])


def test_same_seed_gives_same_split_and_other_seed_another(image_root):
    assert split_of(image_root, 20, 10, seed=3) == split_of(image_root, 20, 10, seed=3)
    assert split_of(image_root, 20, 10, seed=3) != split_of(image_root, 20, 10, seed=4)


def test_write_splits_writes_sorted_lf_files_under_root_splits_deterministically(image_root):
    source = source_images(source_config('pennfudan', image_root))
    written = write_splits(source, image_root / 'splits', n_train=6, n_val=4, seed=1)
    assert written == {'train': image_root / 'splits' / 'train.txt', 'val': image_root / 'splits' / 'val.txt'}
    first = {name: path.read_bytes() for name, path in written.items()}
    assert b'\r' not in first['train'] and first['train'].endswith(b'\n')
    assert first['val'].decode().split() == split_of(image_root, 6, 4, seed=1)['val']
    write_splits(source, image_root / 'splits', n_train=6, n_val=4, seed=1)
    assert {name: path.read_bytes() for name, path in written.items()} == first


def test_requesting_more_images_than_available_raises_clear_error(image_root):
    with pytest.raises(DataError, match=r'PNGImages/?: holds 30 images, fewer than the 31 requested '
                                        r'\(21 train \+ 10 val\)'):
        split_of(image_root, n_train=21, n_val=10)


def test_counts_from_fraction_uses_every_image():
    assert counts_from_fraction(170, 0.3) == (119, 51)
    assert counts_from_fraction(6, 0.01) == (5, 1)
    with pytest.raises(ValueError):
        counts_from_fraction(10, 1.0)


def test_make_splits_tool_writes_files_and_reports_them(image_root, tmp_path):
    out_dir = tmp_path / 'out'
    result = subprocess.run(
        [sys.executable, str(REPO / 'tools' / 'make_splits.py'), 'pennfudan', str(image_root),
         '--train', '5',
         '--val', '3', '--seed', '2', '--out-dir', str(out_dir)],
        capture_output=True, text=True, check=True)
    assert f'wrote {out_dir / "train.txt"} (5 train images' in result.stdout
    assert (out_dir / 'val.txt').read_text().split() == split_of(image_root, 5, 3, seed=2)['val']

    result = subprocess.run(
        [sys.executable, str(REPO / 'tools' / 'make_splits.py'), 'pennfudan', str(image_root),
         '--val-fraction=.2'],
        capture_output=True, text=True, check=True)
    assert len((image_root / 'splits' / 'train.txt').read_text().split()) == 24
    assert len((image_root / 'splits' / 'val.txt').read_text().split()) == 6


def test_make_splits_tool_builds_the_source_once_to_count_and_deal_its_images(image_root, tmp_path,
                                                                              dataset_builds):
    from custom.cli import make_splits as make_splits_tool

    out_dir = tmp_path / 'out'
    assert make_splits_tool.main(['pennfudan', str(image_root), '--val-fraction', '0.2',
                                  '--out-dir', str(out_dir)]) == 0
    assert len((out_dir / 'val.txt').read_text().split()) == 6
    assert dataset_builds == ['PennFudanDataset']


def test_one_reader_takes_stems_paths_voc_class_lists_and_comments(tmp_path):
    split = tmp_path / 'split.txt'
    split.write_text('FudanPed00001\n\n# a comment\nJPEGImages/2008_000008.jpg\n2008_000009 -1\n'
                     '2008_000010  1  # present\n000042.txt\n')
    assert read_split(split) == [(1, 'FudanPed00001'), (4, '2008_000008'), (6, '2008_000010'), (7, '000042')]
    with pytest.raises(DataError, match='split file not found'):
        read_split(tmp_path / 'missing.txt')


def test_make_splits_tool_warns_when_a_class_has_objects_only_in_val(tmp_path, capsys):
    from custom.cli import make_splits as make_splits_tool

    root = tmp_path / 'pets'
    for index in range(4):  # cats everywhere, the only dog in img3
        shapes = [labelme_shape('cat', corners(8, 10, 20))] + [labelme_shape('dog', corners(50, 30, 16))] * (
            index == 3)
        write_labelme(root, f'img{index}', shapes, seed=index)
    seed = next(seed for seed in range(50)
                if 'img3' in make_splits([f'img{i}' for i in range(4)], 3, 1, seed)['val'])
    args = ['labelme', str(root), '--classes', 'cat', 'dog', '--train', '3', '--val', '1']
    assert make_splits_tool.main([*args, '--seed', str(seed)]) == 0
    assert "classes 'dog' have objects only in the validation images" in capsys.readouterr().err
    assert make_splits_tool.main([*args, '--seed', str(seed + 1 if seed else 1)]) == 0
    other = (root / 'splits' / 'val.txt').read_text().split()
    assert ("classes 'dog'" in capsys.readouterr().err) == (other == ['img3'])
