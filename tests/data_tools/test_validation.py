"""Dataset validation: every problem with its file, the same checks as loading, early training errors."""

import os
from pathlib import Path

import numpy as np
import pytest
from mmdet.registry import DATASETS
from mmengine.registry import DefaultScope
from PIL import Image

import custom.datasets  # noqa: F401  (registers the dataset types)
from custom.cli.arguments import source_config
from custom.data_tools.validation import validate_source
from custom.datasets import base
from custom.datasets.base import VALIDATOR_HINT, check_image_file
from custom.datasets.pennfudan import PennFudanDataset, parse_annotation
from custom.errors import DataError
from tests.helpers.assertions import assert_findings
from tests.helpers.source_writers import (
    kitti_line,
    make_kitti,
    make_voc_with_masks,
    rewrite_annotation,
    voc_object,
    write_image,
    write_voc_xml,
)
from tests.helpers.tool_runs import DEMO_CONFIG, run_tool, tiny_options


def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def drop_last_object(ann) -> None:
    ann.boxes.pop()
    ann.labels.pop()
    ann.num_objects -= 1


def widen_first_box(ann) -> None:
    x1, y1, x2, y2 = ann.boxes[0]
    ann.boxes[0] = (x1, y1, x2 + 2, y2)  # within box_tolerance=10: a warning, the mask extent is used


def build(dataset_cfg: dict):
    with DefaultScope.overwrite_default_scope('mmdet'):
        return DATASETS.build(dataset_cfg)


@pytest.fixture
def broken_pennfudan(pennfudan_root) -> Path:
    """6 images: 1 corrupt, 3 without mask, 4 with a count mismatch, 5 a 2 px box warning, 6 no instances."""
    root = pennfudan_root
    truncate(root / 'PNGImages' / 'FudanPed00001.png')
    (root / 'PedMasks' / 'FudanPed00003_mask.png').unlink()
    rewrite_annotation(root, 'FudanPed00004', drop_last_object)
    rewrite_annotation(root, 'FudanPed00005', widen_first_box)
    mask_path = root / 'PedMasks' / 'FudanPed00006_mask.png'
    Image.fromarray(np.zeros_like(np.asarray(Image.open(mask_path)))).save(mask_path)
    rewrite_annotation(root, 'FudanPed00006', lambda ann: [drop_last_object(ann) for _ in ann.boxes[:]])
    return root


def test_validator_reports_every_problem_of_every_pennfudan_image_with_its_file(broken_pennfudan):
    report = validate_source(source_config('pennfudan', broken_pennfudan))

    annotated = parse_annotation(broken_pennfudan / 'Annotation' / 'FudanPed00004.txt').num_objects
    assert report.images == 6
    assert_findings(report, {
        ('error', 'PNGImages/FudanPed00001.png', 'corrupt image data'),
        ('error', 'PedMasks/FudanPed00003_mask.png', 'mask file not found'),
        ('error', 'Annotation/FudanPed00004.txt',
         f'{annotated} objects annotated but FudanPed00004_mask.png holds'),
        ('warning', 'Annotation/FudanPed00005.txt', 'object 1 box'),
        ('warning', 'PNGImages/FudanPed00006.png', 'no instances'),
    })
    assert (report.count('error'), report.count('warning')) == (3, 2)


