"""LabelmeDataset on folders of labelme JSON files as labelme 5 saves them."""

import json
import re
from pathlib import Path

import numpy as np
import pycocotools.mask as mask_utils
import pytest

from custom.data_tools.validation import validate_source
from custom.datasets.builder import build_dataset
from custom.errors import DataError
from tests.helpers.assertions import assert_findings
from tests.helpers.json_source_writers import corners, labelme_shape, write_labelme

pytestmark = pytest.mark.usefixtures('mmdet_scope')


def labelme_cfg(root: Path, classes=('person', 'car'), **options) -> dict:
    return {**dict(type='LabelmeDataset', data_root=str(root), ann_file='', metainfo=dict(classes=classes),
                   embedded_image_dir=str(root.parent / 'embedded')), **options}


def load(cfg: dict, pipeline=()):
    dataset = build_dataset(cfg, test_mode=True, pipeline=list(pipeline), serialize_data=False)
    return dataset


def pixels(polygons: list, height: int = 72, width: int = 96) -> int:
    return int(mask_utils.area(mask_utils.merge(mask_utils.frPyObjects(polygons, height, width))))


def street(folder: Path) -> Path:
    """One file with every shape kind: a person in two polygons (group 1), a car rectangle, a person circle,
    an __ignore__ region, a line, a point and a 'cat' (not in classes)."""
    return write_labelme(folder, 'street', [
        labelme_shape('person', corners(10, 10, 10), group_id=1),
        labelme_shape('person', corners(10, 30, 10), group_id=1),
        labelme_shape('car', [[40, 10], [60, 30]], 'rectangle'),
        labelme_shape('person', [[80, 50], [85, 50]], 'circle'),
        labelme_shape('__ignore__', corners(60, 40, 10)),
        labelme_shape('person', [[1, 1], [5, 5]], 'line'),
        labelme_shape('car', [[3, 3]], 'point'),
        labelme_shape('cat', corners(30, 50, 8)),
    ])


def test_grouped_polygons_shapes_and_ignore_regions_give_exact_instances_and_masks(tmp_path):
    street(tmp_path / 'labelme')
    dataset = load(labelme_cfg(tmp_path / 'labelme'))
    info = dataset.get_data_info(0)
    assert dataset.get_cat_ids(0) == [0, 1, 0]  # the __ignore__ region counts as no class
    flags = [(inst['bbox_label'], inst['ignore_flag']) for inst in info['instances']]
    assert flags == [(0, 0), (1, 0), (0, 0), (0, 1), (1, 1)]  # person, car, person, ignore x 2 classes
    person, car, circle, ignored, _ = info['instances']
    assert len(person['mask']) == 2 and pixels(person['mask']) == 200  # two parts, one object
    assert person['bbox'] == [10.0, 10.0, 20.0, 40.0]
    assert car['bbox'] == [40.0, 10.0, 60.0, 30.0] and pixels(car['mask']) == 400
    assert abs(pixels(circle['mask']) - np.pi * 25) < 8  # radius 5 circle as a 64-gon
    assert ignored['bbox'] == [60.0, 40.0, 70.0, 50.0]


def test_skipped_shape_types_and_labels_are_counted_in_warnings(tmp_path):
    street(tmp_path / 'labelme')
    report = validate_source(labelme_cfg(tmp_path / 'labelme'))
    assert report.targets == {'person': 2, 'car': 1}  # the ignore region counts as no class
    assert_findings(report, {
        ('warning', 'labelme/street.json', 'skipped 2 shapes of types other than polygon/rectangle/circle: '
                                           'line x1 (#6), point x1 (#7)'),
        ('warning', 'labelme/street.json', 'objects of classes not in metainfo classes (after class_map), '
                                           "not trained on: 'cat' x1"),
    })


def test_validate_tool_without_classes_takes_the_labels_of_the_shapes_read_sorted(tmp_path, capsys):
    from custom.cli import validate_dataset

    street(tmp_path / 'labelme')
    write_labelme(tmp_path / 'labelme', 'yard', [labelme_shape('bike', corners(5, 5, 20), 'rectangle'),
                                                 labelme_shape('cat', corners(40, 5, 10))])
    dataset = load({**labelme_cfg(tmp_path / 'labelme'), 'metainfo': {}, 'ann_file': ''})
    assert dataset.metainfo['classes'] == ('bike', 'car', 'cat', 'person')  # not __ignore__, line, point
    assert validate_dataset.main(['labelme', str(tmp_path / 'labelme')]) == 0
    out = capsys.readouterr().out
    assert 'per class (ignored ones not counted): bike 1, car 1, cat 2, person 2\n' in out
    assert out.endswith('2 images checked: 0 errors, 1 warnings\n')  # street's skipped line and point


