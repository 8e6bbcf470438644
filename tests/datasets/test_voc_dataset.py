"""VOCXMLDataset on tiny VOC-style folders written in the real format."""

from collections import Counter
from pathlib import Path

import numpy as np
import pycocotools.mask as mask_utils
import pytest
from mmengine.config import Config

from custom.datasets import base as dataset_base
from custom.datasets import class_map
from custom.datasets.class_map import resolve_label
from custom.datasets.voc_xml import VOCXMLDataset
from custom.errors import DataError
from tests.helpers import REPO
from tests.helpers.datasets import dataset_in_test_mode
from tests.helpers.source_writers import (
    make_voc_with_masks,
    voc_object,
    write_image,
    write_object_png,
    write_voc_xml,
)

pytestmark = pytest.mark.usefixtures('mmdet_scope')


def build(root: Path, classes=('person', 'dog'), **kwargs) -> VOCXMLDataset:
    return dataset_in_test_mode(VOCXMLDataset, root, classes, **kwargs)


def one_image(root: Path, objects: list[str], size=(64, 48), **xml_kwargs) -> Path:
    write_image(root / 'JPEGImages' / 'img.jpg', *size)
    xml_kwargs.setdefault('size', size)
    return write_voc_xml(root, 'img', objects, **xml_kwargs)


def test_resolve_label_applies_class_map_before_exact_match():
    assert resolve_label('person', ('pedestrian',), {'person': 'pedestrian'}) == 0
    assert resolve_label('pedestrian', ('car', 'pedestrian'), None) == 1
    assert resolve_label('Person', ('person',), None) is None  # exact, case-sensitive
    assert resolve_label('dog', ('pedestrian',), {'person': 'pedestrian'}) is None


def test_int_and_float_coordinates_become_zero_based_exclusive_boxes(tmp_path):
    one_image(tmp_path, [voc_object('person', (11, 21, 30, 40)), voc_object('dog', (1.5, 2.5, 10.25, 12.75))])
    boxes = [inst['bbox'] for inst in build(tmp_path)[0]['instances']]
    assert boxes == [[10.0, 20.0, 30.0, 40.0], [0.5, 1.5, 10.25, 12.75]]


def test_zero_based_writer_coordinates_are_clipped_to_the_image(tmp_path):
    one_image(tmp_path, [voc_object('person', (0, 0, 70, 48))], size=(64, 48))
    assert build(tmp_path)[0]['instances'][0]['bbox'] == [0.0, 0.0, 64.0, 48.0]


def test_difficult_objects_are_ignored_and_truncated_ones_are_targets(tmp_path):
    one_image(
        tmp_path,
        [
            voc_object('person', (1, 1, 10, 10), difficult=1),
            voc_object('person', (1, 1, 10, 10), difficult=0, truncated=1),
            voc_object('dog', (1, 1, 10, 10), difficult=None),
        ],
    )
    assert [inst['ignore_flag'] for inst in build(tmp_path)[0]['instances']] == [1, 0, 0]


@pytest.mark.parametrize('mode', ['L', 'P'])
def test_grayscale_and_palette_images_have_header_size_and_load_as_color(tmp_path, mode):
    write_image(tmp_path / 'JPEGImages' / 'img.png', 70, 50, mode=mode)
    write_voc_xml(tmp_path, 'img', [voc_object('person', (1, 1, 10, 10))], size=(70, 50), filename='img.png')
    dataset = build(tmp_path, pipeline=[dict(type='LoadImageFromFile', color_type='color')])
    assert (dataset.get_data_info(0)['width'], dataset.get_data_info(0)['height']) == (70, 50)
    assert dataset[0]['img'].shape == (50, 70, 3)


