"""CocoJsonDataset on tiny COCO instances json files as CVAT and labelme2coco write them, each trap caught
with its message, the same rules for mmdet's own CocoDataset in the validator, and the poly2mask=False
refusal."""

import json
import re
from pathlib import Path

import numpy as np
import pycocotools.mask as mask_utils
import pytest

from custom.data_tools.validation import validate_source
from custom.datasets.builder import build_dataset
from custom.engine.config_checks import check_mask_format
from custom.engine.runtime import load_config
from custom.errors import ConfigError, DataError
from tests.helpers import REPO
from tests.helpers.assertions import assert_findings
from tests.helpers.json_source_writers import (
    HEIGHT,
    WIDTH,
    coco_annotation,
    make_coco,
    rle_of_box,
    square,
    write_coco,
)
from tests.helpers.tool_runs import DEMO_CONFIG, tiny_overrides

pytestmark = pytest.mark.usefixtures('mmdet_scope')


def coco_cfg(root: Path, classes=('person', 'car'), ann_file='annotations/train.json', **options) -> dict:
    return dict(type='CocoJsonDataset', data_root=str(root), ann_file=ann_file,
                data_prefix=dict(img='images/'), metainfo=dict(classes=classes), **options)


def load(cfg: dict):
    dataset = build_dataset(cfg, test_mode=True, pipeline=[], serialize_data=False)
    return [dataset.get_data_info(i) for i in range(len(dataset))]


def edit_json(path: Path, edit) -> None:
    content = json.loads(path.read_text())
    edit(content)
    path.write_text(json.dumps(content))


def test_instances_boxes_masks_and_crowd_flags_as_written_with_other_categories_skipped(tmp_path):
    make_coco(tmp_path)
    infos = load(coco_cfg(tmp_path))
    assert [info['img_id'] for info in infos] == [1, 2, 3]
    assert [(info['width'], info['height']) for info in infos] == [(WIDTH, HEIGHT)] * 3
    person, car = infos[0]['instances']
    assert (person['bbox'], person['bbox_label'], person['ignore_flag']) == ([10.0, 10.0, 40.0, 30.0], 0, 0)
    assert person['mask'] == [square(10, 10, 10), square(30, 20, 10)]  # two parts, one object
    assert (car['bbox'], car['bbox_label']) == ([50.0, 40.0, 70.0, 60.0], 1)
    [crowd] = infos[1]['instances']  # the dog (not in classes) is skipped
    assert (crowd['bbox_label'], crowd['ignore_flag']) == (0, 1)
    assert mask_utils.area(dict(crowd['mask'], counts=crowd['mask']['counts'].encode())) == 40 * 30
    assert len(infos[2]['instances']) == 1


def test_labelme2coco_background_category_is_no_problem_and_other_categories_are_counted(tmp_path):
    make_coco(tmp_path)
    report = validate_source(coco_cfg(tmp_path))
    assert report.images == 3
    assert report.targets == {'person': 2, 'car': 1}  # the crowd region counts as no class
    assert_findings(report, {
        ('warning', 'images/b.jpg', 'objects of classes not in metainfo classes (after class_map), not '
                                    "trained on: 'dog' x1"),
        ('warning', 'images/b.jpg', "only ignored instances (filter_empty_gt=True drops the image); CVAT's"),
    })


