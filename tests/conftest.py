"""Shared fixtures: a tiny synthetic Penn-Fudan data set in the real on-disk layout, MMDetection's scope; the
work units of the parallel run (``make test``: pytest-xdist's ``-n 2 --dist loadgroup``)."""

from pathlib import Path

import pytest
from mmengine.registry import DefaultScope

from tests.helpers.source_writers import make_pennfudan

pytest_plugins = ['tests.helpers.fake_server',  # `server` and `dead_url` fixtures
                  'tests.helpers.browser']  # `browser`: headless Chromium
# The session fixture of tests/serving/conftest.py: one real server process for every file that uses it.
SHARED_SERVER = 'served'


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist turns the xdist_group marks into work units
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The work units of ``make test`` (``-n 2 --dist loadgroup --no-loadscope-reorder``): each test file is
    one (its module-scoped fixtures are made once, on one worker), except that the files using the shared
    server process are one together (it starts once); without a mark, loadgroup would hand out single tests.
    On a worker, the units that run longest come first (the server's, then those training a model: marked
    slow), so that the short ones even out the two workers' ends."""
    serving_files = {item.path for item in items if SHARED_SERVER in getattr(item, 'fixturenames', ())}
    groups = {item: SHARED_SERVER if item.path in serving_files else item.nodeid.split('::')[0]
              for item in items}
    for item, group in groups.items():
        item.add_marker(pytest.mark.xdist_group(group))
    if hasattr(config, 'workerinput'):  # a pytest-xdist worker; every worker sorts its collection alike
        trains = {group for item, group in groups.items() if item.get_closest_marker('slow')}
        items.sort(key=lambda item: (groups[item] != SHARED_SERVER, groups[item] not in trains))


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
