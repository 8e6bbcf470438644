"""KittiDataset on tiny KITTI folders written in the real format."""

from pathlib import Path

import numpy as np
import pytest
from mmengine.config import Config

from custom.datasets import base as dataset_base
from custom.datasets.kitti import KittiDataset, parse_kitti_label
from custom.errors import DataError
from tests.helpers import REPO
from tests.helpers.datasets import dataset_in_test_mode
from tests.helpers.source_writers import kitti_line, make_kitti, write_kitti

pytestmark = pytest.mark.usefixtures('mmdet_scope')


def build(root: Path, classes=('Car', 'Pedestrian', 'Cyclist'), **kwargs) -> KittiDataset:
    return dataset_in_test_mode(KittiDataset, root, classes, **kwargs)


def test_label_line_columns_are_parsed_into_name_and_box(tmp_path):
    label = tmp_path / '000000.txt'
    label.write_text(
        'Pedestrian 0.00 0 -0.20 712.40 143.00 810.73 307.92 1.89 0.48 1.20 1.84 1.47 8.41 0.01\n\n'
    )
    assert parse_kitti_label(label) == [dict(name='Pedestrian', box=[712.40, 143.00, 810.73, 307.92], line=1)]


def test_float_boxes_are_kept_and_clipped_to_each_image(tmp_path):
    data = build(make_kitti(tmp_path))
    assert data[0]['instances'][0]['bbox'] == [10.5, 5.25, 30.75, 38.0]
    assert data[2]['instances'][0]['bbox'] == [100.0, 8.0, 140.0, 47.0]
    assert data[1]['instances'][0]['bbox'] == [0.0, 10.0, 60.0, 45.0]


def test_png_and_jpeg_images_of_different_sizes_get_their_own_sizes(tmp_path):
    data = build(make_kitti(tmp_path), pipeline=[dict(type='LoadImageFromFile')])
    infos = [data.get_data_info(i) for i in range(3)]
    assert [Path(info['img_path']).suffix for info in infos] == ['.png', '.jpg', '.png']
    assert [(info['width'], info['height']) for info in infos] == [(120, 40), (100, 50), (160, 48)]
    assert [data[i]['img'].shape for i in range(3)] == [(40, 120, 3), (50, 100, 3), (48, 160, 3)]


def test_dontcare_and_classes_outside_config_become_ignore_regions_of_every_class(tmp_path, monkeypatch):
    warnings = []
    monkeypatch.setattr(dataset_base, 'warn_unmatched',
                        lambda counts, owner, what: warnings.append(counts))
    data = build(make_kitti(tmp_path))
    flags = [[(inst['bbox_label'], inst['ignore_flag']) for inst in data[i]['instances']] for i in range(3)]
    every_class = [(0, 1), (1, 1), (2, 1)]  # one ignored copy per class: no class's detections count there
    assert flags == [[(1, 0), *every_class], [(0, 0), *every_class], [(2, 0), (1, 0)]]
    assert [data.get_cat_ids(i) for i in range(3)] == [[1], [0], [2, 1]]  # ignored copies count as no class
    assert warnings == [{'Van': 1}]  # DontCare is expected, not warned about


def test_class_map_renames_kitti_classes_and_the_rest_is_ignored(tmp_path):
    data = build(make_kitti(tmp_path), classes=('pedestrian',), class_map={'Pedestrian': 'pedestrian'})
    labels = [[(inst['bbox_label'], inst['ignore_flag']) for inst in data[i]['instances']] for i in range(3)]
    assert labels == [[(0, 0), (0, 1)], [(0, 1), (0, 1)], [(0, 1), (0, 0)]]


def test_split_file_selects_labels_and_empty_label_file_gives_no_instances(tmp_path):
    make_kitti(tmp_path)
    write_kitti(tmp_path, '000003', [])
    (tmp_path / 'val.txt').write_text('000003\n000001\n')
    data = build(tmp_path, ann_file='val.txt')
    assert [data[i]['img_id'] for i in range(len(data))] == ['000003', '000001']
    assert data[0]['instances'] == []
    assert len(build(tmp_path, ann_file=None)) == 4


def test_box_masks_fill_each_box_and_load_with_the_mask_pipeline(tmp_path):
    make_kitti(tmp_path)
    pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations', with_bbox=True, with_mask=True)]
    results = build(tmp_path, box_masks=True, pipeline=pipeline)[0]
    masks = results['gt_masks'].masks
    assert masks.shape == (4, 40, 120)  # the pedestrian and the DontCare region once per class
    assert masks[0].sum() == (31 - 10) * (
        38 - 5
    )  # box 10.5..30.75 x 5.25..38 covers columns 10-30, rows 5-37
    assert np.array_equal(results['gt_ignore_flags'], [False, True, True, True])


