"""LabelStudioDataset on Label Studio JSON exports as Label Studio writes them: percent coordinates, brush
RLE, upload and local-files URLs, relations, and the traps named with the task and region."""

import json
from pathlib import Path

import numpy as np
import pycocotools.mask as mask_utils
import pytest

from custom.data_tools.validation import validate_source
from custom.datasets.builder import build_dataset, rle_masks
from custom.datasets.label_studio import decode_brush_rle
from custom.errors import ConfigError, DataError
from tests.helpers.assertions import assert_findings
from tests.helpers.json_source_writers import HEIGHT, WIDTH
from tests.helpers.label_studio import brush_rle, brush_square, make_label_studio_export, mask_rgba, region
from tests.helpers.logs import mmengine_messages

pytestmark = pytest.mark.usefixtures('mmdet_scope')


def ls_cfg(root: Path, ann_file='export.json', classes=('person', 'car'), **options) -> dict:
    return {**dict(type='LabelStudioDataset', data_root=str(root), ann_file=ann_file,
                   data_prefix=dict(img='images/'), metainfo=dict(classes=classes)), **options}


def load(cfg: dict) -> list[dict]:
    dataset = build_dataset(cfg, test_mode=True, pipeline=[], serialize_data=False)
    return [dataset.get_data_info(i) for i in range(len(dataset))]


def pixels(mask) -> np.ndarray:
    rle = mask if isinstance(mask, dict) else mask_utils.merge(mask_utils.frPyObjects(mask, HEIGHT, WIDTH))
    return mask_utils.decode(dict(rle, counts=rle['counts'])).astype(bool)


@pytest.fixture
def export(tmp_path) -> Path:
    return make_label_studio_export(tmp_path)


def edit_export(export: Path, edit) -> None:
    tasks = json.loads(export.read_text())
    edit(tasks)
    export.write_text(json.dumps(tasks))


def test_the_brush_decoder_reads_label_studio_converters_own_test_vector():
    # label_studio_converter's tests/test_brush.py: encode_rle of these values gives these bytes.
    values = [1, 1, 1, 1, 2, 3, 5, 6, 7, 8, 4, 4, 4, 4, 4, 4, 4, 4]
    rle = [0, 0, 0, 18, 57, 27, 252, 96, 32, 1, 0, 6, 0, 40, 0, 192, 3, 128, 17, 56, 32]
    assert decode_brush_rle(rle).tolist() == values
    canvas = mask_rgba(brush_square(), colour=(12, 200, 7))  # a colour, so RGBA values alternate
    assert np.array_equal(decode_brush_rle(brush_rle(canvas)), canvas.ravel())


def test_an_export_gives_exact_objects_from_percent_polygons_rectangles_and_a_brush(export):
    with mmengine_messages() as messages:
        infos = load(ls_cfg(export.parent))
    assert [Path(info['img_path']).name for info in infos] == ['a.jpg', 'b.jpg', 'c.jpg']
    assert [len(info['instances']) for info in infos] == [2, 2, 0]
    person, car = infos[0]['instances']
    assert person['bbox_label'] == 0 and len(person['mask']) == 2  # two pieces joined by a relation
    assert person['bbox'] == pytest.approx([10, 10, 30, 40]) and pixels(person['mask']).sum() == 400
    assert car['bbox_label'] == 1 and car['bbox'] == pytest.approx([50, 40, 70, 50])
    brush, turned = infos[1]['instances']
    assert np.array_equal(pixels(brush['mask']), brush_square()) and brush['bbox'] == [10.0, 40.0, 30.0, 60.0]
    # turned 90 degrees clockwise about its top-left corner (60, 10): x from 50 to 60, y from 10 to 30
    assert turned['bbox'] == pytest.approx([50, 10, 60, 30], abs=1e-6)
    assert any('skipped 1 tasks without annotations' in m for m in messages)


