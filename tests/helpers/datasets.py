"""Building a project dataset over a test folder, as the source tests do."""

from pathlib import Path

from custom.datasets.base import ProjectDataset


def dataset_in_test_mode(cls: type[ProjectDataset], root: Path, classes: tuple[str, ...],
                         **kwargs) -> ProjectDataset:
    """``cls`` over ``root`` in test mode, every image (``ann_file=''``) and no pipeline unless given."""
    kwargs.setdefault('ann_file', '')
    kwargs.setdefault('pipeline', [])
    return cls(data_root=str(root), metainfo=dict(classes=classes), test_mode=True, serialize_data=False,
               **kwargs)
