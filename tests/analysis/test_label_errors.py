"""The label-error finder (custom/analysis/label_errors.py, tools/find_label_errors.py): each kind of mistake
found on a hand-made case with fixed predictions, ignore regions never flagged, the image quality, the
written queue, its drafts for correction, and the out-of-fold predictions of a k-fold work dir."""

import csv
import json
import pickle
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from custom.analysis.label_errors import CSV_COLUMNS, Settings, find_label_errors
from custom.analysis.predictions import dataset_ground_truth, load_records
from custom.cli.find_label_errors import main
from custom.datasets.labelme import LabelmeDataset
from custom.errors import DataError
from custom.evaluation.matching import iou_for
from custom.evaluation.records import record_from_sample
from tests.helpers.datasets import dataset_in_test_mode
from tests.helpers.label_error_cases import (
    CASES,
    CAT,
    CLASSES,
    DOG,
    dumped_sample,
    predictions_of_labels,
    rect,
    write_cases,
)


@pytest.fixture(scope='module')
def case(tmp_path_factory) -> Path:
    return write_cases(tmp_path_factory.mktemp('label_errors'))


@pytest.fixture(scope='module')
def records(case) -> list:
    return load_records(case, with_masks=True)[0]


def rows_by_image(records, kind: str = 'segm') -> dict[str, list]:
    found: dict[str, list] = {}
    for row in find_label_errors(records, list(CLASSES), Settings(kind), 'fixed predictions').suspects:
        found.setdefault(row.image, []).append(row)
    return found


def test_each_kind_of_mistake_tops_its_image_with_the_score_of_its_formula(records):
    rows = rows_by_image(records)
    top = {image: image_rows[0] for image, image_rows in rows.items()}
    # missing: a 0.9 dog where nothing is annotated: 0.9 * (1 - 0)
    assert (top['missing'].kind, top['missing'].object, top['missing'].suggestion) == ('missing', None, 'dog')
    assert top['missing'].score == pytest.approx(0.9) and top['missing'].pred_box == [55, 10, 85, 50]
    # spurious: the second cat, that no prediction touches
    assert (top['spurious'].kind, top['spurious'].object, top['spurious'].score) == ('spurious', 1, 1.0)
    # bad location: the dog drawn 15 px off, box IoU 1/3 with the 0.9 prediction: 0.9 * (1 - 1/3)
    assert (top['bad_location'].kind, top['bad_location'].object) == ('bad_location', 0)
    assert top['bad_location'].score == pytest.approx(0.6) and top['bad_location'].iou == pytest.approx(1 / 3,
                                                                                                     abs=1e-4)
    # wrong class: a cat that the model calls a dog at 0.9, with no cat prediction: 0.9 * (1 - 0)
    assert (top['wrong_class'].kind, top['wrong_class'].label, top['wrong_class'].suggestion) == (
        'wrong_class', 'cat', 'dog')
    assert top['wrong_class'].score == pytest.approx(0.9)
    # correctly labelled objects, each found by a 0.95 prediction of its own outline, score 0 on every kind
    for image in ('clean', 'missing', 'spurious', 'ignored'):
        assert rows[image][-1].object == 0 and max(rows[image][-1].scores.values()) == pytest.approx(0)


def test_the_queue_holds_one_row_per_mistake_highest_score_first(records):
    errors = find_label_errors(records, list(CLASSES), Settings('segm'), 'fixed predictions')
    queue = [(row.image, row.kind) for row in errors.queue(0.3)]
    assert queue[0] == ('spurious', 'spurious') and queue[3:] == [('bad_location', 'bad_location'),
                                                                  ('mask_outline', 'bad_location')]
    assert set(queue[1:3]) == {('missing', 'missing'), ('wrong_class', 'wrong_class')}  # both 0.9
    scores = [row.score for row in errors.suspects]
    assert scores == sorted(scores, reverse=True)
    # every real object is a row; the missing dog is the one prediction-only row
    assert len(errors.suspects) == 10 + 1


