"""Load a ``tools/test.py --out`` pickle (mmdet DumpDetResults) as ImageRecords, GT from it or a config, and
a k-fold run's out-of-fold predictions (each fold's pickle with the ground truth of its test config).

Each pickled entry is a dict like ``{'img_id': 'FudanPed00001', 'img_path': ..., 'ori_shape': (h, w),
'pred_instances': {'bboxes': tensor, 'scores': tensor, 'labels': tensor, 'masks': [RLE, ...]},
'instances': [middle-format GT, ...]}`` ('instances' only when PackDetInputs' meta_keys kept it).
"""

import json
import pickle
from pathlib import Path

from custom.datasets.builder import build_dataset
from custom.errors import DataError
from custom.evaluation.matching import ImageRecord
from custom.evaluation.records import record_from_sample


def load_predictions(pred_file: str | Path) -> list[dict]:
    path = Path(pred_file)
    if not path.is_file():
        raise DataError(path, 'predictions file not found')
    try:
        with path.open('rb') as f:
            samples = pickle.load(f)
    except (pickle.UnpicklingError, EOFError) as error:
        raise DataError(path, f'not a readable pickle: {error}') from None
    if not isinstance(samples, list) or not all(isinstance(s, dict) for s in samples):
        raise DataError(path, 'expected a list of per-image dicts as written by tools/test.py --out')
    return samples


def dataset_ground_truth(config_file: str | Path, split: str = 'test') -> tuple[dict[str, dict], list[str]]:
    """Middle-format data infos of a config's ``<split>_dataloader`` dataset keyed by img_path and img_id."""
    from custom.engine.runtime import read_config

    cfg = read_config(str(config_file))
    dataset_cfg = cfg.get(f'{split}_dataloader', {}).get('dataset')
    if dataset_cfg is None:
        raise DataError(config_file, f'config has no {split}_dataloader.dataset')
    dataset = build_dataset(dataset_cfg)
    infos: dict[str, dict] = {}
    for index in range(len(dataset)):
        info = dataset.get_data_info(index)
        infos[str(info.get('img_path'))] = info
        infos[str(info.get('img_id'))] = info
    return infos, list(dataset.metainfo.get('classes', ()))


def load_records(
    pred_file: str | Path, with_masks: bool, config_file: str | Path | None = None, split: str = 'test'
) -> tuple[list[ImageRecord], list[str]]:
    """ImageRecords of every pickled image and the class names (from the config, when given)."""
    samples = load_predictions(pred_file)
    gt_by_key, classes = dataset_ground_truth(config_file, split) if config_file else ({}, [])
    records = []
    for index, sample in enumerate(samples):
        instances = None
        if gt_by_key:
            info = gt_by_key.get(str(sample.get('img_path'))) or gt_by_key.get(str(sample.get('img_id')))
            if info is None:
                raise DataError(
                    pred_file,
                    f'image {sample.get("img_path") or sample.get("img_id")} '
                    f'is not in the dataset of {config_file}',
                )
            instances = info.get('instances', [])
            sample = {**sample, 'height': info.get('height', 0), 'width': info.get('width', 0)}
        records.append(record_from_sample(sample, with_masks, index, instances))
    return records, classes


def has_masks(pred_file: str | Path) -> bool:
    """Whether the pickle's predictions carry masks (a model with a mask head)."""
    return any('masks' in sample.get('pred_instances', {}) for sample in load_predictions(pred_file)[:1])


def kfold_prediction_files(kfold_dir: str | Path) -> list[tuple[Path, Path]]:
    """(predictions pickle, the test config it was made with) of every fold of a tools/kfold.py work dir."""
    summary_file = Path(kfold_dir) / 'kfold_summary.json'
    if not summary_file.is_file():
        raise DataError(kfold_dir, 'not a k-fold work dir (no kfold_summary.json; run tools/kfold.py)')
    summary = json.loads(summary_file.read_text(encoding='utf-8'))
    files = []
    for fold in summary['per_fold']:
        if 'predictions' not in fold:
            raise DataError(summary_file, f'fold {fold["fold"]} saved no predictions (a k-fold run older '
                                          'than out-of-fold predictions: run tools/kfold.py again)')
        # tools/test.py dumps its config, --cfg-options (the fold's split) applied, as <test dir>/<config>
        predictions = Path(fold['predictions'])
        files.append((predictions, predictions.parent / Path(summary['config']).name))
    return files


def load_kfold_records(kfold_dir: str | Path, with_masks: bool) -> tuple[list[ImageRecord], list[str]]:
    """ImageRecords of every fold's test predictions (each image predicted by the fold model that did not
    train on it), the ground truth from each fold's test config, and the class names."""
    records, classes, seen = [], [], {}
    for predictions, config in kfold_prediction_files(kfold_dir):
        fold_records, classes = load_records(predictions, with_masks, config, 'test')
        for record in fold_records:
            if record.img_id in seen:
                raise DataError(predictions, f'image {record.img_id} is also in {seen[record.img_id]}: '
                                             'folds must not share images')
            seen[record.img_id] = predictions
        records += fold_records
    return records, classes