def test_predictions_are_read_when_asked_and_default_classes_are_the_labels(export):
    def predictions_only(tasks):
        result = tasks[0]['annotations'][0]['result']
        tasks[0]['predictions'] = [dict(model_version='v1', score=0.5, result=result)]

    edit_export(export, predictions_only)
    infos = load({**ls_cfg(export.parent, results='predictions'), 'metainfo': {}})
    assert len(infos) == 1 and len(infos[0]['instances']) == 2
    dataset = build_dataset({**ls_cfg(export.parent), 'metainfo': {}}, lazy=True)
    dataset.prepare()
    assert dataset.metainfo['classes'] == ('car', 'person')
    with pytest.raises(ConfigError, match="results must be one of"):
        load(ls_cfg(export.parent, results='drafts'))


def test_brush_masks_are_reported_as_rle(export):
    assert rle_masks(ls_cfg(export.parent)) == f'{export} holds 1 brush (RLE) masks'


@pytest.mark.parametrize('edit, problem', [
    (lambda r: r['value'].update(points=[[10, 10], [300, 10], [300, 200]]),
     "task #0 (id 1), region p1 (polygonlabels): coordinates are percent of the image (0-100) in Label "
     "Studio, got 300: pixel values?"),
    (lambda r: r.update(original_width=2 * WIDTH),
     f'task #0 (id 1), region p1 (polygonlabels): original_width x original_height is {2 * WIDTH}x{HEIGHT} '
     f'but the image is {WIDTH}x{HEIGHT}'),
    (lambda r: r.update(image_rotation=90),
     'task #0 (id 1), region p1 (polygonlabels): image_rotation 90: the region was drawn on a rotated view'),
    (lambda r: r['value'].update(polygonlabels=['person', 'car']),
     "task #0 (id 1), region p1 (polygonlabels): needs exactly one label in value.polygonlabels, got "
     "['person', 'car']"),
])
def test_bad_regions_stop_loading_naming_the_task_and_region(export, edit, problem):
    edit_export(export, lambda tasks: edit(tasks[0]['annotations'][0]['result'][0]))
    with pytest.raises(DataError) as error:
        load(ls_cfg(export.parent))
    assert error.value.path == str(export) and error.value.problem.startswith(problem)


def test_a_bad_brush_and_a_missing_image_are_named(export):
    brush = region('brushlabels', 'person', 'b9', rle=brush_rle(np.zeros(40, dtype=np.uint8)), format='rle')
    edit_export(export, lambda tasks: tasks[1]['annotations'][0]['result'].append(brush))
    with pytest.raises(DataError, match=r'task #1 \(id 2\), region b9 \(brushlabels\): the brush RLE holds '
                                        r'40 values, not width x height x 4 \(RGBA\) = 27648'):
        load(ls_cfg(export.parent))
    (export.parent / 'images' / 'a.jpg').unlink()
    with pytest.raises(DataError, match=r"images/a.jpg: image file not found \(task #0 \(id 1\), image "
                                        r"'/data/upload/3/1a2b3c4d-a.jpg' in "):
        load(ls_cfg(export.parent))


def test_other_exports_are_refused_with_what_to_do(tmp_path):
    (tmp_path / 'min.json').write_text(json.dumps([dict(image='/data/upload/1/a.jpg', id=1, label=[])]))
    with pytest.raises(DataError, match=r'min.json: task #0 is not a Label Studio task \(needs a "data" '
                                        r'dict\) \(a JSON-MIN export\? use Export > JSON\)'):
        load(ls_cfg(tmp_path, ann_file='min.json'))


def test_the_validator_lists_every_problem_through_the_shared_contract(export):
    def break_two_tasks(tasks):
        tasks[0]['annotations'][0]['result'][0]['image_rotation'] = 90
        tasks[1]['annotations'][0]['result'][1]['value']['x'] = 250

    edit_export(export, break_two_tasks)
    report = validate_source(ls_cfg(export.parent))
    assert report.images == 3
    export_name = f'{export.parent.name}/export.json'
    assert_findings(report, {
        ('error', export_name, 'task #0 (id 1), region p1 (polygonlabels): image_rotation 90'),
        ('error', export_name, 'task #1 (id 2), region r2 (rectanglelabels): coordinates are percent'),
        ('warning', 'images/c.jpg', 'no instances'),
        ('warning', export_name, "classes ['person', 'car'] have no instance to train on"),
    })
