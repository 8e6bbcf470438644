"""Export any dataset's MMDetection middle-format ``data_list`` as a COCO instances json dict.

One function, :func:`data_list_to_coco`, serves every source (Penn-Fudan, VOC-XML, KITTI): image ids are
1..N in data_list order, category ids 1..K in ``classes`` order, ``bbox`` is ``[x, y, w, h]`` from the
middle format's ``[x1, y1, x2, y2]`` (x2/y2 exclusive, so ``w = x2 - x1``), ``iscrowd`` is the ignore flag,
``area`` is the mask's pixel count when the instance has a non-empty mask, else the box area.
"""

import datetime
from collections.abc import Sequence
from pathlib import Path

import pycocotools.mask as mask_utils
from tqdm import tqdm

from custom.datasets.builder import dataset_as_read
from custom.errors import ConfigError, DataError
from custom.structures.masks import mask_to_polygons, to_rle

MASK_FORMATS = ('rle', 'polygon')


def data_list_to_coco(
    data_list: Sequence[dict],
    classes: Sequence[str],
    mask_format: str = 'rle',
    image_root: str | Path | None = None,
) -> dict:
    """COCO dict (info, images, annotations, categories) of a middle-format ``data_list``.

    ``mask_format='polygon'`` writes outer contours along the pixels' edges (``mask_to_polygons``: holes
    are lost, the rest comes back pixel for pixel); an empty mask stays RLE. ``image_root`` makes each
    ``file_name`` relative to it (else the full ``img_path``).
    """
    if mask_format not in MASK_FORMATS:
        raise ConfigError(f'mask_format must be one of {MASK_FORMATS}, got {mask_format!r}')
    images, annotations = [], []
    progress = tqdm(data_list, desc='converting to COCO', unit='image', disable=len(data_list) < 50)
    for image_id, info in enumerate(progress, start=1):
        height, width = int(info['height']), int(info['width'])
        file_name = str(info['img_path'])
        if image_root is not None:
            file_name = Path(file_name).relative_to(image_root).as_posix()
        images.append(
            dict(
                id=image_id,
                file_name=file_name,
                width=width,
                height=height,
                stem=str(info.get('img_id', Path(file_name).stem)),
            )
        )
        for instance in info['instances']:
            annotation = _annotation(instance, info, len(classes), height, width, mask_format)
            annotations.append(dict(id=len(annotations) + 1, image_id=image_id, **annotation))
    categories = [dict(id=index + 1, name=name) for index, name in enumerate(classes)]
    created = datetime.datetime.now(datetime.UTC).isoformat(timespec='seconds')
    return dict(
        info=dict(description='exported by custom.data_tools.coco_export', date_created=created),
        images=images,
        annotations=annotations,
        categories=categories,
    )


def _annotation(
    instance: dict, info: dict, num_classes: int, height: int, width: int, mask_format: str
) -> dict:
    label = int(instance['bbox_label'])
    if not 0 <= label < num_classes:
        raise DataError(info['img_path'], f'bbox_label {label} is outside the {num_classes} classes')
    x1, y1, x2, y2 = (float(v) for v in instance['bbox'])
    annotation = dict(
        category_id=label + 1,
        bbox=[x1, y1, x2 - x1, y2 - y1],
        area=(x2 - x1) * (y2 - y1),
        iscrowd=int(bool(instance.get('ignore_flag', 0))),
    )
    if instance.get('mask') is None:
        return annotation
    rle = to_rle(instance['mask'], height, width, info['img_path'])
    mask_area = float(mask_utils.area(rle))
    if mask_area > 0:
        annotation['area'] = mask_area
    polygons = mask_to_polygons(mask_utils.decode(rle)) if mask_format == 'polygon' else []
    annotation['segmentation'] = polygons or rle
    return annotation


def export_dataset(dataset_cfg: dict, mask_format: str = 'rle') -> dict:
    """COCO dict of the dataset a config entry describes (loaded in test mode, so nothing is filtered)."""
    return dataset_to_coco(dataset_as_read(dataset_cfg), mask_format)


def dataset_to_coco(dataset, mask_format: str = 'rle') -> dict:
    """COCO dict of a built dataset; ``file_name`` is relative to its image folder."""
    data_list = [dataset.get_data_info(index) for index in range(len(dataset))]
    image_root = dataset.data_prefix.get('img')
    if image_root and not all(Path(info['img_path']).is_relative_to(image_root) for info in data_list):
        image_root = None
    return data_list_to_coco(data_list, dataset.metainfo['classes'], mask_format, image_root)