def test_image_is_found_by_xml_stem_despite_other_filename_and_foreign_path_tag(tmp_path):
    write_image(tmp_path / 'JPEGImages' / 'street.PNG', 64, 48)
    write_voc_xml(
        tmp_path,
        'street',
        [voc_object('person', (1, 1, 10, 10))],
        size=(64, 48),
        filename='IMG_0001.JPG',
        path_tag='C:\\Users\\someone\\Desktop\\IMG_0001.JPG',
    )
    info = build(tmp_path)[0]
    assert Path(info['img_path']).name == 'street.PNG'
    assert info['img_id'] == 'street'


def test_image_falls_back_to_filename_tag_when_no_image_has_the_xml_stem(tmp_path):
    write_image(tmp_path / 'JPEGImages' / 'photo_7.jpeg', 64, 48)
    write_voc_xml(
        tmp_path,
        'ann_7',
        [voc_object('person', (1, 1, 10, 10))],
        size=(64, 48),
        filename='photo_7.jpeg',
        path_tag='/home/other/photos/photo_7.jpeg',
    )
    assert Path(build(tmp_path)[0]['img_path']).name == 'photo_7.jpeg'


@pytest.mark.parametrize('size', [None, (0, 0)], ids=['no-size-tag', 'zero-size'])
def test_missing_or_zero_size_is_read_from_the_image_header(tmp_path, size):
    write_image(tmp_path / 'JPEGImages' / 'img.jpg', 81, 57)
    write_voc_xml(tmp_path, 'img', [voc_object('person', (1, 1, 10, 10))], size=size)
    info = build(tmp_path)[0]
    assert (info['width'], info['height']) == (81, 57)


def test_size_tag_that_disagrees_with_the_image_raises(tmp_path):
    write_image(tmp_path / 'JPEGImages' / 'img.jpg', 64, 48)
    write_voc_xml(tmp_path, 'img', [voc_object('person', (1, 1, 10, 10))], size=(128, 96))
    with pytest.raises(DataError, match=r'img\.xml: <size> says 128x96'):
        build(tmp_path)


def test_masks_match_xml_order_exclude_boundary_and_missing_ids_are_ignored(tmp_path):
    write_image(tmp_path / 'JPEGImages' / 'img.jpg', 64, 48)
    ids = np.zeros((48, 64), dtype=np.uint8)
    ids[4:21, 4:21] = 255
    ids[5:20, 5:20] = 1
    ids[30:40, 40:60] = 3  # object 2 has no pixels: ids skip a number
    write_object_png(tmp_path, 'img', ids)
    write_voc_xml(
        tmp_path,
        'img',
        [
            voc_object('person', (6, 6, 20, 20)),
            voc_object('person', (1, 1, 5, 5)),
            voc_object('dog', (41, 31, 60, 40)),
        ],
        size=(64, 48),
    )
    instances = build(tmp_path, with_mask=True)[0]['instances']
    masks = [
        mask_utils.decode({**inst['mask'], 'counts': inst['mask']['counts'].encode()}) for inst in instances
    ]
    assert np.array_equal(masks[0], ids == 1) and masks[0].sum() == 15 * 15  # 255 ring not included
    assert masks[1].sum() == 0 and instances[1]['ignore_flag'] == 1
    assert np.array_equal(masks[2], ids == 3) and instances[2]['ignore_flag'] == 0


def test_mask_ids_count_objects_of_skipped_classes(tmp_path):
    write_image(tmp_path / 'JPEGImages' / 'img.jpg', 64, 48)
    ids = np.zeros((48, 64), dtype=np.uint8)
    ids[0:10, 0:10] = 1  # a cat: not one of our classes
    ids[20:30, 20:30] = 2
    write_object_png(tmp_path, 'img', ids)
    write_voc_xml(
        tmp_path,
        'img',
        [voc_object('cat', (1, 1, 10, 10)), voc_object('person', (21, 21, 30, 30))],
        size=(64, 48),
    )
    (instance,) = build(tmp_path, with_mask=True)[0]['instances']
    assert instance['bbox'] == [20.0, 20.0, 30.0, 30.0]
    assert mask_utils.area({**instance['mask'], 'counts': instance['mask']['counts'].encode()}) == 100