def test_image_by_image_path_beside_the_file_or_embedded(tmp_path):
    folder = tmp_path / 'labelme'
    shapes = [labelme_shape('person', corners(10, 10, 10))]
    write_labelme(folder, 'relative', shapes, image_path='../images/relative.jpg')
    write_labelme(folder, 'windows', shapes, image_path='..\\images\\windows.jpg')
    beside = write_labelme(folder, 'beside', shapes)
    json.loads(beside.read_text())  # imagePath 'beside.jpg'; then point it elsewhere, the stem still finds it
    content = json.loads(beside.read_text())
    beside.write_text(json.dumps(dict(content, imagePath='C:/Users/someone/beside.jpg')))
    write_labelme(folder, 'embedded', shapes, embed=True, write_image_file=False)
    dataset = load(labelme_cfg(folder), pipeline=[dict(type='LoadImageFromFile')])
    paths = {dataset.get_data_info(i)['img_id']: Path(dataset.get_data_info(i)['img_path']) for i in range(4)}
    assert paths['relative'] == folder / '../images/relative.jpg'
    assert paths['windows'] == folder / '../images/windows.jpg'
    assert paths['beside'] == folder / 'beside.jpg'
    assert paths['embedded'].parent == tmp_path / 'embedded' and paths['embedded'].suffix == '.jpg'
    assert [dataset[i]['img'].shape for i in range(4)] == [(72, 96, 3)] * 4


@pytest.mark.parametrize('shapes, problem', [
    ([labelme_shape('person', [[1, 1], [9, 9]])],
     'shape #1 (person, polygon): polygon with 2 points (a polygon needs at least 3)'),
    ([labelme_shape('person', [[1, 1], [5, 5], [9, 9]])],
     'shape #1 (person, polygon): polygon covers no pixel'),
    ([labelme_shape('person', corners(10, 10, 5)), labelme_shape('', corners(1, 1, 5))],
     'shape #2 has no label'),
    ([labelme_shape('person', corners(200, 10, 5))],
     'shape #1 (person, polygon): polygon covers no pixel of the 96x72 image'),
    ([labelme_shape('person', [[5, 5], [5, 5]], 'circle')],
     'shape #1 (person, circle): polygon covers no pixel'),
])
def test_malformed_shapes_stop_loading_naming_file_and_shape(tmp_path, shapes, problem):
    write_labelme(tmp_path / 'labelme', 'bad', shapes)
    with pytest.raises(DataError, match=r'bad\.json: ' + re.escape(problem)):
        load(labelme_cfg(tmp_path / 'labelme'))


def test_resized_image_missing_image_and_other_json_are_errors(tmp_path):
    folder = tmp_path / 'labelme'
    shapes = [labelme_shape('person', corners(10, 10, 10))]
    write_labelme(folder, 'resized', shapes, size=(96, 72))
    content = json.loads((folder / 'resized.json').read_text())
    (folder / 'resized.json').write_text(json.dumps(dict(content, imageWidth=192, imageHeight=144)))
    write_labelme(folder, 'lost', shapes, image_path='gone/lost.png', write_image_file=False)
    (folder / 'coco.json').write_text(json.dumps(dict(images=[], annotations=[])))
    report = validate_source(labelme_cfg(folder))
    assert_findings(report, {
        ('error', 'labelme/resized.json', 'imageWidth x imageHeight is 192x144 but'),
        ('error', 'labelme/lost.json',
         "image 'gone/lost.png' not found beside the file, no image named lost.* in"),
        ('error', 'labelme/coco.json', 'not a labelme file (no "shapes" list)'),
    })


def test_split_file_lists_json_stems_and_ignore_label_is_configurable(tmp_path):
    folder = tmp_path / 'labelme'
    for stem in ('a', 'b', 'c'):
        write_labelme(folder, stem, [labelme_shape('person', corners(10, 10, 10)),
                                     labelme_shape('crowd', corners(40, 10, 10))])
    (folder / 'val.txt').write_text('a\nc\n')
    dataset = load(labelme_cfg(folder, classes=('person',), ann_file='val.txt', ignore_label='crowd'))
    assert [dataset.get_data_info(i)['img_id'] for i in range(len(dataset))] == ['a', 'c']
    assert [inst['ignore_flag'] for inst in dataset.get_data_info(0)['instances']] == [0, 1]