def test_ignore_regions_are_never_flagged_and_keep_a_confident_prediction_from_being_missing(records):
    rows = rows_by_image(records)['ignored']
    # only the real cat (object 0) is a row; the three ignored instances are none, though nothing was
    # predicted on the second region, and the 0.9 dog lying on the first region is no missing object
    assert [(row.object, row.kind, row.score) for row in rows] == [(0, 'spurious', 0.0)]
    # the same image with its regions dropped: the dog becomes a missing object
    ignored = next(record for record in records if record.img_id == 'ignored')
    real = np.flatnonzero(~ignored.gt_ignore)
    without_regions = replace(ignored, gt_bboxes=ignored.gt_bboxes[real], gt_labels=ignored.gt_labels[real],
                              gt_ignore=ignored.gt_ignore[real], gt_masks=[ignored.gt_masks[i] for i in real])
    missing = rows_by_image([without_regions])['ignored'][0]
    assert (missing.kind, missing.score, missing.suggestion) == ('missing', pytest.approx(0.9), 'dog')


def test_predictions_of_a_group_or_a_part_of_annotated_objects_are_no_missing_objects(records):
    covered = next(record for record in records if record.img_id == 'covered')
    # the group and the half cat match no annotation at IoU 0.5: what explains them is that they lie on
    # annotated pixels
    assert iou_for(covered, 'segm', np.array([2, 3])).max() < 0.5
    rows = rows_by_image([covered])['covered']
    assert [(row.object, row.kind, row.score) for row in rows] == [(0, 'spurious', 0.0), (1, 'spurious', 0.0)]


def one_image(ground_truth: list, predictions: list):
    """The rows of one hand-made image (ground truth: (mask, class, ignore_flag); predictions: (mask, class,
    score)), by mask IoU."""
    sample = dumped_sample(Path('hand_made.png'), ground_truth, predictions)
    record = record_from_sample(sample, with_masks=True)
    return find_label_errors([record], list(CLASSES), Settings('segm'), 'fixed predictions').suspects


def test_bad_location_takes_the_best_overlapping_confident_prediction_of_the_class():
    cat = (rect(10, 10, 40, 50), CAT, 0)
    short = (rect(10, 10, 40, 34), CAT, 0.95)  # the cat's top 24 of 40 rows: IoU 0.6, the matcher's pair
    # alone, the confident short cat says the outline is off: 0.95 * (1 - 0.6)
    row = one_image([cat], [short])[0]
    assert (row.kind, row.prediction) == ('bad_location', 0)
    assert row.score == pytest.approx(0.95 * 0.4, abs=1e-4) and row.iou == pytest.approx(0.6)
    # a second, less sure prediction that fits the outline exactly: the model agrees with it (0.6 * (1 - 1)),
    # though the matcher pairs the cat with the higher-scoring short one; and it is no missing object
    rows = one_image([cat], [short, (rect(10, 10, 40, 50), CAT, 0.6)])
    assert len(rows) == 1 and rows[0].scores['bad_location'] == 0.0
    # a prediction of another class does not vouch for the outline
    rows = one_image([cat], [short, (rect(10, 10, 40, 50), DOG, 0.6)])
    assert rows[0].scores['bad_location'] == pytest.approx(0.95 * 0.4, abs=1e-4)


def test_a_missing_object_beside_an_annotated_one_scores_by_its_iou_with_the_closest_annotation():
    cat = (rect(10, 10, 40, 50), CAT, 0)
    # a dog nobody outlined, a third of it on the annotated cat's pixels: IoU 400 / 2000 with the cat
    rows = one_image([cat], [(rect(10, 10, 40, 50), CAT, 0.95), (rect(30, 10, 60, 50), DOG, 0.9)])
    missing = next(row for row in rows if row.kind == 'missing')
    assert (missing.prediction, missing.suggestion) == (1, 'dog') and missing.iou == pytest.approx(0.2)
    assert missing.score == pytest.approx(0.9 * (1 - 0.2))  # ObjectLab's overlooked score, weighed by 0.9
    assert rows[0] is missing  # it tops the image: the cat itself scores 0 on every kind