def test_mask_pipeline_loads_bitmap_masks(tmp_path):
    make_voc_with_masks(tmp_path)
    pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations', with_bbox=True, with_mask=True)]
    results = build(tmp_path, with_mask=True, pipeline=pipeline)[0]
    assert results['gt_masks'].masks.shape == (2, 72, 96)
    assert results['gt_masks'].masks[0].sum() == 30 * 30
    np.testing.assert_allclose(results['gt_bboxes'].tensor[0].numpy(), [20, 10, 50, 40])


def test_classes_outside_config_are_skipped_and_counted_in_a_warning(tmp_path, monkeypatch):
    warnings = []
    monkeypatch.setattr(
        dataset_base, 'warn_unmatched', lambda counts, owner, what: warnings.append((counts, what))
    )
    one_image(
        tmp_path,
        [
            voc_object('person', (1, 1, 10, 10)),
            voc_object('cat', (1, 1, 10, 10)),
            voc_object('cat', (2, 2, 10, 10)),
            voc_object('tree', (1, 1, 5, 5)),
        ],
    )
    instances = build(tmp_path, classes=('pedestrian',), class_map={'person': 'pedestrian'})[0]['instances']
    assert [inst['bbox_label'] for inst in instances] == [0]
    assert warnings == [({'cat': 2, 'tree': 1}, 'skipped')]


def test_unmatched_class_warning_lists_each_class_with_its_count(monkeypatch):
    logged = []
    monkeypatch.setattr(class_map, 'print_log', lambda message, **kwargs: logged.append(message))
    class_map.warn_unmatched(Counter(), 'VOCXMLDataset(Annotations/)', 'skipped')
    class_map.warn_unmatched(Counter(cat=2, tree=1), 'VOCXMLDataset(Annotations/)', 'skipped')
    assert logged == [
        'VOCXMLDataset(Annotations/): 3 objects of classes not in metainfo classes (after class_map) were '
        "skipped: 'cat' x2, 'tree' x1"
    ]


def test_class_map_target_outside_classes_is_rejected(tmp_path):
    one_image(tmp_path, [voc_object('person', (1, 1, 10, 10))])
    with pytest.raises(ValueError, match='pedestrain'):
        build(tmp_path, classes=('pedestrian',), class_map={'person': 'pedestrain'})


def test_split_file_selects_images_and_per_class_lists_skip_absent_lines(tmp_path):
    for stem in ('a', 'b', 'c'):
        write_image(tmp_path / 'JPEGImages' / f'{stem}.jpg', 64, 48)
        write_voc_xml(tmp_path, stem, [voc_object('person', (1, 1, 10, 10))], size=(64, 48))
    split = tmp_path / 'ImageSets' / 'Main'
    split.mkdir(parents=True)
    (split / 'val.txt').write_text('c\n\na\n')
    (split / 'person_val.txt').write_text('a  1\nb -1\nc  0\n')
    assert [info['img_id'] for info in build(tmp_path, ann_file='ImageSets/Main/val.txt')] == ['c', 'a']
    assert [info['img_id'] for info in build(tmp_path, ann_file='ImageSets/Main/person_val.txt')] == [
        'a',
        'c',
    ]
    assert [info['img_id'] for info in build(tmp_path, ann_file=None)] == ['a', 'b', 'c']


def test_split_listing_a_missing_xml_names_the_split_file(tmp_path):
    one_image(tmp_path, [voc_object('person', (1, 1, 10, 10))])
    (tmp_path / 'list.txt').write_text('img\nghost\n')
    with pytest.raises(DataError, match=r"list\.txt: line 2: unknown image 'ghost' "
                                        r"\(no .*Annotations/ghost\.xml\)"):
        build(tmp_path, ann_file='list.txt')


