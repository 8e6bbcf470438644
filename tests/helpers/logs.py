"""Messages logged through mmengine's current logger (``print_log(..., logger='current')``): MMLogger does not
propagate to the root logger, so pytest's caplog never sees them."""

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from mmengine.logging import MMLogger


@contextmanager
def mmengine_messages() -> Iterator[list[str]]:
    """The messages mmengine's current logger receives inside the block, in order."""
    logger = MMLogger.get_current_instance()
    messages: list[str] = []
    handler = logging.Handler(level=logging.DEBUG)
    handler.emit = lambda record: messages.append(record.getMessage())
    logger.addHandler(handler)
    try:
        yield messages
    finally:
        logger.removeHandler(handler)