def test_cvat_export_with_every_mask_iscrowd_is_an_error_naming_the_export_setting(tmp_path):
    make_coco(tmp_path)
    json_path = tmp_path / 'annotations' / 'train.json'
    images = json.loads(json_path.read_text())['images']
    # as CVAT's "COCO 1.0" export writes mask shapes: uncompressed RLE, iscrowd=1, CVAT's attributes
    mask = rle_of_box(0, 0, 40, 30, compressed=False)
    crowd = [dict(coco_annotation(i, image['id'], 1, [0, 0, 40, 30], mask, iscrowd=1),
                  attributes=dict(occluded=False))
             for i, image in enumerate(images, start=1)]
    write_coco(json_path, images, crowd, [dict(id=1, name='person', supercategory='')])
    expected = (r'train\.json: every instance of all 3 images is ignored \(ignore_flag=1\), so training '
                r"would learn nothing; CVAT's 'COCO 1\.0' export writes every mask shape")
    with pytest.raises(DataError, match=expected):
        load(coco_cfg(tmp_path, classes=('person',)))
    report = validate_source(coco_cfg(tmp_path, classes=('person',)))
    assert report.count('error') == 1 and report.count('warning') == 4  # 3 images + 'person' has no target
    assert report.targets == {'person': 0}

    # the fix the message names: iscrowd=0 on the objects to learn; the uncompressed RLE then trains
    edit_json(json_path, lambda c: c['annotations'][0].update(iscrowd=0))
    pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations', with_bbox=True, with_mask=True)]
    first = build_dataset(coco_cfg(tmp_path, classes=('person',)), test_mode=True, pipeline=pipeline)[0]
    assert int(first['gt_masks'].masks.sum()) == 40 * 30 and not first['gt_ignore_flags'].any()


def test_class_that_matches_no_category_lists_the_nearest_names(tmp_path):
    make_coco(tmp_path)
    with pytest.raises(DataError, match=r"classes 'persn' \(nearest: 'person'\) match no category, so "
                                        r"nothing would be trained on them; the categories are "
                                        r"'_background_', "):
        load(coco_cfg(tmp_path, classes=('persn', 'car')))
    assert len(load(coco_cfg(tmp_path, classes=('pedestrian',), class_map={'person': 'pedestrian'}))) == 3


def broken_coco(root: Path) -> Path:
    """One image per trap, each failing on its own (the validator lists them all), and two that training
    tolerates with a warning: a CVAT-style crowd-only image and a dog, a category outside the classes."""
    from tests.helpers.source_writers import write_image

    names = ['ok', 'two_points', 'flat', 'zero_box', 'outside', 'resized', 'missing', 'no_mask', 'rle_size',
             'corrupt', 'crowd']
    for name in names:
        if name != 'missing':
            write_image(root / 'images' / f'{name}.jpg', 120 if name == 'resized' else WIDTH, HEIGHT)
    (root / 'images' / 'corrupt.jpg').write_bytes(b'not a jpeg')
    images = [dict(id=i, file_name=f'{name}.jpg', width=WIDTH, height=HEIGHT)
              for i, name in enumerate(names, 1)]
    segmentation = {
        'two_points': [[10, 10, 20, 20]],
        'flat': [[10, 10, 20, 20, 30, 30]],  # three points on one line
        'no_mask': [],
        'rle_size': dict(rle_of_box(0, 0, 5, 5), size=[HEIGHT, 120]),
        'crowd': rle_of_box(10, 10, 22, 22),
    }
    boxes = {'zero_box': [10, 10, 0, 12], 'outside': [100, 10, 20, 12]}
    annotations = [coco_annotation(10 + i, i, 1, boxes.get(name, [10, 10, 12, 12]),
                                   segmentation.get(name, [square(10, 10, 12)]), iscrowd=int(name == 'crowd'))
                   for i, name in enumerate(names, 1)]
    annotations.append(coco_annotation(99, 1, 2, [40, 40, 12, 12], [square(40, 40, 12)]))  # the dog
    return write_coco(root / 'annotations' / 'train.json', images, annotations,
                      [dict(id=1, name='person'), dict(id=2, name='dog')])


