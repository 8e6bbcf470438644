"""VIADataset on VIA 1.x and 2.x exports as the VGG Image Annotator writes them."""

import json
import re
from pathlib import Path

import pycocotools.mask as mask_utils
import pytest

from custom.data_tools.validation import validate_source
from custom.datasets.builder import build_dataset
from custom.errors import ConfigError, DataError
from tests.helpers.assertions import assert_findings
from tests.helpers.json_source_writers import make_via_balloon, square_xy, via_polygon, via_record, via_region
from tests.helpers.source_writers import write_image

pytestmark = pytest.mark.usefixtures('mmdet_scope')


def via_cfg(root: Path, ann_file='via_region_data.json', classes=('balloon',), **options) -> dict:
    return {**dict(type='VIADataset', data_root=str(root), ann_file=ann_file, data_prefix=dict(img=''),
                   metainfo=dict(classes=classes)), **options}


def load(cfg: dict):
    dataset = build_dataset(cfg, test_mode=True, pipeline=[], serialize_data=False)
    return [dataset.get_data_info(i) for i in range(len(dataset))]


def pixels(polygons: list) -> int:
    return int(mask_utils.area(mask_utils.merge(mask_utils.frPyObjects(polygons, 72, 96))))


def shapes_export(folder: Path, version: int, wrap_project: bool = False) -> Path:
    """One image with every VIA shape, classes in the region attribute 'name' (a checkbox for the ellipse)."""
    image = write_image(folder / 'shapes.jpg', 96, 72)
    regions = [
        via_polygon(*square_xy(10, 10, 10), name='balloon'),
        dict(via_region('rect', x=30, y=10, width=20, height=10), region_attributes=dict(name='kite')),
        dict(via_region('circle', cx=70, cy=20, r=6), region_attributes=dict(name='balloon')),
        dict(via_region('ellipse', cx=20, cy=50, rx=8, ry=4, theta=0.5),
             region_attributes=dict(name=dict(balloon=True, kite=False))),
        dict(via_region('point', cx=5, cy=5), region_attributes=dict(name='balloon')),
        dict(via_region('polyline', all_points_x=[1, 9], all_points_y=[1, 9]), region_attributes={}),
        via_polygon(*square_xy(60, 50, 8), name='bird'),
    ]
    key, record = via_record(image, regions, version)
    content = {key: record}
    if wrap_project:
        content = dict(_via_settings={}, _via_img_metadata=content, _via_attributes={},
                       _via_data_format_version='2.0.10', _via_image_id_list=[key])
    path = folder / 'via_region_data.json'
    path.write_text(json.dumps(content))
    return path


def test_balloon_tutorial_export_gives_every_region_the_one_class(tmp_path):
    make_via_balloon(tmp_path, 'train', version=1)
    infos = load(via_cfg(tmp_path, ann_file='train/via_region_data.json', data_prefix=dict(img='train/')))
    assert [info['img_id'] for info in infos] == ['train_0', 'train_1']
    assert [len(info['instances']) for info in infos] == [1, 2]
    second = infos[1]['instances'][1]
    assert (second['bbox'], second['bbox_label'], second['ignore_flag']) == ([30.0, 10.0, 42.0, 22.0], 0, 0)
    assert pixels(second['mask']) == 144


@pytest.mark.parametrize('version, wrap_project', [(1, False), (2, False), (2, True)])
def test_via_1_and_2_exports_and_the_2_project_give_the_same_instances(tmp_path, version, wrap_project):
    shapes_export(tmp_path, version, wrap_project)
    [info] = load(via_cfg(tmp_path, classes=('balloon', 'kite'), class_attribute='name'))
    labels = [inst['bbox_label'] for inst in info['instances']]
    assert labels == [0, 1, 0, 0]  # polygon, rect, circle, ellipse; point/polyline skipped, bird not a class
    rect, circle, ellipse = info['instances'][1:]
    assert rect['bbox'] == [30.0, 10.0, 50.0, 20.0] and pixels(rect['mask']) == 200
    assert abs(pixels(circle['mask']) - 3.1416 * 36) < 8
    assert abs(pixels(ellipse['mask']) - 3.1416 * 32) < 8


def test_skipped_regions_and_classes_are_counted_in_warnings(tmp_path):
    shapes_export(tmp_path, 2)
    report = validate_source(via_cfg(tmp_path, classes=('balloon', 'kite'), class_attribute='name'))
    assert report.targets == {'balloon': 3, 'kite': 1}
    assert_findings(report, {
        ('warning', tmp_path.name + '/via_region_data.json',
         "image 'shapes.jpg': skipped 2 regions of types other than polygon/rect/circle/ellipse: point x1 "
         '(regions 4), polyline x1 (regions 5)'),
        ('warning', tmp_path.name + '/shapes.jpg',
         "objects of classes not in metainfo classes (after class_map), not trained on: 'bird' x1"),
    })