def test_training_filter_drops_images_without_targets(tmp_path):
    for stem, name in (('a', 'person'), ('b', 'cat')):
        write_image(tmp_path / 'JPEGImages' / f'{stem}.jpg', 64, 48)
        write_voc_xml(tmp_path, stem, [voc_object(name, (1, 1, 10, 10))], size=(64, 48))
    dataset = VOCXMLDataset(
        data_root=str(tmp_path),
        ann_file='',
        metainfo=dict(classes=('person',)),
        pipeline=[],
        filter_cfg=dict(filter_empty_gt=True, min_size=8),
    )
    assert [dataset.get_data_info(i)['img_id'] for i in range(len(dataset))] == ['a']


def corrupt_xml(root):
    one_image(root, [voc_object('person', (1, 1, 10, 10))])
    (root / 'Annotations' / 'img.xml').write_text('<annotation><object><name>person</name>')


def no_image(root):
    write_voc_xml(root, 'img', [voc_object('person', (1, 1, 10, 10))], size=(64, 48))
    write_image(root / 'JPEGImages' / 'unrelated.jpg', 64, 48)


def reversed_box(root):
    one_image(root, [voc_object('person', (1, 1, 10, 10)), voc_object('person', (30, 5, 20, 9))])


def text_coordinate(root):
    one_image(root, [voc_object('person', (1, 1, 'ten', 10))])


def box_outside(root):
    one_image(root, [voc_object('person', (100, 100, 120, 120))], size=(64, 48))


def object_without_name(root):
    one_image(root, ['<object><bndbox><xmin>1</xmin></bndbox></object>'])


@pytest.mark.parametrize(
    'make, message',
    [
        (corrupt_xml, r'img\.xml: malformed XML'),
        (no_image, r"img\.xml: no image named img\.jpg/.*'img\.jpg'"),
        (reversed_box, r'img\.xml: <object> #2 \(person\): bad box xmin=30'),
        (text_coordinate, r"img\.xml: <object> #1 \(person\): <xmax> is 'ten'"),
        (box_outside, r'img\.xml: .*lies outside the 64x48 image'),
        (object_without_name, r'img\.xml: <object> #1 has no <name>'),
    ],
)
def test_malformed_annotations_raise_data_error_naming_the_file(tmp_path, make, message):
    make(tmp_path)
    with pytest.raises(DataError, match=message):
        build(tmp_path)


def rgb_mask(root):
    write_image(root / 'SegmentationObject' / 'img.png', 64, 48)


def mask_with_unknown_id(root):
    write_object_png(root, 'img', np.full((48, 64), 7, dtype=np.uint8))


def mask_of_other_size(root):
    write_object_png(root, 'img', np.zeros((10, 10), dtype=np.uint8))


@pytest.mark.parametrize(
    'make, message',
    [
        (lambda root: None, r'SegmentationObject: no instance mask PNG here .* train it with '
                            r'configs/voc_fasterrcnn\.py'),
        (rgb_mask, r'img\.png: expected a palette or grayscale PNG'),
        (mask_with_unknown_id, r'img\.png: pixel values \[7\] have no matching <object>'),
        (mask_of_other_size, r'img\.png: mask is 10x10 but the image is 64x48'),
    ],
)
def test_bad_mask_pngs_raise_data_error_naming_the_png(tmp_path, make, message):
    one_image(tmp_path, [voc_object('person', (1, 1, 10, 10))])
    make(tmp_path)
    with pytest.raises(DataError, match=message):
        build(tmp_path, with_mask=True)