def test_every_trap_of_a_broken_file_is_an_error_naming_the_annotation(tmp_path):
    broken_coco(tmp_path)
    report = validate_source(coco_cfg(tmp_path, classes=('person',)))
    assert report.images == 11
    assert report.targets == {'person': 1}  # ok.jpg's; the crowd region counts as no class
    ann = 'annotations/train.json'
    assert_findings(report, {
        ('error', ann, 'annotation id 12 (image id 2 (two_points.jpg)), polygon #1: polygon with 2 points '
                       '(a polygon needs at least 3)'),
        ('error', ann, 'annotation id 13 (image id 3 (flat.jpg)), polygon #1: polygon covers no pixel'),
        ('error', ann, 'annotation id 14 (image id 4 (zero_box.jpg)): bbox [10, 10, 0, 12] has zero area'),
        ('error', ann, 'annotation id 15 (image id 5 (outside.jpg)): bbox [100, 10, 20, 12] lies outside '
                       'the 96x72 image'),
        ('error', ann, 'image id 6 (resized.jpg): 96x72 in the json but the file is 120x72'),
        ('error', 'images/missing.jpg', 'image file not found (image id 7 (missing.jpg) in'),
        ('error', ann, 'annotation id 18 (image id 8 (no_mask.jpg)): no segmentation, and a mask pipeline '
                       'needs one per object (require_masks=False reads box-only files)'),
        ('error', ann, 'annotation id 19 (image id 9 (rle_size.jpg)): RLE size [72, 120] differs from the '
                       'image [72, 96]'),
        ('error', 'images/corrupt.jpg', 'cannot read the image'),
        ('warning', 'images/ok.jpg', 'objects of classes not in metainfo classes (after class_map), not '
                                     "trained on: 'dog' x1"),
        ('warning', 'images/crowd.jpg', 'only ignored instances (filter_empty_gt=True drops the image); '
                                        "CVAT's 'COCO 1.0' export"),
    })
    with pytest.raises(DataError, match=r'annotation id 12 .*polygon with 2 points'):
        load(coco_cfg(tmp_path, classes=('person',)))  # training stops at the first one


def test_validate_tool_takes_the_coco_json_as_split_and_exits_1_on_errors(tmp_path, capsys):
    from custom.cli import validate_dataset

    broken_coco(tmp_path)
    args = ['coco', str(tmp_path), '--split', 'annotations/train.json', '--data-prefix', 'img=images/']
    assert validate_dataset.main([*args, '--classes', 'person']) == 1
    out = capsys.readouterr().out
    assert 'instances to train on per class (ignored ones not counted): person 1\n' in out
    assert out.endswith('11 images checked: 9 errors, 2 warnings\n')
    assert validate_dataset.main([*args, '--classes', 'persn']) == 1
    assert "classes 'persn' (nearest: 'person') match no category" in capsys.readouterr().out
    assert validate_dataset.main(args) == 1  # without --classes: the categories annotations use
    assert 'person 1, dog 1\n' in capsys.readouterr().out


@pytest.mark.parametrize('edit, message', [
    (lambda c: c['images'].append(dict(c['images'][0])), 'image ids occur more than once: 1 x2'),
    (lambda c: c['annotations'].append(dict(c['annotations'][0])),
     'annotation ids occur more than once: 1 x2'),
    (lambda c: c['annotations'][0].update(image_id=99),
     'annotation id 1 refers to image id 99, which is not in "images"'),
    (lambda c: c['annotations'][1].pop('bbox'), 'annotations[1] lacks bbox'),
    (lambda c: c.pop('categories'), 'not a COCO instances json'),
])
def test_file_level_problems_stop_loading_before_any_image(tmp_path, edit, message):
    edit_json(make_coco(tmp_path), edit)
    with pytest.raises(DataError, match=r'train\.json: ' + re.escape(message)):
        load(coco_cfg(tmp_path))


def test_box_only_file_loads_with_require_masks_false(tmp_path):
    json_path = make_coco(tmp_path)
    edit_json(json_path, lambda c: [ann.update(segmentation=[]) for ann in c['annotations']])
    infos = load(coco_cfg(tmp_path, require_masks=False))
    assert [len(info['instances']) for info in infos] == [2, 1, 1]
    assert all('mask' not in inst for info in infos for inst in info['instances'])


def box_only_coco(root: Path, n_boxes: int = 200) -> Path:
    """``root/images/a.jpg`` and a json as Roboflow exports detection data: every segmentation empty."""
    from tests.helpers.source_writers import write_image

    write_image(root / 'images' / 'a.jpg', WIDTH, HEIGHT)
    annotations = [coco_annotation(i, 1, 1, [i % 80, 10, 12, 12]) for i in range(1, n_boxes + 1)]
    return write_coco(root / 'annotations' / 'train.json', [dict(id=1, file_name='a.jpg', width=WIDTH,
                                                                 height=HEIGHT)],
                      annotations, [dict(id=1, name='person')])


