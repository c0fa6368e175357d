from __future__ import annotations

import pytest

from tests.support.api import Api

STAFF_USER, STAFF_PASSWORD = "teller01", "Teller-passw0rd"


@pytest.fixture
def api(client) -> Api:
    from bank_common import client as center_client

    center_client.call("auth", "create_credential", {"login": f"staff:{STAFF_USER}", "subject": "s-teller01",
                                                     "password": STAFF_PASSWORD, "roles": ["teller"]})
    return Api(client)


@pytest.fixture
def teller(api: Api) -> str:
    return api.staff_login(STAFF_USER, STAFF_PASSWORD)


def table_items(aws_env: dict[str, str], env_name: str) -> list[dict]:
    import boto3

    return boto3.client("dynamodb").scan(TableName=aws_env[env_name], ConsistentRead=True)["Items"]
