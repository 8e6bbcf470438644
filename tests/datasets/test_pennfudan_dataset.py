"""PennFudanDataset and the annotation parser, on tiny synthetic data in the real on-disk layout."""

from pathlib import Path

import numpy as np
import pycocotools.mask as mask_utils
import pytest
from PIL import Image

from custom.datasets.pennfudan import PennFudanDataset, format_annotation, parse_annotation
from custom.errors import DataError
from tests.helpers.source_writers import rewrite_annotation

README_EXAMPLE = [
    '# Compatible with PASCAL Annotation Version 1.00',
    'Image filename : "PennFudanPed/PNGImages/FudanPed00001.png"',
    'Image size (X x Y x C) : 559 x 536 x 3',
    'Database : "The Penn-Fudan-Pedestrian Database"',
    'Objects with ground truth : 2 { "PASpersonWalking" "PASpersonStanding" }',
    '# Top left pixel co-ordinates : (1, 1)',
    '# Details for pedestrian 1 ("PASpersonWalking")',
    'Original label for object 1 "PASpersonWalking" : "PennFudanPed"',
    'Bounding box for object 1 "PASpersonWalking" (Xmin, Ymin) - (Xmax, Ymax) : (160, 182) - (302, 431)',
    'Pixel mask for object 1 "PASpersonWalking" : "PennFudanPed/PedMasks/FudanPed00001_mask.png"',
    '',
    '# Details for pedestrian 2 ("PASpersonStanding")',
    'Original label for object 2 "PASpersonStanding" : "PennFudanPed"',
    'Bounding box for object 2 "PASpersonStanding" (Xmin, Ymin) - (Xmax, Ymax) : (420, 171) - (535, 486)',
    'Pixel mask for object 2 "PASpersonStanding" : "PennFudanPed/PedMasks/FudanPed00001_mask.png"',
    '',
]


def load(root: Path, ann_file: str = '', **kwargs) -> PennFudanDataset:
    return PennFudanDataset(data_root=str(root), ann_file=ann_file, **kwargs)


def infos(dataset: PennFudanDataset) -> list[dict]:
    return [dataset.get_data_info(i) for i in range(len(dataset))]


def read_ids(root: Path, stem: str) -> np.ndarray:
    return np.asarray(Image.open(root / 'PedMasks' / f'{stem}_mask.png'))


def extent_0based_exclusive(binary: np.ndarray) -> list[float]:
    rows, cols = np.any(binary, axis=1), np.any(binary, axis=0)
    y1, y2 = np.flatnonzero(rows)[[0, -1]]
    x1, x2 = np.flatnonzero(cols)[[0, -1]]
    return [float(x1), float(y1), float(x2 + 1), float(y2 + 1)]


def stem_with_instances(root: Path, at_least: int) -> str:
    for path in sorted((root / 'PedMasks').glob('*_mask.png')):
        if read_ids(root, path.name.removesuffix('_mask.png')).max() >= at_least:
            return path.name.removesuffix('_mask.png')
    pytest.fail(f'no synthetic image with {at_least} instances')


def test_parse_annotation_reads_readme_example_with_crlf_and_lf(tmp_path):
    for name, newline in (('crlf.txt', '\r\n'), ('lf.txt', '\n')):
        path = tmp_path / name
        path.write_bytes(newline.join(README_EXAMPLE).encode('ascii'))
        ann = parse_annotation(path)
        assert ann.image_filename == 'PennFudanPed/PNGImages/FudanPed00001.png'
        assert ann.size == (559, 536, 3)
        assert ann.num_objects == 2
        assert ann.boxes == [(160, 182, 302, 431), (420, 171, 535, 486)]
        assert ann.labels == ['PASpersonWalking', 'PASpersonStanding']


def test_format_annotation_round_trips_through_parser(tmp_path):
    source = tmp_path / 'a.txt'
    source.write_bytes('\r\n'.join(README_EXAMPLE).encode('ascii'))
    ann = parse_annotation(source)
    text = format_annotation(ann)
    assert '\n' not in text.replace('\r\n', '')
    copy = tmp_path / 'b.txt'
    copy.write_bytes(text.encode('ascii'))
    assert parse_annotation(copy) == ann


def test_generated_annotation_is_crlf_and_parses_to_mask_extent(pennfudan_root):
    for ann_path in sorted((pennfudan_root / 'Annotation').glob('*.txt')):
        raw = ann_path.read_bytes()
        assert b'\r\n' in raw and raw.count(b'\n') == raw.count(b'\r\n')
        ids = read_ids(pennfudan_root, ann_path.stem)
        ann = parse_annotation(ann_path)
        assert ann.num_objects == ids.max() == len(ann.boxes)
        assert ann.size == (ids.shape[1], ids.shape[0], 3)
        for instance_id, box in enumerate(ann.boxes, start=1):
            x1, y1, x2, y2 = extent_0based_exclusive(ids == instance_id)
            assert box == (x1 + 1, y1 + 1, x2, y2)  # 1-based inclusive