BOX_ONLY = ('no annotation has a segmentation: this is a box-only data set; train it with '
            'configs/coco_json_fasterrcnn.py (or require_masks=False)')


def test_box_only_file_is_one_error_naming_the_box_config_and_a_file_with_some_masks_one_per_annotation(
        tmp_path, capsys):
    from custom.cli import validate_dataset

    box_only_coco(tmp_path / 'roboflow')
    with pytest.raises(DataError) as error:
        load(coco_cfg(tmp_path / 'roboflow', classes=('person',)))
    assert str(error.value) == f'{tmp_path}/roboflow/annotations/train.json: {BOX_ONLY}'
    args = ['--split', 'annotations/train.json', '--data-prefix', 'img=images/']
    assert validate_dataset.main(['coco', str(tmp_path / 'roboflow'), *args]) == 1
    errors = [line for line in capsys.readouterr().out.splitlines() if line.startswith('error: ')]
    assert errors == [f'error: {tmp_path}/roboflow/annotations/train.json: {BOX_ONLY}']  # not 200 lines
    assert len(load(coco_cfg(tmp_path / 'roboflow', classes=('person',), require_masks=False))) == 1

    json_path = make_coco(tmp_path / 'some')
    edit_json(json_path, lambda c: [c['annotations'][0].update(segmentation=[]),  # a.jpg's person
                                    c['annotations'][2].update(iscrowd=0),  # b.jpg's person
                                    c['annotations'][4].update(segmentation=[])])  # c.jpg's person
    report = validate_source(coco_cfg(tmp_path / 'some', classes=('person',)))
    missing = ('no segmentation, and a mask pipeline needs one per object (require_masks=False reads '
               'box-only files)')
    assert_findings(report, {
        ('error', 'annotations/train.json', f'annotation id 1 (image id 1 (a.jpg)): {missing}'),
        ('error', 'annotations/train.json', f'annotation id 5 (image id 3 (c.jpg)): {missing}'),
        ('warning', 'images/b.jpg', 'objects of classes not in metainfo classes'),
    })


def test_a_coco_json_is_parsed_once_for_the_mask_check_the_classes_and_loading_until_it_is_edited(
        tmp_path, monkeypatch):
    json_path = make_coco(tmp_path)
    parsed = []
    loads = json.loads
    monkeypatch.setattr(json, 'loads', lambda text, *a, **k: parsed.append(text) or loads(text, *a, **k))
    times_parsed = lambda: sum(text == json_path.read_text() for text in parsed)  # noqa: E731
    rtmdet_style = [dict(type='LoadImageFromFile'),
                    dict(type='LoadAnnotations', with_bbox=True, with_mask=True, poly2mask=False)]
    cfg = load_config(DEMO_CONFIG, work_dir='unused')
    cfg.train_dataloader.dataset = dict(coco_cfg(tmp_path), pipeline=rtmdet_style)
    with pytest.raises(ConfigError, match='holds 1 RLE masks'):
        check_mask_format(cfg)  # reads the json
    no_classes = {key: value for key, value in coco_cfg(tmp_path).items() if key != 'metainfo'}
    train = build_dataset(no_classes, test_mode=True, pipeline=[])  # its classes, then its images
    val = build_dataset(coco_cfg(tmp_path), test_mode=True, pipeline=[])
    assert train.metainfo['classes'] == ('person', 'car', 'dog') and len(train) == len(val) == 3
    assert times_parsed() == 1

    edit_json(json_path, lambda c: c['annotations'][4].update(iscrowd=1))  # same size, maybe same mtime
    edited = build_dataset(coco_cfg(tmp_path), test_mode=True, pipeline=[])
    assert times_parsed() == 1  # the edited text, once
    assert edited.get_data_info(2)['instances'][0]['ignore_flag'] == 1


