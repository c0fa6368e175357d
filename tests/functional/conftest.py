from __future__ import annotations

import os
from typing import Any

import pytest

from tests.support.api import Api

STAFF_USER, STAFF_PASSWORD = "teller01", "Teller-passw0rd"
OPS_USER, OPS_PASSWORD = "ops01", "Ops-passw0rd-01"


def provision_staff(runtime: Any, username: str, password: str, roles: list[str]) -> None:
    """What operations do to create a staff login: invoke ProvisionStaffFunction directly."""
    reply = runtime.invoke("ProvisionStaffFunction", {"username": username, "password": password, "roles": roles})
    assert reply["ok"], reply


def pump(runtime: Any, queue_url: str, function: str) -> int:
    """Deliver what waits in a queue to its function, as the SQS event source would (functional tests have no
    poller); how many messages went."""
    import boto3

    sqs, sent = boto3.client("sqs"), 0
    while True:
        got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages") or []
        if not got:
            return sent
        records = [{"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
                    "eventSource": "aws:sqs", "attributes": {}, "messageAttributes": {}} for m in got]
        failed = {f["itemIdentifier"] for f in runtime.invoke(function, {"Records": records})["batchItemFailures"]}
        done = [m for m in got if m["MessageId"] not in failed]
        if done:
            sqs.delete_message_batch(QueueUrl=queue_url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)])
        sent += len(done)


def sms_reader(runtime: Any, aws: Any) -> Any:
    """The texts the fake SMS gateway sent to a number, after the OTP queue was delivered to its sender."""
    def read(mobile: str) -> list[str]:
        pump(runtime, aws.queue_urls["OtpQueue"], "OtpSenderFunction")
        from bank_common import sms

        gateway = sms.gateway()
        return gateway.messages_to(mobile) if isinstance(gateway, sms.FakeSmsGateway) else []

    return read


def set_kyc(customer_id: str, level: str) -> None:
    """A customer's verification level, set straight in the user center's table (no KYC routes yet)."""
    import boto3

    boto3.client("dynamodb").update_item(
        TableName=os.environ["CUSTOMERS_TABLE"], Key={"pk": {"S": f"CUST#{customer_id}"}},
        UpdateExpression="SET kyc_level = :level", ExpressionAttributeValues={":level": {"S": level}})


def seed_bank(runtime: Any) -> None:
    """What ops do once after a deploy: the bank's initial limit definitions."""
    reply = runtime.invoke("ContractInternalFunction", {"operation": "seed_bank_defaults", "payload": {}})
    assert reply["ok"], reply


@pytest.fixture
def api(gateway: Any, runtime: Any, aws: Any) -> Api:
    provision_staff(runtime, STAFF_USER, STAFF_PASSWORD, ["teller"])
    provision_staff(runtime, OPS_USER, OPS_PASSWORD, ["ops"])
    seed_bank(runtime)
    driver = Api(gateway=gateway, sms_reader=sms_reader(runtime, aws), kyc=set_kyc)
    driver.publish_eaccount(driver.staff_login(OPS_USER, OPS_PASSWORD))
    return driver


@pytest.fixture
def teller(api: Api) -> str:
    return api.staff_login(STAFF_USER, STAFF_PASSWORD)


@pytest.fixture
def ops(api: Api) -> str:
    return api.staff_login(OPS_USER, OPS_PASSWORD)


def table_items(aws_env: Any, env_name: str) -> list[dict]:
    import boto3

    return boto3.client("dynamodb").scan(TableName=aws_env[env_name], ConsistentRead=True)["Items"]


@pytest.fixture
def no_step_up(runtime: Any) -> None:
    """Transfers of any amount without a step-up (STEP_UP_THRESHOLD_FEN out of reach), for tests of other rules
    (PBOC caps at ¥10,000, the bank's L1 caps) whose amounts pass the step-up threshold; the step-up itself is
    tested in test_step_up_transfers.py."""
    runtime.envs["CreateTransferFunction"]["STEP_UP_THRESHOLD_FEN"] = str(10**15)
    runtime.managed_keys.add("STEP_UP_THRESHOLD_FEN")  # restored after each call, as the template's own are


@pytest.fixture
def marketer(api: Api, runtime: Any) -> str:
    """A marketing staff member's token (role marketing)."""
    from tests.support.marketing import MARKETER_PASSWORD, MARKETER_USER

    provision_staff(runtime, MARKETER_USER, MARKETER_PASSWORD, ["marketing"])
    return api.staff_login(MARKETER_USER, MARKETER_PASSWORD)


@pytest.fixture
def pushes(aws: Any) -> Any:
    """What the fake push adapter sent in this test (marketing campaigns)."""
    from marketing_center import push

    push.sender.cache_clear()

    def read() -> list[dict[str, Any]]:
        sender = push.sender()
        assert isinstance(sender, push.FakePush)
        return list(sender.sent)

    yield read
    push.sender.cache_clear()