def test_training_filter_drops_images_with_only_ignored_regions(tmp_path):
    make_kitti(tmp_path)
    dataset = KittiDataset(
        data_root=str(tmp_path),
        ann_file='',
        metainfo=dict(classes=('Cyclist',)),
        pipeline=[],
        filter_cfg=dict(filter_empty_gt=True),
    )
    assert [dataset.get_data_info(i)['img_id'] for i in range(len(dataset))] == ['000002']


@pytest.mark.parametrize(
    'line, message',
    [
        (
            'Car 0.00 0 -1.57 1 2 30 20 1.5 1.6 3.7 -0.5 1.7 20.0',
            r'000000\.txt: line 2: 14 columns, expected 15',
        ),
        ('Car 0.00 0 -1.57 1 2 30 20 1.5 1.6 3.7 -0.5 1.7 20.0 -1.5 0.9', r'line 2: 16 columns'),
        ('Car 0.00 0 -1.57 1 2 thirty 20 1.5 1.6 3.7 -0.5 1.7 20.0 -1.5', r"line 2: column 'x2' is 'thirty'"),
        ('Car 0.00 0 -1.57 1 2 nan 20 1.5 1.6 3.7 -0.5 1.7 20.0 -1.5', r"line 2: column 'x2' is 'nan'"),
        (kitti_line('Car', (30, 2, 10, 20)), r'line 2: bad box x1=30.0'),
        (kitti_line('Car', (200, 2, 210, 20)), r'line 2: box .* lies outside the 120x40 image 000000\.png'),
    ],
)
def test_malformed_label_lines_raise_data_error_with_file_and_line(tmp_path, line, message):
    write_kitti(tmp_path, '000000', [kitti_line('Car', (1, 1, 10, 10)), line])
    with pytest.raises(DataError, match=message):
        build(tmp_path)


def test_label_without_image_and_split_naming_a_missing_label_raise_data_error(tmp_path):
    write_kitti(tmp_path, '000000', [kitti_line('Car', (1, 1, 10, 10))])
    (tmp_path / 'label_2' / '000009.txt').write_text('')
    with pytest.raises(DataError, match=r'000009\.txt: no image 000009\.png'):
        build(tmp_path)
    (tmp_path / 'split.txt').write_text('000000\n000042\n')
    with pytest.raises(DataError, match=r"split\.txt: line 2: unknown image '000042' "
                                        r"\(no .*label_2/000042\.txt\)"):
        build(tmp_path, ann_file='split.txt')


def test_label_file_that_is_not_utf8_raises_data_error_naming_the_label(tmp_path):
    write_kitti(tmp_path, '000000', [kitti_line('Car', (1, 1, 10, 10))])
    (tmp_path / 'label_2' / '000000.txt').write_bytes(kitti_line('Caf\xe9', (1, 1, 10, 10)).encode('latin-1'))
    with pytest.raises(DataError, match=r'label_2/000000\.txt: cannot read the label file'):
        build(tmp_path)


def test_unreadable_image_raises_data_error_naming_the_image(tmp_path):
    write_kitti(tmp_path, '000000', [kitti_line('Car', (1, 1, 10, 10))])
    (tmp_path / 'image_2' / '000000.png').write_bytes(b'not a png')
    with pytest.raises(DataError, match=r'000000\.png: cannot read the image'):
        build(tmp_path)


def test_kitti_fasterrcnn_config_builds_its_datasets_on_synthetic_data(tmp_path):
    make_kitti(tmp_path / 'training')
    (tmp_path / 'ImageSets').mkdir()
    (tmp_path / 'ImageSets' / 'train.txt').write_text('000000\n000001\n')
    (tmp_path / 'ImageSets' / 'val.txt').write_text('000002\n')
    cfg = Config.fromfile(REPO / 'configs' / 'kitti_fasterrcnn.py')
    assert cfg.custom_imports == dict(imports=['custom'], allow_failed_imports=False)
    assert cfg.model.roi_head.bbox_head.num_classes == len(cfg.metainfo['classes']) == 3
    assert cfg.val_evaluator.ann_file is None and cfg.val_evaluator.metric == ['bbox']
    assert 'instances' in cfg.test_dataloader.dataset.pipeline[-1].meta_keys
    from mmdet.registry import DATASETS

    train = DATASETS.build({**cfg.train_dataloader.dataset, 'data_root': str(tmp_path)})
    val = DATASETS.build({**cfg.val_dataloader.dataset, 'data_root': str(tmp_path)})
    assert (len(train), len(val)) == (2, 1)
    assert train[0]['data_samples'].gt_instances.bboxes.shape == (1, 4)
    assert train[0]['data_samples'].ignored_instances.bboxes.shape == (3, 4)  # DontCare, once per class
    assert len(val[0]['data_samples'].metainfo['instances']) == 2