def test_parse_annotation_without_size_line_raises_data_error(tmp_path):
    path = tmp_path / 'FudanPed00001.txt'
    path.write_bytes('\r\n'.join(line for line in README_EXAMPLE if 'Image size' not in line).encode())
    with pytest.raises(DataError, match=r'FudanPed00001\.txt: missing "Image size'):
        parse_annotation(path)


def test_parse_annotation_with_fewer_boxes_than_count_raises_data_error(tmp_path):
    path = tmp_path / 'FudanPed00001.txt'
    path.write_bytes('\r\n'.join(README_EXAMPLE[:11]).encode())
    with pytest.raises(DataError, match=r'FudanPed00001\.txt: "Objects with ground truth : 2"'):
        parse_annotation(path)


def test_data_list_instances_match_mask_ids_boxes_and_rle(pennfudan_root):
    dataset = load(pennfudan_root)
    stems = sorted(p.stem for p in (pennfudan_root / 'PNGImages').glob('*.png'))
    assert [info['img_id'] for info in infos(dataset)] == stems
    assert dataset.metainfo['classes'] == ('pedestrian',)
    for info in infos(dataset):
        ids = read_ids(pennfudan_root, info['img_id'])
        assert Path(info['img_path']) == pennfudan_root / 'PNGImages' / f'{info["img_id"]}.png'
        assert (info['height'], info['width']) == ids.shape == (80, 96)
        assert len(info['instances']) == ids.max() >= 1
        for instance_id, instance in enumerate(info['instances'], start=1):
            expected = ids == instance_id
            assert np.array_equal(mask_utils.decode(instance['mask']).astype(bool), expected)
            assert instance['bbox'] == extent_0based_exclusive(expected)
            assert instance['bbox_label'] == 0 and instance['ignore_flag'] == 0


def test_split_file_selects_exactly_its_images(pennfudan_root):
    listed = (pennfudan_root / 'splits' / 'val.txt').read_text().split()
    dataset = load(pennfudan_root, 'splits/val.txt')
    assert [info['img_id'] for info in infos(dataset)] == listed
    assert len(dataset) == 2


def test_annotation_box_off_by_3px_loads_with_mask_extent_box(pennfudan_root):
    stem = 'FudanPed00001'
    original = parse_annotation(pennfudan_root / 'Annotation' / f'{stem}.txt').boxes[0]

    def widen(ann):
        x1, y1, x2, y2 = ann.boxes[0]
        ann.boxes[0] = (x1, y1, x2 + 3, y2 - 2)

    rewrite_annotation(pennfudan_root, stem, widen)
    info = infos(load(pennfudan_root))[0]
    x1, y1, x2, y2 = original
    assert info['instances'][0]['bbox'] == [x1 - 1, y1 - 1, x2, y2]
    assert info['instances'][0]['bbox'] == extent_0based_exclusive(read_ids(pennfudan_root, stem) == 1)


def test_annotation_box_off_by_30px_raises_data_error_naming_file(pennfudan_root):
    def shift(ann):
        x1, y1, x2, y2 = ann.boxes[0]
        ann.boxes[0] = (x1, y1, x2, y2 + 30)

    rewrite_annotation(pennfudan_root, 'FudanPed00002', shift)
    expected = r'Annotation/FudanPed00002\.txt: object 1 box .* differs from its mask extent .* by 30 px'
    with pytest.raises(DataError, match=expected):
        load(pennfudan_root)
    assert len(load(pennfudan_root, box_tolerance=30)) == 6


def test_annotation_count_differing_from_mask_ids_raises_data_error(pennfudan_root):
    stem = stem_with_instances(pennfudan_root, 2)

    def drop_last(ann):
        ann.boxes.pop()
        ann.labels.pop()
        ann.num_objects -= 1

    rewrite_annotation(pennfudan_root, stem, drop_last)
    expected = rf'Annotation/{stem}\.txt: \d objects annotated but {stem}_mask\.png'
    with pytest.raises(DataError, match=expected):
        load(pennfudan_root)