def test_validator_in_worker_processes_finds_what_one_process_finds_in_the_same_order(broken_pennfudan,
                                                                                      monkeypatch):
    cfg = source_config('pennfudan', broken_pennfudan)
    one = validate_source(cfg)
    monkeypatch.setattr(base, 'PARSE_CHUNK', 2)  # 6 images: 3 tasks for the pool
    parse_image = PennFudanDataset.parse_image

    def parse_and_sign(self, key):  # a worker is a fork of this process: it parses with this method
        parsed = parse_image(self, key)
        parsed.info['parsed_by'] = os.getpid()
        return parsed

    monkeypatch.setattr(PennFudanDataset, 'parse_image', parse_and_sign)
    several = validate_source(cfg, workers=3)
    assert (several.images, several.findings, several.targets) == (one.images, one.findings, one.targets)
    assert one.count('error') == 3
    parsed = list(build(dict(cfg, lazy_init=True)).parse_images(workers=3))
    assert [key for key, _ in parsed] == sorted(key for key, _ in parsed)  # in order
    problems = [result.problem for _, result in parsed if isinstance(result, DataError)]  # sent back pickled
    assert problems[0].startswith('corrupt image data') and problems[1] == 'mask file not found'
    signed = {result.info['parsed_by'] for _, result in parsed if not isinstance(result, DataError)}
    assert signed and os.getpid() not in signed


def test_dataset_load_stops_at_the_first_problem_with_the_validators_message(broken_pennfudan):
    report = validate_source(source_config('pennfudan', broken_pennfudan))
    with pytest.raises(DataError) as error:
        build(dict(source_config('pennfudan', broken_pennfudan)))
    first_error = next(f for f in report.findings if f.severity == 'error')
    assert str(error.value) == f'{first_error.path}: {first_error.problem} ({VALIDATOR_HINT})'


def test_loading_stops_at_the_first_error_of_the_parse_loop_the_validator_walks_through(broken_pennfudan):
    dataset = build(dict(source_config('pennfudan', broken_pennfudan), lazy_init=True))
    walked = list(dataset.parse_images())
    assert [key for key, _ in walked] == dataset.image_keys()
    problems = [str(parsed) for _, parsed in walked if isinstance(parsed, DataError)]
    assert len(problems) == 3  # images 1, 3 and 4; the others parse
    report = validate_source(source_config('pennfudan', broken_pennfudan))
    assert [f'{f.path}: {f.problem}' for f in report.findings if f.severity == 'error'] == problems
    with pytest.raises(DataError) as error:
        dataset.full_init()
    assert str(error.value) == f'{problems[0]} ({VALIDATOR_HINT})'  # and says who lists them all


def test_without_a_split_the_validator_checks_every_split_file_the_folder_holds(pennfudan_root):
    with (pennfudan_root / 'splits' / 'val.txt').open('a') as split:
        split.write('FudanPed00099\n')  # listed, but the image is not there: training on val.txt would stop
    report = validate_source(source_config('pennfudan', pennfudan_root))
    assert_findings(report, {('error', 'splits/val.txt', "line 3: unknown image 'FudanPed00099'")})
    assert report.images == 6  # and every image was read


def test_corrupt_image_fails_the_load_unless_image_checks_are_off(pennfudan_root):
    truncate(pennfudan_root / 'PNGImages' / 'FudanPed00002.png')
    with pytest.raises(DataError, match=r'PNGImages/FudanPed00002\.png: corrupt image data'):
        build(source_config('pennfudan', pennfudan_root))
    assert len(build(dict(source_config('pennfudan', pennfudan_root), check_images=False))) == 6


def test_truncated_jpeg_passes_the_cheap_check_but_not_the_validators_decode(tmp_path):
    jpeg = write_image(tmp_path / 'a.jpg', 96, 72)
    truncate(jpeg)
    check_image_file(jpeg, True)  # OpenCV decodes it partially, so training survives it
    with pytest.raises(DataError, match='a.jpg: corrupt image data'):
        check_image_file(jpeg, 'decode')


def test_split_listing_an_image_twice_is_a_duplicate_id_error(pennfudan_root):
    split = pennfudan_root / 'splits' / 'dup.txt'
    split.write_text('FudanPed00001\nFudanPed00002\nFudanPed00001\n')
    report = validate_source(source_config('pennfudan', pennfudan_root, split='splits/dup.txt'))
    assert_findings(report, {('error', 'splits/dup.txt', "image id 'FudanPed00001' occurs 2 times")})
    with pytest.raises(DataError, match=r"dup\.txt: image id 'FudanPed00001' occurs 2 times"):
        build(dict(source_config('pennfudan', pennfudan_root), ann_file='splits/dup.txt'))


