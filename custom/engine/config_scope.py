"""``custom::`` in a config's ``_base_``: the project's configs from a config in any folder.

As ``mmdet::_base_/models/mask-rcnn_r50_fpn.py`` reaches MMDetection's configs, a user's own config can start
with ``_base_ = 'custom::labelme_maskrcnn.py'`` (or ``'custom::_base_/datasets/via.py'``) wherever it lives,
without absolute paths or copies of the project's bases (whose relative ``_base_`` lines break in a copy).

mmengine resolves ``scope::path`` only for the OpenMMLab packages it lists, so ``import custom`` wraps its
path resolver (``Config._get_cfg_path``) to send the ``custom::`` prefix to this project's configs/ folder,
which an editable install (``pip install -e .``, what tools/setup_env.sh does) keeps beside the package.
Every other path goes to mmengine's own resolver unchanged.
"""

from pathlib import Path

from mmengine.config import Config

from custom.errors import MissingFileError

PREFIX = 'custom::'
CONFIG_ROOT = Path(__file__).resolve().parents[2] / 'configs'


def project_config_path(name: str) -> Path:
    """The file ``custom::<name>`` names; MissingFileError when there is none."""
    path = CONFIG_ROOT / name.removeprefix(PREFIX)
    if not path.is_file():
        raise MissingFileError(f'{name}: no such project config ({path}; the project must be installed '
                               'editable, as tools/setup_env.sh does, so that configs/ stays beside the '
                               'package)')
    return path


def _install() -> None:
    mmengine_resolver = Config._get_cfg_path
    if getattr(mmengine_resolver, 'handles_project_scope', False):
        return

    def get_cfg_path(cfg_path: str, filename: str) -> tuple[str, str | None]:
        if cfg_path.startswith(PREFIX):
            return str(project_config_path(cfg_path)), None  # no scope: the configs set their own
        return mmengine_resolver(cfg_path, filename)

    get_cfg_path.handles_project_scope = True
    Config._get_cfg_path = staticmethod(get_cfg_path)


_install()
