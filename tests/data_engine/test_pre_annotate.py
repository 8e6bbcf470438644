"""custom/data_engine/pre_annotate.py with a detector whose scores the test chooses (StripeDetector): the
cache and resuming, what is skipped, selection, bad input, and each draft format read back by the project's
loader."""

import json
from pathlib import Path

import pytest

from custom.data_engine.pre_annotate import annotation_source, pre_annotate
from custom.datasets.builder import build_dataset
from custom.errors import ConfigError, DataError
from tests.helpers.fake_detector import StripeDetector, stripe_image

# name: (scores, image id); at the drafts' threshold 0.3 the expected corrections are 0.15, 1.15, 0.55, 0, 0.2
IMAGES = {'a0': ([0.95, 0.9], 1), 'a1': ([0.5, 0.35], 2), 'a2': ([0.2, 0.25, 0.1], 3), 'a3': ([], 4),
          'a4': ([0.8], 5)}
NEED_ORDER = ['a1', 'a2', 'a4', 'a0', 'a3']
KEPT = {'a0': 2, 'a1': 2, 'a2': 0, 'a3': 0, 'a4': 1}  # detections scoring at least 0.3


@pytest.fixture(scope='module')
def images(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp('images')
    for name, (scores, image_id) in IMAGES.items():
        stripe_image(folder / f'{name}.png', scores, image_id)
    return folder


def stems(result) -> list[str]:
    return [Path(key).stem for key in result.drafted]


def read_back(out: Path) -> dict[str, int]:
    """Objects per image, as the project's loader for the draft's format reads them."""
    cfg = annotation_source(out)
    if cfg['type'] == 'LabelStudioDataset':
        cfg['results'] = 'predictions'  # drafts, before anyone corrected them
    dataset = build_dataset(cfg, lazy=True, metainfo=dict(classes=StripeDetector.classes))
    return {Path(info['img_path']).stem: len(info['instances']) for info in dataset.load_data_list()}


def test_a_stopped_run_continues_where_it_stopped_and_writes_what_a_whole_run_writes(images, tmp_path):
    pre_annotate(StripeDetector(), [images], 'coco', tmp_path / 'whole.json', tmp_path / 'whole_cache')
    with pytest.raises(KeyboardInterrupt):
        pre_annotate(StripeDetector(interrupt_at=3), [images], 'coco', tmp_path / 'resumed.json',
                     tmp_path / 'cache')
    assert not (tmp_path / 'resumed.json').exists()  # the drafts come at the end, whole or not at all
    with (tmp_path / 'cache' / 'part-0.jsonl').open('a') as part:
        part.write('{"file": "/images/a2.png", "wid')  # a kill in the middle of a line
    detector = StripeDetector()
    result = pre_annotate(detector, [images], 'coco', tmp_path / 'resumed.json', tmp_path / 'cache')
    assert detector.seen == [3, 4, 5]  # only the images the cache lacked
    assert result.predicted == 3 and stems(result) == sorted(IMAGES)
    assert (tmp_path / 'resumed.json').read_text() == (tmp_path / 'whole.json').read_text()


def test_a_damaged_cache_line_is_named_with_its_file_and_line(images, tmp_path):
    (tmp_path / 'cache').mkdir()
    (tmp_path / 'cache' / 'part-0.jsonl').write_text('{"file": "x"\n{}\n')
    with pytest.raises(DataError, match=r'part-0\.jsonl: line 1: not a prediction record'):
        pre_annotate(StripeDetector(), [images], 'coco', tmp_path / 'out.json', tmp_path / 'cache')


def test_select_drafts_the_images_most_in_need_first_and_a_rerun_skipping_them_continues(images, tmp_path):
    cache = tmp_path / 'cache'
    first = pre_annotate(StripeDetector(), [images], 'coco', tmp_path / 'batch1.json', cache, select=2)
    assert stems(first) == NEED_ORDER[:2]
    # the scores are read from pixels, in steps of 1/255
    assert list(first.need.values()) == pytest.approx([1.15, 0.55, 0.2, 0.15, 0.0], abs=0.01)
    detector = StripeDetector()
    second = pre_annotate(detector, [images], 'coco', tmp_path / 'batch2.json', cache, select=2,
                          skip_labelled=[tmp_path / 'batch1.json'])
    assert detector.seen == []  # every prediction came from the cache
    assert second.labelled == 2 and stems(second) == NEED_ORDER[2:4]
    assert read_back(tmp_path / 'batch2.json') == {name: KEPT[name] for name in NEED_ORDER[2:4]}


def test_select_more_than_the_unlabelled_images_is_refused_before_predicting(images, tmp_path):
    detector = StripeDetector()
    with pytest.raises(ConfigError, match='--select 6 is more than the 5 images left to label'):
        pre_annotate(detector, [images], 'coco', tmp_path / 'out.json', tmp_path / 'cache', select=6)
    assert detector.seen == []


def test_an_unreadable_image_is_named_counted_and_skipped(images, tmp_path, capsys):
    folder = tmp_path / 'images'
    folder.mkdir()
    for path in images.iterdir():
        (folder / path.name).write_bytes(path.read_bytes())
    (folder / 'broken.png').write_bytes(b'\x89PNG\r\n\x1a\nnot an image')
    result = pre_annotate(StripeDetector(), [folder], 'coco', tmp_path / 'out.json', tmp_path / 'cache')
    assert [Path(error.path).name for error in result.unreadable] == ['broken.png']
    assert 'broken.png: cannot read the image' in capsys.readouterr().err
    assert stems(result) == sorted(IMAGES) and read_back(tmp_path / 'out.json') == KEPT


def test_a_labelled_file_of_other_classes_is_refused_naming_it(images, tmp_path):
    labels = tmp_path / 'cars.json'
    labels.write_text(json.dumps({
        'images': [{'id': 1, 'file_name': 'a0.png', 'width': 64, 'height': 48}],
        'annotations': [{'id': 1, 'image_id': 1, 'category_id': 1, 'bbox': [0, 0, 10, 10], 'iscrowd': 0,
                         'area': 100, 'segmentation': [[0, 0, 10, 0, 10, 10, 0, 10]]}],
        'categories': [{'id': 1, 'name': 'car'}]}))
    with pytest.raises(DataError, match=rf"{labels}: labelled with classes the model does not predict: car"):
        pre_annotate(StripeDetector(), [images], 'coco', tmp_path / 'out.json', tmp_path / 'cache',
                     skip_labelled=[labels])


def test_an_existing_output_file_is_refused_and_a_corrected_labelme_draft_is_kept(images, tmp_path):
    (tmp_path / 'out.json').write_text('{"corrected": true}')
    detector = StripeDetector()
    with pytest.raises(ConfigError, match='out.json exists and may hold corrections'):
        pre_annotate(detector, [images], 'coco', tmp_path / 'out.json', tmp_path / 'cache')
    assert detector.seen == [] and (tmp_path / 'out.json').read_text() == '{"corrected": true}'

    drafts = tmp_path / 'labelme'
    drafts.mkdir()
    corrected = json.dumps({'version': '5.4.1', 'imagePath': str(images / 'a0.png'), 'imageData': None,
                            'imageWidth': 64, 'imageHeight': 48, 'shapes': [
                                {'label': 'pedestrian', 'group_id': None, 'shape_type': 'rectangle',
                                 'points': [[1, 1], [20, 30]], 'flags': {}}]})
    (drafts / 'a0.json').write_text(corrected)
    result = pre_annotate(detector, [images], 'labelme', drafts, tmp_path / 'cache')
    assert (drafts / 'a0.json').read_text() == corrected
    assert result.kept_drafts == 1 and 1 not in detector.seen and stems(result) == ['a1', 'a2', 'a3', 'a4']
    assert read_back(drafts) == {**KEPT, 'a0': 1}


@pytest.mark.parametrize('fmt', ['labelme', 'coco', 'labelstudio', 'via'])
def test_each_format_is_written_through_write_drafts_and_read_back_by_its_loader(fmt, images, tmp_path):
    out = tmp_path / ('drafts' if fmt == 'labelme' else 'drafts.json')
    result = pre_annotate(StripeDetector(), [images], fmt, out, tmp_path / 'cache', model_version='v1')
    assert result.written and all(path.exists() for path in result.written)
    assert read_back(out) == KEPT
    # the drafts as --skip-labelled: every image is in the tool already, nothing is left to draft
    again = pre_annotate(StripeDetector(), [images], fmt, tmp_path / f'again_{out.name}', tmp_path / 'cache',
                         skip_labelled=[out])
    assert again.labelled == len(IMAGES) and again.drafted == [] and again.written == []
