"""The on-disk sources by their command-line names, and the dataset config for one of them."""

from collections.abc import Iterable
from pathlib import Path

from custom.errors import ConfigError

SOURCE_TYPES = {'pennfudan': 'PennFudanDataset', 'voc': 'VOCXMLDataset', 'kitti': 'KittiDataset'}
# The json sources: for coco and via `split` names the annotation json, for labelme a list of stems.
SOURCE_TYPES.update(coco='CocoJsonDataset', labelme='LabelmeDataset', via='VIADataset')


def source_config(source: str, root: str | Path, split: str | Path | None = '',
                  classes: Iterable[str] | None = None, class_map: dict | None = None,
                  data_prefix: dict | None = None, with_mask: bool = False,
                  options: dict | None = None) -> dict:
    """Dataset config for `source` over `root`; `split` is a list file relative to root (or any existing
    path), ''/None for every image (coco, via: the annotation json); `with_mask` is VOC's (the other formats'
    masks are fixed); `options` are further arguments of the dataset class (e.g. via's class_attribute)."""
    if source not in SOURCE_TYPES:
        raise ConfigError(f'unknown source {source!r}; choose from {sorted(SOURCE_TYPES)}')
    if split and not (Path(root) / split).is_file() and Path(split).is_file():
        split = Path(split).resolve()
    cfg = dict(type=SOURCE_TYPES[source], data_root=str(root), ann_file=str(split or ''))
    if classes:
        cfg['metainfo'] = dict(classes=tuple(classes))
    if data_prefix:
        cfg['data_prefix'] = dict(data_prefix)
    if class_map:
        cfg['class_map'] = dict(class_map)
    if with_mask:
        if source != 'voc':
            raise ConfigError(f'with_mask is an option of the voc source ({source} masks are fixed by its '
                              'format)')
        cfg['with_mask'] = True
    cfg.update(options or {})
    return cfg