@pytest.mark.parametrize('damage', ['garbage', 'truncated'])
def test_corrupt_mask_png_raises_data_error_naming_the_png(tmp_path, damage):
    one_image(tmp_path, [voc_object('person', (1, 1, 10, 10))])
    png = write_object_png(tmp_path, 'img', np.ones((48, 64), dtype=np.uint8))
    data = png.read_bytes()
    png.write_bytes(b'not a png' if damage == 'garbage' else data[: len(data) // 2])
    with pytest.raises(DataError, match=r'SegmentationObject/img\.png: cannot read mask'):
        build(tmp_path, with_mask=True)


def test_voc_maskrcnn_config_builds_its_datasets_on_synthetic_data(tmp_path):
    make_voc_with_masks(tmp_path)
    split = tmp_path / 'ImageSets' / 'Segmentation'
    split.mkdir(parents=True)
    for name in ('train', 'val'):
        (split / f'{name}.txt').write_text('2008_000001\n2008_000002\n')
    cfg = Config.fromfile(REPO / 'configs' / 'voc_maskrcnn.py')
    assert cfg.custom_imports == dict(imports=['custom'], allow_failed_imports=False)
    assert cfg.model.roi_head.bbox_head.num_classes == cfg.model.roi_head.mask_head.num_classes == 1
    assert cfg.val_evaluator.ann_file is None and cfg.val_evaluator.type == 'PerClassCocoMetric'
    assert 'instances' in cfg.test_dataloader.dataset.pipeline[-1].meta_keys
    from mmdet.registry import DATASETS

    for loader in (cfg.train_dataloader, cfg.val_dataloader):
        dataset = DATASETS.build({**loader.dataset, 'data_root': str(tmp_path)})
        assert len(dataset) == 2
        packed = dataset[0]
        assert packed['data_samples'].metainfo['ori_shape'] == (72, 96)
        if not loader.dataset.get('test_mode'):
            assert packed['data_samples'].gt_instances.masks.masks.shape[0] == 1  # the person, not the dog
        else:
            assert [inst['bbox_label'] for inst in packed['data_samples'].metainfo['instances']] == [0]


def make_raccoon(root: Path) -> Path:
    """A box-only VOC set as the raccoon data set ships: JPEGImages/, Annotations/ (one 'raccoon' each), and
    ImageSets/Main/{train,val}.txt, but no SegmentationObject/."""
    for index in range(3):
        stem = f'raccoon-{index}'
        write_image(root / 'JPEGImages' / f'{stem}.jpg', 96, 72, seed=index)
        write_voc_xml(root, stem, [voc_object('raccoon', (10 + index, 8, 60, 64))], size=(96, 72))
    (root / 'ImageSets' / 'Main').mkdir(parents=True)
    (root / 'ImageSets' / 'Main' / 'train.txt').write_text('raccoon-0\nraccoon-1\n')
    (root / 'ImageSets' / 'Main' / 'val.txt').write_text('raccoon-2\n')
    return root


def test_box_only_voc_gets_one_error_naming_the_box_config_which_reads_it_with_two_flags(tmp_path):
    """The raccoon journey: the mask config says once what to use; the box config needs only --data-root and
    --classes."""
    from custom.data_tools.validation import validate_config
    from custom.datasets.builder import build_dataset
    from custom.engine.runtime import load_config

    root = make_raccoon(tmp_path / 'raccoon')
    (root / 'ImageSets' / 'Segmentation').mkdir()
    for name in ('train', 'val'):  # the mask config's splits, as a user would copy them
        (root / 'ImageSets' / 'Segmentation' / f'{name}.txt').write_text('raccoon-0\nraccoon-1\nraccoon-2\n')
    masks = load_config(REPO / 'configs' / 'voc_maskrcnn.py', work_dir='unused', data_root=root,
                        classes=['raccoon'])
    errors = [finding for report in validate_config(masks, 'voc_maskrcnn.py') for finding in report.findings
              if finding.severity == 'error']
    assert len(errors) == 2  # train and val/test datasets: once each, not once per image
    assert all('configs/voc_fasterrcnn.py' in error.problem for error in errors)

    boxes = load_config(REPO / 'configs' / 'voc_fasterrcnn.py', work_dir='unused', data_root=root,
                        classes=['raccoon'])
    assert [len(build_dataset(loader.dataset)) for loader in (boxes.train_dataloader, boxes.val_dataloader)] \
        == [2, 1]
    assert boxes.model.roi_head.bbox_head.num_classes == 1
