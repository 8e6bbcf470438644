"""Dataset validation: every problem of every image of a source (or of every dataset a config uses).

The checks are the datasets' own: loading stops at the first error of the dataset's parse loop
(``parse_images()``, custom/datasets/base.py) and the validator walks the same loop to the end, so training
fails at load on the first problem with the very message the validator prints. The validator also decodes
every image fully and adds warnings for what training tolerates:

errors    unreadable or corrupt image, missing mask/label/image file, annotation/mask instance count mismatch,
          boxes that are empty or outside the image, polygons under 3 points or covering no pixel, malformed
          annotation files, duplicate image ids, every instance of a source ignored, config mistakes (unknown
          dataset type, missing data root, num_classes differing from the classes, RLE masks with
          poly2mask=False), the COCO json rules (custom/datasets/coco_json.py; also for configs that use
          mmdet's own CocoDataset).
warnings  images with no instances to train on, objects of classes outside ``metainfo['classes']`` (skipped
          or ignored), classes without any instance to train on, small disagreements (a Penn-Fudan box a few
          px off its mask, a VOC object without mask pixels), skipped shapes of types a source does not read.

Each report counts the targets of every class; ignored instances never count as a class. Per image only the
first error is found (parsing stops there); every image and every source is checked.
"""

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from mmdet.datasets import CocoDataset
from mmengine.config import Config

from custom.datasets.base import ParsedImage, ProjectDataset, check_image_file, duplicate_id_errors, trainable
from custom.datasets.builder import build_dataset, configured_datasets, dataset_class, load_annotations_step
from custom.datasets.coco_json import CocoJsonDataset
from custom.engine.config_checks import CHECKS
from custom.errors import ConfigError, DataError

SPLIT_FOLDERS = ('splits', 'ImageSets')


@dataclass
class Finding:
    severity: str  # 'error' or 'warning'
    path: str
    problem: str

    def __str__(self) -> str:
        return f'{self.severity}: {self.path}: {self.problem}'


@dataclass
class SourceReport:
    """What was found in one dataset (``name`` says which: type, root and place in the config)."""

    name: str
    images: int = 0
    findings: list[Finding] = field(default_factory=list)
    targets: Counter = field(default_factory=Counter)  # class name -> instances to train on (not ignored)

    def add(self, severity: str, problem: DataError | Exception, path: str | Path | None = None) -> None:
        if isinstance(problem, DataError):
            self.findings.append(Finding(severity, problem.path, problem.problem))
        else:
            self.findings.append(Finding(severity, str(path or self.name), str(problem)))

    def count(self, severity: str) -> int:
        return sum(f.severity == severity for f in self.findings)


def validate_dataset(dataset, name: str, workers: int = 1) -> SourceReport:
    """Checks every image of a dataset built with ``lazy_init=True`` (in ``workers`` processes); never raises
    for data problems."""
    report = SourceReport(name)
    if not isinstance(dataset, ProjectDataset):
        return _validate_loaded(dataset, report)
    dataset.check_images = 'decode'
    try:
        images = dataset.parse_images(workers)
    except (DataError, ValueError, TypeError, OSError) as err:
        report.add('error', err)
        return report
    classes = tuple(dataset.metainfo['classes'])
    report.targets = Counter(dict.fromkeys(classes, 0))
    infos = []
    for key, parsed in images:
        report.images += 1
        if isinstance(parsed, DataError):
            report.add('error', parsed)
            continue
        infos.append(parsed.info)
        report.targets.update(classes[inst['bbox_label']] for inst in trainable(parsed.info['instances']))
        _add_warnings(report, parsed, key, dataset.IGNORED_HINT)
    for err in dataset.dataset_errors(infos):
        report.add('error', err)
    if not dataset.split_path():  # every image was read: check the split files the folder holds as well
        for err in split_file_errors(dataset):
            report.add('error', err)
    absent = [name for name, n in report.targets.items() if not n]
    if infos and absent:
        problem = (f'classes {absent} have no instance to train on in the {len(infos)} images read (check '
                   'their names and class_map)')
        report.add('warning', DataError(dataset.location(), problem))
    return report


def found_split_files(root: str | Path) -> list[Path]:
    """The split files under a data folder: ``splits/`` (the project's tools write them there) and
    ``ImageSets/`` (VOC, KITTI), with their subfolders."""
    return sorted(path for folder in SPLIT_FOLDERS for path in Path(root, folder).rglob('*.txt'))


