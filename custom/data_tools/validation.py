"""Dataset validation: every problem of every image of a source (or of every dataset a config uses).

The checks are the datasets' own (``image_keys()`` + ``parse_image()``, see custom/datasets/base.py), so
training fails at load on the first problem with the very message the validator prints. The validator also
decodes every image fully and adds warnings for what training tolerates:

errors    unreadable or corrupt image, missing mask/label/image file, annotation/mask instance count mismatch,
          boxes that are empty or outside the image, malformed annotation files, duplicate image ids, config
          mistakes (unknown dataset type, missing data root, num_classes differing from the classes).
warnings  images with no instances to train on, objects of classes outside ``metainfo['classes']`` (skipped
          or ignored), small disagreements (a Penn-Fudan box a few px off its mask, a VOC object without mask
          pixels).

Per image only the first error is found (parsing stops there); every image and every source is checked.
"""

from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from mmengine.config import Config
from mmengine.registry import DefaultScope

from custom.datasets.base import ParsedImage, ProjectDataset, check_image_file, duplicate_id_errors
from custom.datasets.builder import build_dataset, configured_datasets
from custom.engine.config_checks import CHECKS
from custom.errors import ConfigError, DataError


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

    def add(self, severity: str, problem: DataError | Exception, path: str | Path | None = None) -> None:
        if isinstance(problem, DataError):
            self.findings.append(Finding(severity, problem.path, problem.problem))
        else:
            self.findings.append(Finding(severity, str(path or self.name), str(problem)))

    def count(self, severity: str) -> int:
        return sum(f.severity == severity for f in self.findings)


def validate_dataset(dataset, name: str) -> SourceReport:
    """Checks every image of a dataset built with ``lazy_init=True``; never raises for data problems."""
    report = SourceReport(name)
    if not isinstance(dataset, ProjectDataset):
        return _validate_loaded(dataset, report)
    dataset.check_images = 'decode'
    try:
        keys = dataset.image_keys()
    except (DataError, ValueError, TypeError, OSError) as err:
        report.add('error', err)
        return report
    infos = []
    for key in keys:
        report.images += 1
        try:
            parsed = dataset.parse_image(key)
        except DataError as err:
            report.add('error', err)
            continue
        infos.append(parsed.info)
        _add_warnings(report, parsed, key)
    for err in duplicate_id_errors(infos, dataset.location()):
        report.add('error', err)
    return report


def _add_warnings(report: SourceReport, parsed: ParsedImage, key: str | Path) -> None:
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
    elif all(inst['ignore_flag'] for inst in instances):
        report.add('warning', DataError(source, f'only ignored instances {dropped}'))


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


def validate_source(dataset_cfg: dict, name: str | None = None) -> SourceReport:
    name = name or f'{dataset_cfg.get("type")} {dataset_cfg.get("data_root", "")}'.strip()
    try:
        dataset = build_dataset(dataset_cfg, lazy=True)
    except (ConfigError, DataError, KeyError, ValueError, TypeError) as err:
        report = SourceReport(name)
        report.add('error', err)
        return report
    return validate_dataset(dataset, name)


def validate_config(cfg: Config, config_path: str) -> list[SourceReport]:
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
        if not (isinstance(dataset_cfg.get('type'), str) and _is_registered(dataset_cfg['type'])):
            continue  # reported by check_dataset_types
        reports.append(validate_source(dataset_cfg, f'{where} ({dataset_cfg["type"]})'))
    return reports


def _is_registered(type_name: str) -> bool:
    from mmdet.registry import DATASETS

    with DefaultScope.overwrite_default_scope('mmdet'):
        return DATASETS.get(type_name) is not None


def print_report(reports: list[SourceReport], out: TextIO, show_warnings: bool = True) -> int:
    """Prints each finding as 'severity: path: problem' and a summary; returns 1 on errors, else 0."""
    for report in reports:
        if report.images or report.findings:
            print(f'== {report.name}: {report.images} images, {report.count("error")} errors, '
                  f'{report.count("warning")} warnings', file=out)
        for finding in report.findings:
            if show_warnings or finding.severity == 'error':
                print(finding, file=out)
    images = sum(r.images for r in reports)
    errors = sum(r.count('error') for r in reports)
    warnings = sum(r.count('warning') for r in reports)
    print(f'{images} images checked: {errors} errors, {warnings} warnings', file=out)
    return int(errors > 0)
