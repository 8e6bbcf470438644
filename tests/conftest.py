"""Shared fixtures: a tiny synthetic Penn-Fudan data set in the real on-disk layout, MMDetection's scope."""

from pathlib import Path

import pytest
from mmengine.registry import DefaultScope

from tests.helpers.source_writers import make_pennfudan

pytest_plugins = ['tests.helpers.fake_server']  # `server` and `dead_url` fixtures

@pytest.fixture
def pennfudan_factory():
    """``make_pennfudan`` as a fixture, for tests that need several data sets or other seeds."""
    return make_pennfudan


@pytest.fixture
def pennfudan_root(tmp_path: Path) -> Path:
    """Root of a fresh 6-image, 96x80 synthetic Penn-Fudan data set (4 train / 2 val); safe to modify."""
    return make_pennfudan(tmp_path / 'PennFudanPed')


@pytest.fixture
def dataset_builds(monkeypatch) -> list[str]:
    """The type name of every project dataset built while the test runs, in order."""
    from custom.datasets.base import ProjectDataset

    built, init = [], ProjectDataset.__init__

    def counting_init(self, *args, **kwargs) -> None:
        built.append(type(self).__name__)
        init(self, *args, **kwargs)

    monkeypatch.setattr(ProjectDataset, '__init__', counting_init)
    return built


@pytest.fixture
def mmdet_scope():
    """Resolve pipeline types (LoadAnnotations, ...) in MMDetection's registry, like the runner does; a module
    uses it with ``pytestmark = pytest.mark.usefixtures('mmdet_scope')``."""
    with DefaultScope.overwrite_default_scope('mmdet'):
        yield