def test_an_outline_mistake_that_keeps_the_box_shows_with_masks_only(records):
    outline = next(record for record in records if record.img_id == 'mask_outline')
    with_masks = rows_by_image([outline], 'segm')['mask_outline'][0]
    assert (with_masks.kind, with_masks.iou) == ('bad_location', pytest.approx(475 / 1200, abs=1e-4))
    assert with_masks.score == pytest.approx(0.95 * (1 - 475 / 1200), abs=1e-4)
    with_boxes = rows_by_image([outline], 'bbox')['mask_outline'][0]
    assert with_boxes.iou == 1.0 and with_boxes.score == 0.0  # the same box: boxes cannot see it


def test_image_quality_pools_the_kinds_as_objectlab_does(records):
    images = find_label_errors(records, list(CLASSES), Settings('segm'), 'fixed predictions').images
    by_name = {image.image: image for image in images}
    # spurious: the qualities 1 - score of its two objects are 1 and 0; softmin (temperature 0.1) weighs them
    # e^-10 : 1, and the geometric mean over four kinds takes its fourth root
    pooled = np.exp(-10) / (np.exp(-10) + 1)
    assert by_name['spurious'].kinds['spurious'] == pytest.approx(pooled, rel=1e-3)
    assert by_name['spurious'].quality == pytest.approx(pooled ** 0.25, rel=1e-3)
    assert images[0].image == 'spurious'  # the worst image first
    assert by_name['clean'].quality == by_name['ignored'].quality == 1.0
    assert (by_name['ignored'].objects, by_name['ignored'].ignored) == (1, 3)


def test_tool_writes_the_ranked_queue_as_csv_and_json_and_the_review_page(case, tmp_path, capsys):
    out = tmp_path / 'review'
    assert main([str(case), '--out-dir', str(out), '--classes', *CLASSES]) == 0
    printed = capsys.readouterr().out
    assert 'trustworthy only if the model did not train on these images' in printed
    assert '5 suspects scoring >= 0.3: 1 missing, 1 spurious, 2 bad_location, 1 wrong_class' in printed
    with (out / 'label_errors.csv').open() as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == list(CSV_COLUMNS) and [row['rank'] for row in rows] == ['1', '2', '3', '4', '5']
    assert (rows[0]['image'], rows[0]['object'], rows[0]['kind'], rows[0]['gt_box'], rows[0]['pred_box']) == (
        'spurious', '1', 'spurious', '55 10 85 50', '')
    saved = json.loads((out / 'label_errors.json').read_text())
    assert saved['source'].startswith(f'Predictions {case} on the images in the pickle')
    assert [row['kind'] for row in saved['suspects']] == [row['kind'] for row in rows]
    assert len(saved['images']) == len(CASES) == 8
    assert saved['settings'] == {'kind': 'segm', 'iou_thr': 0.5, 'score_thr': 0.3}
    crops = sorted((out / 'crops').glob('*.png'))
    assert len(crops) == 5 and all(cv2.imread(str(crop)) is not None for crop in crops)
    assert (out / 'review.html').is_file()


def test_the_queue_for_correction_keeps_every_annotation_and_adds_each_suggestion_beside_it(case, tmp_path,
                                                                                            capsys):
    out = tmp_path / 'review'
    assert main([str(case), '--out-dir', str(out), '--classes', *CLASSES, '--drafts', 'labelme', 'coco']) == 0
    labelme = out / 'drafts' / 'labelme'
    # one labelme file per image of the queue: its annotations (ignore regions as __ignore__) and one shape
    # per suspect labelled <kind>?<class>
    assert sorted(path.stem for path in labelme.glob('*.json')) == sorted(
        ['spurious', 'missing', 'bad_location', 'wrong_class', 'mask_outline'])
    shapes = {path.stem: [shape['label'] for shape in json.loads(path.read_text())['shapes']]
              for path in labelme.glob('*.json')}
    assert shapes['wrong_class'] == ['cat', 'wrong_class?dog'] and shapes['missing'] == ['cat', 'missing?dog']
    assert shapes['spurious'] == ['cat', 'cat', 'spurious?cat'] and shapes['bad_location'] == [
        'dog', 'bad_location?dog']
    # read back by the project's labelme reader: the suggestions are skipped (no class has their name), the
    # annotations come back as they were
    dataset = dataset_in_test_mode(LabelmeDataset, labelme, CLASSES)
    for index in range(len(dataset)):
        info = dataset.get_data_info(index)
        truth = CASES[Path(info['img_path']).stem][0]
        assert [instance['bbox_label'] for instance in info['instances']] == [label for _, label, _ in truth]
    coco = json.loads((out / 'drafts' / 'coco' / 'label_review.json').read_text())
    assert [category['name'] for category in coco['categories']][:3] == ['cat', 'dog', '__ignore__']
    # run again: the labelme files (maybe corrected by now) are kept, the COCO file is not overwritten
    assert main([str(case), '--out-dir', str(out), '--classes', *CLASSES, '--drafts', 'coco']) == 1
    assert 'exists already and may hold corrections' in capsys.readouterr().err


