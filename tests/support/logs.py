"""Log capture for the tests that prove secrets and personal data never reach the logs."""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Iterator


@contextlib.contextmanager
def captured_logs() -> Iterator[io.StringIO]:
    """Every log line, at DEBUG, as the log shipper would get it (the layer's JSON formatter, which masks)."""
    from bank_common import obs

    logger = obs.logger()
    level = logger.log_level
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logger.registered_formatter)
    logger.addHandler(handler)
    logger.setLevel("DEBUG")
    try:
        yield stream
    finally:
        logger.setLevel(level)
        logger.removeHandler(handler)