def split_file_errors(dataset: ProjectDataset) -> list[DataError]:
    """One error for every line of every split file under the dataset's root that names no image of it: a
    training on that split would stop there."""
    errors = []
    for path in found_split_files(dataset.data_root or '.'):
        try:
            errors += [entry for entry in dataset.split_keys(path) if isinstance(entry, DataError)]
        except DataError as err:  # the file itself cannot be read
            errors.append(err)
    return errors


def _add_warnings(report: SourceReport, parsed: ParsedImage, key: str | Path, ignored_hint: str) -> None:
    # name the annotation file when there is one (VOC, KITTI), else the image
    source = key if isinstance(key, Path) else parsed.info['img_path']
    for warning in parsed.warnings:
        report.add('warning', warning)
    if parsed.unmatched:
        listed = ', '.join(f'{name!r} x{n}' for name, n in parsed.unmatched.most_common())
        problem = f'objects of classes not in metainfo classes (after class_map), not trained on: {listed}'
        report.add('warning', DataError(source, problem))
    instances = parsed.info['instances']
    dropped = '(filter_empty_gt=True drops the image)'
    if not instances:
        report.add('warning', DataError(source, f'no instances {dropped}'))
    elif not trainable(instances):
        report.add('warning', DataError(source, f'only ignored instances {dropped}{ignored_hint}'))


def _validate_loaded(dataset, report: SourceReport) -> SourceReport:
    """Datasets without per-image parsing (mmdet's own): load (stops at the first error), decode images."""
    try:
        dataset.full_init()
    except Exception as err:  # noqa: BLE001 - whatever a foreign dataset raises is the finding
        report.add('error', err)
        return report
    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    for info in infos:
        report.images += 1
        try:
            check_image_file(info['img_path'], 'decode')
        except DataError as err:
            report.add('error', err)
        if not info.get('instances'):
            report.add('warning', DataError(info['img_path'], 'no instances'))
    for err in duplicate_id_errors(infos, report.name):
        report.add('error', err)
    return report


def validate_source(dataset_cfg: dict, name: str | None = None, workers: int = 1) -> SourceReport:
    """Checks the dataset a config entry describes; mmdet's CocoDataset gets the project's COCO json rules."""
    name = name or f'{dataset_cfg.get("type")} {dataset_cfg.get("data_root", "")}'.strip()
    try:
        dataset = build_dataset(dataset_cfg, lazy=True)
    except (ConfigError, DataError, KeyError, ValueError, TypeError) as err:
        report = SourceReport(name)
        report.add('error', err)
        return report
    if isinstance(dataset, CocoDataset) and not isinstance(dataset, ProjectDataset):
        loads_masks = bool((load_annotations_step(dataset_cfg) or {}).get('with_mask'))
        dataset = CocoJsonDataset.from_mmdet_dataset(dataset, require_masks=loads_masks)
    return validate_dataset(dataset, name, workers)


def validate_config(cfg: Config, config_path: str, workers: int = 1) -> list[SourceReport]:
    """Config checks (as before training) plus every distinct dataset of train/val/test dataloaders."""
    config_report = SourceReport(f'config {config_path}')
    for check in CHECKS:
        try:
            check(cfg)
        except ConfigError as err:
            config_report.add('error', err, config_path)
    reports = [config_report]
    seen = []
    for where, dataset_cfg in configured_datasets(cfg):
        identity = {k: v for k, v in dataset_cfg.items() if k not in ('pipeline', 'test_mode', 'filter_cfg')}
        if identity in seen:
            continue  # val and test usually share their dataset
        seen.append(identity)
        if not (isinstance(dataset_cfg.get('type'), str) and dataset_class(dataset_cfg)):
            continue  # reported by check_dataset_types
        reports.append(validate_source(dataset_cfg, f'{where} ({dataset_cfg["type"]})', workers))
    return reports


def print_report(reports: list[SourceReport], out: TextIO, show_warnings: bool = True) -> int:
    """Prints each finding as 'severity: path: problem' and a summary; returns 1 on errors, else 0."""
    for report in reports:
        if report.images or report.findings:
            print(f'== {report.name}: {report.images} images, {report.count("error")} errors, '
                  f'{report.count("warning")} warnings', file=out)
        if report.targets:
            counts = ', '.join(f'{name} {n}' for name, n in report.targets.items())
            print(f'   instances to train on per class (ignored ones not counted): {counts}', file=out)
        for finding in report.findings:
            if show_warnings or finding.severity == 'error':
                print(finding, file=out)
    images = sum(r.images for r in reports)
    errors = sum(r.count('error') for r in reports)
    warnings = sum(r.count('warning') for r in reports)
    print(f'{images} images checked: {errors} errors, {warnings} warnings', file=out)
    return int(errors > 0)
