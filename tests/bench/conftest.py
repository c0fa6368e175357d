"""Fixtures of the benchmarks: one in-memory DynamoDB Local for the whole run, every table of the templates
on it, the functions run in-process behind the gateway emulation, and helpers to make funded customers
quickly."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

PREFIX = "bench"


@dataclass
class Dynamo:
    endpoint: str
    env: dict[str, str]  # the functions' variables (tables as provisioned here), all of them in os.environ
    naming: Any
    queue_urls: dict[str, str]  # queues are not served here: URLs that answer nothing

    def boto3_client(self) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client("dynamodb", endpoint_url=self.endpoint, region_name="ap-east-1",
                            config=Config(max_pool_connections=32))


@pytest.fixture(scope="session")
def dynamo() -> Iterator[Dynamo]:
    from infra import dynamodb_local, resources
    from tests.live_platform import need_dynamodb_local

    need_dynamodb_local()
    from infra import template
    from infra.runtime import Naming, function_environment

    with dynamodb_local.running() as endpoint:
        os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = endpoint
        import boto3

        naming = Naming(PREFIX, "ap-east-1")
        resources.create_tables(boto3.client("dynamodb", endpoint_url=endpoint), naming)
        queue_urls = {q: f"http://127.0.0.1:9/123456789012/{naming.name(q)}" for q in template.resources(resources.QUEUE)}
        env: dict[str, str] = {}
        for fn in template.functions():
            env.update(function_environment(fn, naming, queue_urls))
        os.environ.update(env)
        _reset()
        try:
            yield Dynamo(endpoint, env, naming, queue_urls)
        finally:
            os.environ.pop("AWS_ENDPOINT_URL_DYNAMODB", None)
            _reset()


def _reset() -> None:
    from bank_common import config, ddb, limits, tokens

    config.reset()
    ddb.reset()
    tokens.reset()
    limits.forget_cached()


@dataclass
class HttpResult:
    status_code: int
    body: bytes


class Bank:
    """Every function in-process behind the gateway emulation, plus direct access to the account logic."""

    def __init__(self, dynamo: Dynamo) -> None:
        from bank_common.tokens import Principal
        from infra.gateway import Gateway
        from infra.runtime import InProcessRuntime

        self.runtime = InProcessRuntime({}, dynamo.naming, dynamo.queue_urls,
                                        pinned={"LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING")})
        self.gateway = Gateway(self.runtime, stage="bench")
        self.teller = Principal("s-bench-teller", "staff", roles=("teller",), channel="web", device_id="bench")
        # What ops do once: the bank's limit definitions.
        seeded = self.runtime.invoke("ContractInternalFunction", {"operation": "seed_bank_defaults", "payload": {}})
        assert seeded["ok"], seeded

    @staticmethod
    def principal(subject: str) -> Any:
        from bank_common.tokens import Principal

        return Principal(subject, "customer", channel="app", device_id="bench-dev", auth_level="L1")

    def token(self, subject: str) -> str:
        from bank_common import tokens

        return tokens.issue(self.principal(subject))[0]

    def customer_with_account(self, funds: str = "0", account_type: str = "II", subject: str | None = None,
                              hot: bool = False) -> tuple[str, str]:
        """A new customer who signed the e-account agreement, with an account funded by a counter deposit:
        (customer_id, account_id). The account is written as opening would write it (opening itself needs
        the user center's KYC and a binding; the benches measure money movement)."""
        from account_center import accounts, store
        from account_center.models import Account
        from bank_common import agreements
        from bank_common.agreements import Signature

        subject = subject or "c" + uuid.uuid4().hex[:20]
        Signature(agreements.signature_pk(subject), agreements.current_sk(agreements.EACCOUNT),
                  agreement_id="agr-" + uuid.uuid4().hex, customer_id=subject, template_code=agreements.EACCOUNT,
                  version=1, content_hash="0" * 64, signed_at="2026-01-01T00:00:00Z", channel="app").save()
        account = Account(accounts.new_account_number(), customer_id=subject, account_type=account_type,
                          status="active", balance=0, held=0, available=0, version=0,
                          opened_at="2026-01-01T00:00:00.000000Z", hot=hot)
        store.create_account(account, 100)
        if funds != "0":
            self.deposit(account.account_id, funds)
        return subject, account.account_id

    def deposit(self, account_id: str, amount: str) -> None:
        from account_center import transfers
        from account_center.schemas import DepositIn
        from bank_common import schema

        transfers.deposit(self.teller, "k-" + uuid.uuid4().hex,
                          schema.decode({"account_id": account_id, "amount": amount}, DepositIn))

    def transfer_request(self, token: str, src: str, dst: str, amount: str, key: str | None = None) -> Any:
        body = json.dumps({"from_account": src, "to_account": dst, "amount": amount, "memo": "bench"})
        headers = {"Content-Type": "application/json", "X-Channel": "app", "Authorization": f"Bearer {token}",
                   "X-Device-Id": "bench-dev", "x-api-key": self.gateway.api_keys["app"],
                   "Idempotency-Key": key or "k-" + uuid.uuid4().hex}
        r = self.gateway.handle("POST", "/v1/account/transfers", list(headers.items()), body.encode())
        return HttpResult(r.status, r.body)


@pytest.fixture(scope="session")
def bank(dynamo: Dynamo) -> Iterator[Bank]:
    bank = Bank(dynamo)
    yield bank
    bank.runtime.close()


@pytest.fixture(scope="session")
def built_native(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    """What `make package` builds, for this machine's architecture, and its layers merged as in /opt."""
    from infra import package
    from tests.support.built import merge_layers

    build = package.build(package.native_architecture(), tmp_path_factory.mktemp("build"))
    return build, merge_layers(build, tmp_path_factory.mktemp("opt") / "opt")
