"""Load a ``tools/test.py --out`` pickle (mmdet DumpDetResults) as ImageRecords, GT from it or a config.

Each pickled entry is a dict like ``{'img_id': 'FudanPed00001', 'img_path': ..., 'ori_shape': (h, w),
'pred_instances': {'bboxes': tensor, 'scores': tensor, 'labels': tensor, 'masks': [RLE, ...]},
'instances': [middle-format GT, ...]}`` ('instances' only when PackDetInputs' meta_keys kept it).
"""

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