def test_validator_applies_the_same_rules_to_mmdets_own_coco_dataset(tmp_path):
    broken_coco(tmp_path)
    pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations', with_bbox=True, with_mask=True)]
    stock = dict(coco_cfg(tmp_path, classes=('person',)), type='CocoDataset', pipeline=pipeline)
    project = validate_source(coco_cfg(tmp_path, classes=('person',)))
    assert [str(f) for f in validate_source(stock).findings] == [str(f) for f in project.findings]


def test_validator_checks_a_config_that_swaps_in_mmdets_coco_dataset(tmp_path):
    from custom.data_tools.validation import validate_config

    broken_coco(tmp_path)
    cfg = load_config(REPO / 'configs' / 'coco_json_maskrcnn.py', work_dir='unused')
    for loader in (cfg.train_dataloader, cfg.val_dataloader, cfg.test_dataloader):
        loader.dataset.pop('class_map')  # the project's argument; mmdet's CocoDataset takes none
        loader.dataset.update(type='CocoDataset', data_root=f'{tmp_path}/', ann_file='annotations/train.json')
    config_report, train = validate_config(cfg, 'coco_json_maskrcnn.py')  # val and test: the same data
    assert not config_report.findings
    assert (train.name, train.images, train.count('error'), train.count('warning')) == (
        'train_dataloader.dataset (CocoDataset)', 11, 9, 2)
    assert any("polygon with 2 points" in finding.problem for finding in train.findings)


def test_rle_masks_with_poly2mask_false_are_refused_naming_the_fix(tmp_path, pennfudan_root):
    make_coco(tmp_path)  # holds one RLE mask (the crowd region)
    rtmdet_style = [dict(type='LoadImageFromFile'),
                    dict(type='LoadAnnotations', with_bbox=True, with_mask=True, poly2mask=False)]
    cfg = load_config(DEMO_CONFIG, tiny_overrides(pennfudan_root), work_dir='unused')
    cfg.train_dataloader.dataset.pipeline = rtmdet_style
    with pytest.raises(ConfigError, match=r'train_dataloader\.dataset: PennFudanDataset gives RLE masks, '
                                          r'but .* set poly2mask=True in that LoadAnnotations step'):
        check_mask_format(cfg)
    cfg.train_dataloader.dataset = dict(coco_cfg(tmp_path), pipeline=rtmdet_style)
    with pytest.raises(ConfigError, match=r'train\.json holds 1 RLE masks, but its pipeline'):
        check_mask_format(cfg)
    cfg.train_dataloader.dataset.type = 'CocoDataset'  # mmdet's own reads the same json
    with pytest.raises(ConfigError, match=r'train\.json holds 1 RLE masks'):
        check_mask_format(cfg)
    edit_json(tmp_path / 'annotations' / 'train.json', lambda c: c['annotations'].pop(2))
    check_mask_format(cfg)  # polygons only: accepted
    cfg.train_dataloader.dataset = dict(cfg.train_dataloader.dataset, type='PennFudanDataset',
                                        data_root=str(pennfudan_root))
    cfg.train_dataloader.dataset.pipeline[1].poly2mask = True
    check_mask_format(cfg)  # RLE masks rasterised as bitmaps: accepted


def test_split_file_keeps_the_images_it_names(tmp_path):
    make_coco(tmp_path)
    (tmp_path / 'val.txt').write_text('a\nc.jpg\n')
    assert [info['img_id'] for info in load(coco_cfg(tmp_path, split_file='val.txt'))] == [1, 3]
    (tmp_path / 'bad.txt').write_text('a\nzzz\n')
    with pytest.raises(DataError, match=r"bad\.txt: line 2: unknown image 'zzz' \(no image named zzz in "):
        load(coco_cfg(tmp_path, split_file='bad.txt'))


def test_polygon_and_rle_masks_rasterise_in_the_mask_rcnn_pipeline(tmp_path):
    make_coco(tmp_path)
    pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations', with_bbox=True, with_mask=True)]
    dataset = build_dataset(coco_cfg(tmp_path), test_mode=True, pipeline=pipeline)
    first, second = dataset[0], dataset[1]
    assert [int(m.sum()) for m in first['gt_masks'].masks] == [200, 400]
    assert np.array_equal(second['gt_ignore_flags'], [True])
