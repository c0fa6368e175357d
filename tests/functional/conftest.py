from __future__ import annotations

from typing import Any

import pytest

from tests.support.api import Api

STAFF_USER, STAFF_PASSWORD = "teller01", "Teller-passw0rd"


def provision_staff(runtime: Any, username: str, password: str, roles: list[str]) -> None:
    """What operations do to create a staff login: invoke ProvisionStaffFunction directly."""
    reply = runtime.invoke("ProvisionStaffFunction", {"username": username, "password": password, "roles": roles})
    assert reply["ok"], reply


@pytest.fixture
def api(gateway: Any, runtime: Any) -> Api:
    provision_staff(runtime, STAFF_USER, STAFF_PASSWORD, ["teller"])
    return Api(gateway=gateway)


@pytest.fixture
def teller(api: Api) -> str:
    return api.staff_login(STAFF_USER, STAFF_PASSWORD)


def table_items(aws_env: Any, env_name: str) -> list[dict]:
    import boto3

    return boto3.client("dynamodb").scan(TableName=aws_env[env_name], ConsistentRead=True)["Items"]
