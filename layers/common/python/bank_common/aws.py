"""One botocore session per process and one cached client per AWS service.

Built on botocore, not boto3: importing boto3 and building a client from a fresh boto3 session costs
~60 ms more at cold start (boto3 + s3transfer imports, a second data loader re-reading endpoints and
the service model). Endpoint overrides (DynamoDB Local, moto) come from AWS_ENDPOINT_URL_<SERVICE>.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import botocore.session
from botocore.config import Config

DEFAULT_CONFIG = Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=2, read_timeout=5)


@cache
def session() -> botocore.session.Session:
    return botocore.session.get_session()


@cache
def client(service: str) -> Any:
    return session().create_client(service, config=DEFAULT_CONFIG)


def reset() -> None:
    """Drop cached clients and the session (tests switch between moto and DynamoDB Local)."""
    client.cache_clear()
    session.cache_clear()
