"""Resolve an http(s) ``load_from`` URL to a local checkpoint file (no loading here)."""

import os
import re
from pathlib import Path
from urllib.parse import urlparse

from custom.download import download_file
from custom.errors import ChecksumError, DownloadError

CHECKPOINT_DIR_ENV = 'MMDET_CHECKPOINT_DIR'
# OpenMMLab and torchvision names end in '-<first hex digits of the sha256>.pth',
# e.g. mask_rcnn_r50_fpn_1x_coco_20200205-d4b0c5d6.pth
SHA256_PREFIX_IN_NAME = re.compile(r'-([0-9a-f]{8,64})\.[A-Za-z]+$')


def sha256_prefix_from_name(file_name: str) -> str | None:
    """'mask_rcnn_r50_fpn_1x_coco_20200205-d4b0c5d6.pth' -> 'd4b0c5d6'; None when the name has no hash."""
    match = SHA256_PREFIX_IN_NAME.search(file_name)
    return match.group(1) if match else None


def default_cache_dir() -> Path:
    """The torch hub checkpoint cache that mmengine also uses: ``torch.hub.get_dir()/checkpoints``."""
    import torch.hub

    return Path(torch.hub.get_dir()) / 'checkpoints'


def fetch_checkpoint(url: str, cache_dir: str | Path | None = None, timeout: float = 30) -> Path:
    """Local path of the checkpoint at ``url``: ``$MMDET_CHECKPOINT_DIR/<name>`` if present, else the cache
    (``cache_dir`` or the torch hub one), downloading into it when missing.

    A file already on disk whose sha256 does not start with the hash in its name raises a DataError."""
    if urlparse(url).scheme not in ('http', 'https'):
        raise ValueError(f'fetch_checkpoint expects an http(s) URL, got {url!r}')
    name = Path(urlparse(url).path).name
    expected_prefix = sha256_prefix_from_name(name)

    override_dir = os.environ.get(CHECKPOINT_DIR_ENV)
    local_path = Path(cache_dir if cache_dir is not None else default_cache_dir()) / name
    if override_dir and (Path(override_dir) / name).is_file():
        local_path = Path(override_dir) / name
    try:
        return download_file(url, local_path, sha256=expected_prefix, timeout=timeout, on_mismatch='raise')
    except ChecksumError:
        raise
    except DownloadError as err:
        raise DownloadError(
            f'could not download {url} ({err.reason}).\n'
            f'Put the file at {local_path}'
            + (f' (or in ${CHECKPOINT_DIR_ENV}={override_dir})' if override_dir
               else f' (or in the folder ${CHECKPOINT_DIR_ENV} names)')
            + ', or pass its path with --cfg-options load_from=/path/to/file.pth. (load_from=None would '
            'train from random weights: the configs set backbone.init_cfg=None, so no ImageNet backbone is '
            'loaded either, and a fine-tuning schedule from scratch ends near AP 0.)') from err