def test_several_classes_without_class_attribute_are_refused(tmp_path):
    shapes_export(tmp_path, 1)
    with pytest.raises(ConfigError, match=r'without class_attribute every region gets the one class of '
                                          r"metainfo, but it has 2 classes \('balloon', 'kite'\)"):
        load(via_cfg(tmp_path, classes=('balloon', 'kite')))


@pytest.mark.parametrize('region, problem', [
    (via_polygon([10, 20], [10, 20], name='balloon'),
     "image 'a.jpg', region 0 (polygon): polygon with 2 points"),
    (via_polygon([10, 20, 30], [10, 20], name='balloon'),
     "image 'a.jpg', region 0: all_points_x and all_points_y must be lists of the same length"),
    (via_polygon(*square_xy(10, 10, 5)), "image 'a.jpg', region 0: region attribute 'name' names no class"),
    (dict(via_region('rect', x=10, y=10, width=0, height=5), region_attributes=dict(name='balloon')),
     "image 'a.jpg', region 0 (rect): polygon covers no pixel"),
    (dict(via_region('circle', cx=10, cy=10), region_attributes=dict(name='balloon')),
     "image 'a.jpg', region 0: circle lacks r"),
])
def test_malformed_regions_stop_loading_naming_image_and_region(tmp_path, region, problem):
    key, record = via_record(write_image(tmp_path / 'a.jpg', 96, 72), [region], version=2)
    (tmp_path / 'via_region_data.json').write_text(json.dumps({key: record}))
    with pytest.raises(DataError, match=r'via_region_data\.json: ' + re.escape(problem)):
        load(via_cfg(tmp_path, class_attribute='name'))


def test_via3_projects_missing_images_and_resaved_images_are_reported(tmp_path):
    make_via_balloon(tmp_path, 'train', version=2, n_images=3)
    (tmp_path / 'train' / 'train_1.jpg').unlink()
    resaved = write_image(tmp_path / 'train' / 'train_2.jpg', 96, 72, seed=7)  # other bytes, same name
    cfg = via_cfg(tmp_path, ann_file='train/via_region_data.json', data_prefix=dict(img='train/'))
    report = validate_source(cfg)
    assert_findings(report, {
        ('error', 'train/train_1.jpg', "image file not found (image 'train_1.jpg' in"),
        ('warning', 'train/train_2.jpg', f'{resaved.stat().st_size} bytes, but '),
    })
    (tmp_path / 'via3.json').write_text(json.dumps(dict(project={}, config={}, attribute={}, file={},
                                                        view={}, metadata={})))
    with pytest.raises(DataError, match=r'via3\.json: a VIA 3 project, which this reader does not take'):
        load(via_cfg(tmp_path, ann_file='via3.json'))


def test_validate_tool_without_classes_takes_the_class_attribute_values_sorted(tmp_path, capsys):
    from custom.cli import validate_dataset

    shapes_export(tmp_path, 2)
    args = ['via', str(tmp_path), '--split', 'via_region_data.json']
    assert validate_dataset.main([*args, '--dataset-options', 'class_attribute=name']) == 0
    out = capsys.readouterr().out  # the point region's 'balloon' is not read: no class of its own
    assert 'per class (ignored ones not counted): balloon 3, bird 1, kite 1\n' in out
    assert out.endswith('1 images checked: 0 errors, 1 warnings\n')  # the skipped point and polyline

    assert validate_dataset.main(args) == 1  # no class attribute: the file names no class
    assert (f'error: {tmp_path}/via_region_data.json: without class_attribute VIADataset gives every region '
            "the one class of the config, and it names none: set metainfo=dict(classes=('<name>',)) "
            '(--classes for the data tools), or class_attribute to the region attribute that names the '
            'class' in capsys.readouterr().out)


def test_data_tools_pass_the_class_attribute_with_dataset_options(tmp_path, capsys):
    from custom.cli import validate_dataset

    shapes_export(tmp_path, 2)
    args = ['via', str(tmp_path), '--split', 'via_region_data.json', '--classes', 'balloon', 'kite']
    assert validate_dataset.main([*args, '--dataset-options', 'class_attribute=name']) == 0
    assert 'per class (ignored ones not counted): balloon 3, kite 1\n' in capsys.readouterr().out
    assert validate_dataset.main(args) == 1  # two classes and no class attribute
    assert 'set class_attribute to the region attribute' in capsys.readouterr().out