def test_voc_boxes_outside_or_empty_missing_images_and_unknown_classes(tmp_path):
    root = make_voc_with_masks(tmp_path / 'voc')
    write_image(root / 'JPEGImages' / 'outside.jpg', 96, 72)
    write_voc_xml(root, 'outside', [voc_object('person', (100, 10, 120, 40))], size=(96, 72))
    write_image(root / 'JPEGImages' / 'empty.jpg', 96, 72)
    write_voc_xml(root, 'empty', [voc_object('person', (30, 10, 20, 40))], size=(96, 72))
    write_image(root / 'JPEGImages' / 'dogs.jpg', 96, 72)
    write_voc_xml(root, 'dogs', [voc_object('dog', (1, 1, 20, 20))], size=(96, 72))
    write_voc_xml(root, 'no_image', [voc_object('person', (1, 1, 20, 20))], size=(96, 72))

    report = validate_source(source_config('voc', root, classes=['person']))

    unknown = 'objects of classes not in metainfo classes'
    assert report.images == 6
    assert_findings(report, {
        ('warning', 'Annotations/2008_000001.xml', unknown),
        ('warning', 'Annotations/2008_000002.xml', unknown),
        ('error', 'Annotations/outside.xml',
         '<object> #1 (person): box [100.0, 10.0, 120.0, 40.0] lies outside the 96x72 image'),
        ('error', 'Annotations/empty.xml', '<object> #1 (person): bad box xmin=30.0 ymin=10.0 xmax=20.0 '
                                           'ymax=40.0'),
        ('warning', 'Annotations/dogs.xml', unknown),
        ('warning', 'Annotations/dogs.xml', 'no instances'),
        ('error', 'Annotations/no_image.xml',
         "no image named no_image.jpg/.jpeg/.png/.bmp or 'no_image.jpg' in the image folder"),
    })


def test_voc_missing_instance_mask_is_an_error_only_with_masks(tmp_path):
    root = make_voc_with_masks(tmp_path / 'voc')
    (root / 'SegmentationObject' / '2008_000002.png').unlink()
    with_masks = validate_source(dict(source_config('voc', root, classes=['person', 'dog'], with_mask=True)))
    missing = ('error', 'SegmentationObject/2008_000002.png', 'instance mask PNG not found')
    assert_findings(with_masks, {missing})
    assert validate_source(source_config('voc', root, classes=['person', 'dog'])).findings == []


def test_kitti_malformed_labels_missing_images_duplicates_and_ignored_classes(tmp_path):
    root = make_kitti(tmp_path / 'kitti')
    (root / 'label_2' / '000003.txt').write_text(kitti_line('Pedestrian', (1, 1, 9, 9)) + '\n')  # no image
    write_image(root / 'image_2' / '000004.png', 120, 40)
    (root / 'label_2' / '000004.txt').write_text('Pedestrian 0.00 0 1 2 3\n')
    (root / 'split.txt').write_text('000000\n000001\n000002\n000003\n000004\n000000\n')

    report = validate_source(source_config('kitti', root, split='split.txt', classes=['pedestrian'],
                                           class_map={'Pedestrian': 'pedestrian'}))

    assert report.images == 6
    unknown = 'objects of classes not in metainfo classes'
    assert_findings(report, {
        ('warning', 'label_2/000001.txt', unknown),
        ('warning', 'label_2/000001.txt', 'only ignored instances'),
        ('warning', 'label_2/000002.txt', unknown),
        ('error', 'label_2/000003.txt', 'no image 000003.png/.jpg/.jpeg in'),
        ('error', 'label_2/000004.txt', 'line 1: 6 columns, expected 15'),
        ('error', 'kitti/split.txt', "image id '000000' occurs 2 times"),
    })


