"""Mapping a data source's class names onto the config's ``metainfo['classes']``.

Every dataset takes an optional ``class_map`` (from the config), e.g.
``class_map={'Pedestrian': 'pedestrian', 'person': 'pedestrian'}``. A raw name is first renamed by
``class_map`` (when it has an entry), then matched exactly against ``classes``.
"""

import logging
from collections import Counter
from collections.abc import Mapping, Sequence

from mmengine.logging import print_log

from custom.errors import ConfigError


def resolve_label(
    raw_name: str, classes: Sequence[str], class_map: Mapping[str, str] | None = None
) -> int | None:
    """Index of ``raw_name`` in ``classes`` after ``class_map``; None when it is not one of our classes.

    >>> resolve_label('person', ('pedestrian',), {'person': 'pedestrian'})
    0
    >>> resolve_label('car', ('pedestrian',), {'person': 'pedestrian'}) is None
    True
    """
    name = raw_name.strip()
    if class_map:
        name = class_map.get(name, name)
    try:
        return list(classes).index(name)
    except ValueError:
        return None


def check_class_map(
    class_map: Mapping[str, str] | None, classes: Sequence[str], owner: str
) -> dict[str, str]:
    """Validate a config's ``class_map``: every target must be one of ``classes`` (catches typos early)."""
    if class_map is None:
        return {}
    if not isinstance(class_map, Mapping):
        raise ConfigError(f'{owner}: class_map must be a dict of source name -> class name, '
                          f'got {class_map!r}')
    unknown = sorted({target for target in class_map.values() if target not in classes})
    if unknown:
        raise ConfigError(f'{owner}: class_map maps to {unknown}, which are not in classes {tuple(classes)}')
    return dict(class_map)


def warn_unmatched(counts: Counter, owner: str, what: str) -> None:
    """Log once per dataset how many objects of which source classes were not ours (``what`` = their fate)."""
    if not counts:
        return
    listed = ', '.join(f'{name!r} x{n}' for name, n in counts.most_common())
    print_log(
        f'{owner}: {sum(counts.values())} objects of classes not in metainfo classes (after class_map) '
        f'were {what}: {listed}',
        logger='current',
        level=logging.WARNING,
    )
