"""Shared fixtures: the Lambda-like environment, moto-backed AWS, the composite app and its client."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

REGION = "ap-east-1"

# The local run (integration and e2e levels) is started at most once per session, when first needed.
pytest_plugins = ["tests.live_platform"]


def _base_env() -> None:
    os.environ.update({
        "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",  # fake, for moto
        "METRICS_DISABLED": "true", "LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING"),
        "SMS_GATEWAY": "fake", "STAGE": "test",
    })
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB"):
        os.environ.pop(name, None)
    if "JWT_PRIVATE_KEY" not in os.environ:
        from bank_common.tokens import generate_keypair

        os.environ["JWT_PRIVATE_KEY"], os.environ["JWT_PUBLIC_KEY"] = generate_keypair()


_base_env()


def reset_caches() -> None:
    from bank_common import config, ddb, tokens

    config.reset()
    ddb.reset()
    tokens.reset()


@pytest.fixture
def aws() -> Iterator[dict[str, str]]:
    """moto-backed AWS with every table and queue of template.yaml; yields the functions' env."""
    from moto import mock_aws

    # Another level's fixtures may point botocore at DynamoDB Local; moto must see every call here.
    saved = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("AWS_ENDPOINT_URL")}
    with mock_aws():
        import boto3

        from infra import resources

        env = resources.provision(boto3.client("dynamodb"), boto3.client("sqs"), "test")
        os.environ.update(env)
        reset_caches()
        yield env
        reset_caches()
    os.environ.update(saved)


@pytest.fixture
def app(aws: dict[str, str]) -> Any:
    from infra.composite import build_app

    return build_app()


@pytest.fixture
def client(app: Any) -> Iterator[Any]:
    from chalice.test import Client

    with Client(app) as test_client:
        yield test_client


@pytest.fixture
def new_mobile() -> Any:
    def make() -> str:
        return "139" + str(uuid.uuid4().int)[:8]

    return make


def pytest_terminal_summary(terminalreporter: Any) -> None:
    from tests.support import figures

    if figures.LINES:
        terminalreporter.section("figures (benchmarks and load tests)")
        for line in figures.LINES:
            terminalreporter.write_line(line)