def test_corrupt_voc_mask_and_non_utf8_kitti_label_are_errors_not_a_crash(tmp_path):
    voc = make_voc_with_masks(tmp_path / 'voc')
    (voc / 'SegmentationObject' / '2008_000002.png').write_bytes(b'not a png')
    voc_report = validate_source(source_config('voc', voc, classes=['person', 'dog'], with_mask=True))
    assert voc_report.images == 2
    assert_findings(voc_report, {('error', 'SegmentationObject/2008_000002.png', 'cannot read mask')})
    assert str(voc_report.findings[0]).startswith(f'error: {voc}/SegmentationObject/2008_000002.png: ')

    kitti = make_kitti(tmp_path / 'kitti')
    (kitti / 'label_2' / '000001.txt').write_bytes(kitti_line('Caf\xe9', (1, 1, 9, 9)).encode('latin-1'))
    kitti_report = validate_source(source_config('kitti', kitti))
    assert kitti_report.images == 3
    errors = [f for f in kitti_report.findings if f.severity == 'error']
    assert [str(f).split(' (')[0] for f in errors] == [
        f'error: {kitti}/label_2/000001.txt: cannot read the label file'
    ]


def test_missing_data_root_is_one_error_not_a_crash(tmp_path):
    report = validate_source(source_config('kitti', tmp_path / 'absent'))
    assert report.images == 0
    assert [f.problem.split(' (')[0] for f in report.findings] == ['image folder not found']


def test_validate_tool_prints_each_problem_a_summary_and_exits_1_on_errors(broken_pennfudan):
    process = run_tool('validate_dataset.py', 'pennfudan', str(broken_pennfudan), check=False)
    assert process.returncode == 1, process.stderr
    lines = process.stdout.splitlines()
    assert f'error: {broken_pennfudan}/PedMasks/FudanPed00003_mask.png: mask file not found' in lines
    assert any(line.startswith(f'warning: {broken_pennfudan}/PNGImages/FudanPed00006.png: no instances')
               for line in lines)
    assert lines[-1] == '6 images checked: 3 errors, 2 warnings'


def test_validate_tool_checks_every_dataset_of_a_config_once(pennfudan_root):
    clean = run_tool('validate_dataset.py', '--config', DEMO_CONFIG, '--cfg-options',
                     *tiny_options(pennfudan_root))
    # 4 train + 2 val images; test uses the val dataset and is not checked twice
    assert clean.stdout.splitlines()[-1] == '6 images checked: 0 errors, 0 warnings'

    val_stem = (pennfudan_root / 'splits' / 'val.txt').read_text().split()[0]
    truncate(pennfudan_root / 'PNGImages' / f'{val_stem}.png')
    typo = 'train_dataloader.dataset.type=PennFudanDatset'
    broken = run_tool('validate_dataset.py', '--config', DEMO_CONFIG, '--cfg-options',
                      *tiny_options(pennfudan_root), typo, check=False)
    assert broken.returncode == 1
    assert 'Did you mean PennFudanDataset' in broken.stdout
    assert f'error: {pennfudan_root}/PNGImages/{val_stem}.png: corrupt image data' in broken.stdout
    assert broken.stdout.splitlines()[-1] == '2 images checked: 2 errors, 0 warnings'


def test_training_on_a_corrupt_image_fails_before_the_first_iteration_with_its_name(pennfudan_root, tmp_path):
    train_stem = (pennfudan_root / 'splits' / 'train.txt').read_text().split()[1]
    truncate(pennfudan_root / 'PNGImages' / f'{train_stem}.png')
    process = run_tool('train.py', DEMO_CONFIG, '--work-dir', str(tmp_path / 'work'), '--cfg-options',
                       *tiny_options(pennfudan_root), 'train_dataloader.num_workers=1', check=False)
    assert process.returncode == 1
    assert process.stderr.strip().splitlines()[-1].startswith(
        f'error: {pennfudan_root}/PNGImages/{train_stem}.png: corrupt image data')
    assert 'Traceback' not in process.stderr
    assert 'Epoch(train)' not in process.stdout + process.stderr
