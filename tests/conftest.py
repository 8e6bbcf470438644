"""Shared fixtures: a tiny synthetic Penn-Fudan data set in the real on-disk layout, MMDetection's scope."""

from pathlib import Path

import pytest
from mmengine.registry import DefaultScope

from custom.data_tools.demo_data import generate_demo_dataset

pytest_plugins = ['tests.fake_server']  # `server` and `dead_url` fixtures

PENNFUDAN_IMAGES = 6
PENNFUDAN_SIZE = (96, 80)  # (width, height)
PENNFUDAN_VAL = 2


def make_pennfudan(root: Path, n_images: int = PENNFUDAN_IMAGES, seed: int = 0) -> Path:
    """Write a synthetic Penn-Fudan folder (with splits/train.txt and splits/val.txt) at ``root``."""
    generate_demo_dataset(root, n_images=n_images, size=PENNFUDAN_SIZE, seed=seed, n_val=PENNFUDAN_VAL)
    return root


@pytest.fixture
def pennfudan_factory():
    """``make_pennfudan`` as a fixture, for tests that need several data sets or other seeds."""
    return make_pennfudan


@pytest.fixture
def pennfudan_root(tmp_path: Path) -> Path:
    """Root of a fresh 6-image, 96x80 synthetic Penn-Fudan data set (4 train / 2 val); safe to modify."""
    return make_pennfudan(tmp_path / 'PennFudanPed')


@pytest.fixture
def mmdet_scope():
    """Resolve pipeline types (LoadAnnotations, ...) in MMDetection's registry, like the runner does; a module
    uses it with ``pytestmark = pytest.mark.usefixtures('mmdet_scope')``."""
    with DefaultScope.overwrite_default_scope('mmdet'):
        yield