def test_non_contiguous_mask_ids_raise_data_error(pennfudan_root):
    stem = stem_with_instances(pennfudan_root, 1)
    ids = read_ids(pennfudan_root, stem).copy()
    ids[ids == ids.max()] = ids.max() + 1  # 1..N becomes 1..N-1, N+1
    Image.fromarray(ids, 'L').save(pennfudan_root / 'PedMasks' / f'{stem}_mask.png')
    with pytest.raises(DataError, match=rf'PedMasks/{stem}_mask\.png: instance ids must be 1\.\.'):
        load(pennfudan_root)


@pytest.mark.parametrize('missing, problem', [
    ('PedMasks/FudanPed00003_mask.png', 'mask file not found'),
    ('Annotation/FudanPed00003.txt', 'annotation file not found'),
])
def test_missing_mask_or_annotation_raises_data_error_naming_file(pennfudan_root, missing, problem):
    (pennfudan_root / missing).unlink()
    with pytest.raises(DataError, match=rf'{missing}: {problem}'):
        load(pennfudan_root)


def test_unreadable_image_raises_data_error_naming_file(pennfudan_root):
    (pennfudan_root / 'PNGImages' / 'FudanPed00004.png').write_bytes(b'not a png')
    with pytest.raises(DataError, match=r'PNGImages/FudanPed00004\.png: cannot read the image'):
        load(pennfudan_root)


def test_image_missing_for_split_stem_raises_data_error_naming_split_file(pennfudan_root):
    (pennfudan_root / 'splits' / 'bad.txt').write_text('FudanPed00001\nFudanPed09999\n')
    with pytest.raises(DataError, match=r"splits/bad\.txt: line 2: unknown image 'FudanPed09999'"):
        load(pennfudan_root, 'splits/bad.txt')
    with pytest.raises(DataError, match=r'splits/none\.txt: split file not found'):
        load(pennfudan_root, 'splits/none.txt')


def test_annotation_size_differing_from_image_raises_data_error(pennfudan_root):
    def resize(ann):
        ann.size = (ann.size[0] + 1, ann.size[1], 3)

    rewrite_annotation(pennfudan_root, 'FudanPed00005', resize)
    with pytest.raises(DataError, match=r'Annotation/FudanPed00005\.txt: image size 97 x 80 differs'):
        load(pennfudan_root)


def test_filter_cfg_min_size_drops_small_images_but_not_in_test_mode(pennfudan_root):
    dropped = load(pennfudan_root, filter_cfg=dict(filter_empty_gt=True, min_size=81), serialize_data=False)
    assert len(dropped) == 0
    assert len(load(pennfudan_root, filter_cfg=dict(filter_empty_gt=True, min_size=80))) == 6
    assert len(load(pennfudan_root, filter_cfg=dict(min_size=81), test_mode=True)) == 6


def test_dataset_built_from_config_runs_mmdet_mask_pipeline(pennfudan_root):
    import torch
    from mmdet.registry import DATASETS
    from mmdet.utils import register_all_modules

    torch.set_num_threads(1)
    register_all_modules()
    dataset = DATASETS.build(dict(
        type='PennFudanDataset', data_root=str(pennfudan_root), ann_file='splits/train.txt',
        data_prefix=dict(img='PNGImages/', mask='PedMasks/', ann='Annotation/'),
        metainfo=dict(classes=('pedestrian',)),
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
            dict(type='PackDetInputs'),
        ]))
    assert len(dataset) == 4
    sample = dataset[0]
    stem = sample['data_samples'].img_id
    ids = read_ids(pennfudan_root, stem)
    gt = sample['data_samples'].gt_instances
    assert tuple(sample['inputs'].shape) == (3, 80, 96)
    assert gt.masks.masks.shape == (ids.max(), 80, 96)
    assert np.array_equal(gt.masks.masks, np.stack([ids == i for i in range(1, ids.max() + 1)]))
    expected_boxes = [extent_0based_exclusive(ids == i) for i in range(1, ids.max() + 1)]
    assert gt.bboxes.tensor.tolist() == expected_boxes
    assert gt.labels.tolist() == [0] * ids.max()


def test_zero_tolerance_accepts_exact_1based_inclusive_boxes_and_rejects_1px_off(pennfudan_root):
    assert len(load(pennfudan_root, box_tolerance=0)) == 6

    def shift_left_edge(ann):
        x1, y1, x2, y2 = ann.boxes[0]
        ann.boxes[0] = (x1 - 1, y1, x2, y2)

    rewrite_annotation(pennfudan_root, 'FudanPed00006', shift_left_edge)
    with pytest.raises(DataError, match=r'FudanPed00006\.txt: object 1 box .* by 1 px \(box_tolerance=0\)'):
        load(pennfudan_root, box_tolerance=0)
    assert len(load(pennfudan_root, box_tolerance=1)) == 6
