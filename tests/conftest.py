"""Shared fixtures: the Lambda-like environment, moto-backed AWS, the functions run in-process (as Lambda runs
them, each with its own environment) behind the API gateway emulation."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

REGION = "ap-east-1"

# The local run (integration and e2e levels) is started at most once per session, when first needed.
pytest_plugins = ["tests.live_platform"]


# The token signing keys of the test session: in SSM while the moto-backed fixtures run (the auth functions
# read them from there, as in AWS); tests that sign tokens themselves use these.
SIGNING_KEYS: tuple[str, str] = ("", "")
# The centers' secrets (root parameter → value): in SSM with the keys; in the environment otherwise (benches).
CENTER_SECRETS: dict[str, str] = {}
SECRET_ENV = {"AuthSecretParam": "AUTH_SECRET", "UserSecretParam": "USER_SECRET",
              "LifeBillerSecretsParam": "LIFE_BILLER_SECRETS"}


def _base_env() -> None:
    global SIGNING_KEYS
    os.environ.update({
        "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",  # fake, for moto
        "METRICS_DISABLED": "true", "LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING"),
        "SMS_GATEWAY": "fake", "BINDING_VERIFIER": "fake", "CLEARING_GATEWAY": "fake", "STAGE": "test",
    })
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB"):
        os.environ.pop(name, None)
    if "JWT_PRIVATE_KEY" not in os.environ:
        from bank_common.tokens import generate_keypair

        os.environ["JWT_PRIVATE_KEY"], os.environ["JWT_PUBLIC_KEY"] = generate_keypair()
    SIGNING_KEYS = (os.environ["JWT_PRIVATE_KEY"], os.environ["JWT_PUBLIC_KEY"])
    from infra import resources

    CENTER_SECRETS.update(resources.new_center_secrets())
    for parameter, name in SECRET_ENV.items():
        if parameter in CENTER_SECRETS:
            os.environ.setdefault(name, CENTER_SECRETS[parameter])


_base_env()


def reset_caches() -> None:
    """Fresh clients for a new (emulated) AWS; every AWS call the functions make through them is recorded
    for the IAM evaluation (tests/iam), attributed to the function that made it."""
    from bank_common import aws, config, crypto, ddb, limits, sms, tokens
    from infra import iam

    config.reset()
    ddb.reset()
    tokens.reset()
    crypto.reset()
    sms.gateway.cache_clear()
    limits.forget_cached()
    iam.install(aws.session())


@dataclass
class Deployment:
    """What the `aws` fixture made: the local names, the queues, and the union of the functions' variables
    (set in os.environ, so tests can reach the stores directly; each invocation gets exactly its own)."""

    naming: Any
    queue_urls: dict[str, str]
    env: dict[str, str]

    def __getitem__(self, name: str) -> str:
        return self.env[name]


@pytest.fixture
def aws() -> Iterator[Deployment]:
    """moto-backed AWS with every table and queue of the templates and the signing keys in SSM."""
    from moto import mock_aws

    # Another level's fixtures may point botocore at DynamoDB Local; moto must see every call here.
    saved = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("AWS_ENDPOINT_URL")}
    keys = {k: os.environ.pop(k) for k in ("JWT_PRIVATE_KEY", "JWT_PUBLIC_KEY", *SECRET_ENV.values())
            if k in os.environ}
    with mock_aws():
        import boto3

        from infra import resources, template
        from infra.runtime import Naming, function_environment

        naming = Naming(prefix="test", region=REGION)
        queue_urls = resources.provision(boto3.client("dynamodb"), boto3.client("sqs"), naming, boto3.client("s3"))
        resources.store_signing_keys(boto3.client("ssm"), *SIGNING_KEYS)
        resources.store_center_secrets(boto3.client("ssm"), CENTER_SECRETS)
        env: dict[str, str] = {}
        for fn in template.functions():
            env.update(function_environment(fn, naming, queue_urls))
        env.update(resources.FAKE_ADAPTERS)  # as every invocation gets them (the runtime fixture pins them)
        # Where the fake clearing house delivers its receipts (local-only: no template sets it).
        env["FAKE_CLEARING_RECEIPTS_URL"] = queue_urls["ClearingInboundQueue"]
        os.environ.update(env)
        reset_caches()
        try:
            yield Deployment(naming, queue_urls, env)
        finally:
            for key in env:
                os.environ.pop(key, None)
            reset_caches()
    os.environ.update(saved)
    os.environ.update(keys)


@pytest.fixture
def runtime(aws: Deployment) -> Iterator[Any]:
    from infra.resources import FAKE_ADAPTERS
    from infra.runtime import InProcessRuntime

    rt = InProcessRuntime({}, aws.naming, aws.queue_urls,
                          pinned={"LOG_LEVEL": os.environ["LOG_LEVEL"], **FAKE_ADAPTERS})
    yield rt
    rt.close()


@pytest.fixture
def gateway(runtime: Any) -> Any:
    from infra.gateway import Gateway

    return Gateway(runtime, stage="test", region=REGION)


@pytest.fixture
def new_mobile() -> Any:
    def make() -> str:
        return "139" + str(uuid.uuid4().int)[:8]

    return make


def pytest_sessionstart(session: Any) -> None:
    """Each test run records the AWS calls of its local runs afresh (tests/support/iam_run.py)."""
    from tests.support import iam_run

    iam_run.start_recording()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    from tests.support import figures

    if figures.LINES:
        terminalreporter.section("figures (benchmarks and load tests)")
        for line in figures.LINES:
            terminalreporter.write_line(line)
