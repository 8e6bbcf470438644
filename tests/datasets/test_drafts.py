"""Drafts for labelling tools (custom/datasets/drafts.py and each format's writer): written from detections on
real images, read back by the project's loader for the format (and the tool's own library where one installs)
as the same objects; nothing a human may have corrected is overwritten."""

import json
from pathlib import Path

import numpy as np
import pytest
from pycocotools.coco import COCO

from custom.datasets.builder import build_dataset
from custom.datasets.drafts import DraftImage, write_drafts
from custom.errors import ConfigError, DataError
from custom.structures.detections import Detections
from tests.helpers.drafts import (
    CLASSES,
    assert_same_objects,
    box_drafts,
    mask_drafts,
    mask_iou,
    penn_fudan_source,
)

pytestmark = pytest.mark.usefixtures('mmdet_scope')


@pytest.fixture(scope='module')
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp('drafts')


@pytest.fixture(scope='module')
def drafts(folder) -> list[DraftImage]:
    return mask_drafts(folder, penn_fudan_source(folder))


def loaded(cfg: dict) -> list[dict]:
    """The middle format of every image of a dataset config (classes: the model's)."""
    dataset = build_dataset(dict(cfg, metainfo=dict(classes=CLASSES)), test_mode=True, pipeline=[],
                            serialize_data=False)
    return [dataset.get_data_info(i) for i in range(len(dataset))]


def test_coco_drafts_read_back_by_the_loader_and_pycocotools(folder, drafts):
    out = folder / 'coco.json'
    assert write_drafts('coco', drafts, CLASSES, out, model_version='maskrcnn-epoch12') == [out]
    infos = loaded(dict(type='CocoJsonDataset', data_root=str(folder), ann_file='coco.json'))
    assert_same_objects(drafts, infos)
    coco = COCO(str(out))
    assert [cat['name'] for cat in coco.loadCats(coco.getCatIds())] == list(CLASSES)
    cut = coco.loadAnns(coco.getAnnIds(imgIds=[1]))[0]  # the first person, cut in two pieces
    assert len(cut['segmentation']) == 2 and cut['iscrowd'] == 0 and cut['score'] == pytest.approx(0.95)
    assert mask_iou(coco.annToMask(cut).astype(bool), drafts[0].detections.masks[0]) >= 0.95
    assert coco.dataset['info']['version'] == 'maskrcnn-epoch12'
    assert [img['file_name'] for img in coco.dataset['images']] == [f'images/{d.image.name}' for d in drafts]


def test_coco_box_drafts_are_read_back_as_boxes(folder, drafts):
    boxes = box_drafts(drafts)
    write_drafts('coco', boxes, CLASSES, folder / 'coco_boxes.json')
    infos = loaded(dict(type='CocoJsonDataset', data_root=str(folder), ann_file='coco_boxes.json',
                        require_masks=False))
    assert_same_objects(boxes, infos)


def test_labelme_drafts_read_back_as_the_same_objects(folder, drafts):
    out = folder / 'labelme'
    written = write_drafts('labelme', drafts, CLASSES, out)
    assert written == [out / f'{d.image.stem}.json' for d in drafts]
    assert_same_objects(drafts, loaded(dict(type='LabelmeDataset', data_root=str(out), ann_file='')))
    content = json.loads(written[0].read_text())
    assert content['imagePath'] == f'../images/{drafts[0].image.name}' and content['imageData'] is None
    assert (content['imageWidth'], content['imageHeight']) == (drafts[0].width, drafts[0].height)
    pieces = [shape for shape in content['shapes'] if shape['group_id'] is not None]
    assert len(pieces) == 2 and pieces[0]['group_id'] == pieces[1]['group_id']
    assert pieces[0]['description'] == 'score 0.950' and pieces[0]['flags'] == {}


def test_labelme_box_drafts_are_rectangles(folder, drafts):
    boxes = box_drafts(drafts)
    out = folder / 'labelme_boxes'
    written = write_drafts('labelme', boxes, CLASSES, out)
    shapes = json.loads(written[0].read_text())['shapes']
    assert {shape['shape_type'] for shape in shapes} == {'rectangle'}
    assert all(len(shape['points']) == 2 for shape in shapes)
    assert_same_objects(boxes, loaded(dict(type='LabelmeDataset', data_root=str(out), ann_file='')))


def test_via_drafts_are_a_project_read_back_as_the_same_objects(folder, drafts):
    out = folder / 'via_project.json'
    assert write_drafts('via', drafts, CLASSES, out) == [out]
    infos = loaded(dict(type='VIADataset', data_root=str(folder), ann_file=out.name, class_attribute='class',
                        group_attribute='group'))
    assert_same_objects(drafts, infos)
    project = json.loads(out.read_text())
    assert {'_via_settings', '_via_img_metadata', '_via_attributes'} <= project.keys()
    size = drafts[0].image.stat().st_size
    record = project['_via_img_metadata'][f'images/{drafts[0].image.name}{size}']
    assert project['_via_image_id_list'][0] == f'images/{drafts[0].image.name}{size}'
    assert isinstance(record['regions'], list) and record['size'] == size
    assert project['_via_attributes']['region']['class']['options'] == {name: name for name in CLASSES}
    pieces = [region for region in record['regions'] if 'group' in region['region_attributes']]
    assert len(pieces) == 2 and pieces[0]['region_attributes']['score'] == '0.950'
    assert project['_via_settings']['core']['default_filepath'] == f'{folder.resolve().as_posix()}/'