def write_kfold_dir(root: Path, work_dir: Path, drop: tuple[str, int]) -> None:
    """A tools/kfold.py work dir over the data set's 4 training images in 2 folds: each fold's dumped test
    config and its predictions (every object predicted exactly, but object ``drop[1]`` of ``drop[0]``)."""
    stems = (root / 'splits' / 'train.txt').read_text().split()
    per_fold = []
    for fold, val in enumerate((stems[:2], stems[2:])):
        test_dir = work_dir / f'fold{fold}' / 'test'
        test_dir.mkdir(parents=True)
        (test_dir / 'val.txt').write_text('\n'.join(val) + '\n')
        (test_dir / 'my_config.py').write_text(
            f"test_dataloader = dict(dataset=dict(type='PennFudanDataset', data_root='{root}/', "
            f"ann_file='{test_dir / 'val.txt'}', metainfo=dict(classes=('pedestrian',)), test_mode=True, "
            'pipeline=[], serialize_data=False))\n')  # no serializing: its gc.collect() costs seconds
        infos, _ = dataset_ground_truth(test_dir / 'my_config.py')
        samples = predictions_of_labels(infos, val, drop)
        (test_dir / 'predictions.pkl').write_bytes(pickle.dumps(samples))
        per_fold.append(dict(fold=fold, predictions=str(test_dir / 'predictions.pkl')))
    (work_dir / 'kfold_summary.json').write_text(json.dumps(dict(config='configs/my_config.py', folds=2,
                                                                 per_fold=per_fold)))


def test_kfold_work_dir_gives_out_of_fold_predictions_with_each_folds_ground_truth(pennfudan_root, tmp_path,
                                                                                    capsys):
    stems = (pennfudan_root / 'splits' / 'train.txt').read_text().split()
    write_kfold_dir(pennfudan_root, tmp_path / 'kfold', drop=(stems[3], 0))
    out = tmp_path / 'review'
    assert main([str(tmp_path / 'kfold'), '--out-dir', str(out)]) == 0
    saved = json.loads((out / 'label_errors.json').read_text())
    assert saved['source'].startswith(f'Out-of-fold predictions of the k-fold run {tmp_path / "kfold"} '
                                      '(2 folds)')
    assert sorted(image['image'] for image in saved['images']) == sorted(stems)  # every fold's images, once
    assert saved['classes'] == ['pedestrian']
    assert [(row['image'], row['object'], row['kind']) for row in saved['suspects']] == [(stems[3], 0,
                                                                                          'spurious')]
    assert 'Out-of-fold predictions' in capsys.readouterr().out


def test_folds_that_share_an_image_are_refused(pennfudan_root, tmp_path):
    work_dir = tmp_path / 'kfold'
    write_kfold_dir(pennfudan_root, work_dir, drop=('', -1))
    summary = json.loads((work_dir / 'kfold_summary.json').read_text())
    summary['per_fold'][1] = dict(summary['per_fold'][0], fold=1)
    (work_dir / 'kfold_summary.json').write_text(json.dumps(summary))
    with pytest.raises(DataError, match='folds must not share images'):
        main.__wrapped__([str(work_dir), '--out-dir', str(tmp_path / 'review')])