def test_via_box_drafts_are_rects(folder, drafts):
    boxes = box_drafts(drafts)
    out = folder / 'via_boxes.json'
    write_drafts('via', boxes, CLASSES, out)
    records = json.loads(out.read_text())['_via_img_metadata'].values()
    assert {r['shape_attributes']['name'] for record in records for r in record['regions']} == {'rect'}
    assert_same_objects(boxes, loaded(dict(type='VIADataset', data_root=str(folder), ann_file=out.name,
                                           class_attribute='class')))


def test_label_studio_drafts_are_tasks_with_predictions_read_back_as_the_same_objects(folder, drafts):
    out = folder / 'tasks.json'
    written = write_drafts('labelstudio', drafts, CLASSES, out, model_version='maskrcnn-epoch12')
    assert written == [out, folder / 'tasks.label_config.xml']
    infos = loaded(dict(type='LabelStudioDataset', data_root=str(folder), ann_file=out.name,
                        results='predictions'))
    assert_same_objects(drafts, infos)
    first = json.loads(out.read_text())[0]
    assert first['data'] == {'image': f'/data/local-files/?d=images/{drafts[0].image.name}'}
    (prediction,) = first['predictions']
    assert prediction['model_version'] == 'maskrcnn-epoch12'
    scores = [r['score'] for r in prediction['result'] if r['type'] == 'polygonlabels']
    regions = [r for r in prediction['result'] if r['type'] == 'polygonlabels']
    assert prediction['score'] == pytest.approx(float(np.mean(drafts[0].detections.scores)))
    assert len(regions) == len(drafts[0].detections) + 1 and scores[0] == pytest.approx(0.95)
    assert {(r['original_width'], r['original_height']) for r in regions} == {(drafts[0].width,
                                                                                drafts[0].height)}
    assert all(0 <= v <= 100 for r in regions for point in r['value']['points'] for v in point)
    (relation,) = [r for r in prediction['result'] if r['type'] == 'relation']  # the two pieces
    assert '<PolygonLabels name="label" toName="image">' in written[1].read_text()


def test_label_studio_box_drafts_are_rectangles_under_the_given_url_prefix(folder, drafts):
    boxes = box_drafts(drafts)
    out = folder / 'tasks_boxes.json'
    write_drafts('labelstudio', boxes, CLASSES, out, image_url_prefix='http://files.local/new images/')
    tasks = json.loads(out.read_text())
    assert tasks[0]['data']['image'] == f'http://files.local/new images/images/{drafts[0].image.name}'
    assert {r['type'] for t in tasks for r in t['predictions'][0]['result']} == {'rectanglelabels'}
    # an http URL names a file of the image folder
    cfg = dict(type='LabelStudioDataset', data_root=str(folder), ann_file=out.name, results='predictions',
               data_prefix=dict(img='images/'))
    assert_same_objects(boxes, loaded(cfg))


def test_an_existing_labelme_file_is_kept_and_the_others_written(tmp_path, drafts):
    corrected = tmp_path / f'{drafts[0].image.stem}.json'
    corrected.write_text('{"corrected": true}')
    written = write_drafts('labelme', drafts, CLASSES, tmp_path)
    assert written == [tmp_path / f'{drafts[1].image.stem}.json']
    assert corrected.read_text() == '{"corrected": true}'


def test_an_existing_coco_file_is_refused_by_name(tmp_path, drafts):
    out = tmp_path / 'drafts.json'
    out.write_text('{"corrected": true}')
    with pytest.raises(DataError, match=f'{out}: exists already and may hold corrections'):
        write_drafts('coco', drafts, CLASSES, out)
    assert out.read_text() == '{"corrected": true}'


def test_labels_outside_the_classes_and_unknown_formats_are_refused(tmp_path, drafts):
    with pytest.raises(ConfigError, match=r"label 1, but the model has 1 classes \('person',\)"):
        write_drafts('coco', drafts, ('person',), tmp_path / 'a.json')
    with pytest.raises(ConfigError, match='unknown draft format'):
        write_drafts('yolo', drafts, CLASSES, tmp_path / 'a.json')
    assert not list(tmp_path.iterdir())


def test_a_detection_without_mask_pixels_is_left_out(tmp_path, drafts):
    draft = drafts[1]
    det = draft.detections
    masks = det.masks.copy()
    masks[0] = False
    empty = DraftImage(draft.image, draft.width, draft.height, Detections(det.bboxes, det.scores, det.labels,
                                                                          masks))
    (written,) = write_drafts('coco', [empty], CLASSES, tmp_path / 'a.json')
    assert len(json.loads(written.read_text())['annotations']) == len(det) - 1
    assert np.count_nonzero(masks.any(axis=(1, 2))) == len(det) - 1
