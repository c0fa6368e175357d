"""The money path's DynamoDB transport: requests as DynamoDB expects them, errors as botocore raises
them, retries as botocore's standard mode makes them. The endpoint is scripted through the same
`before-send` hook moto uses, so nothing leaves the process."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import botocore.session
import pytest
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError
from botocore.hooks import HierarchicalEmitter

from bank_common import ddb, dynamo_wire

DYNAMODB_MODEL = botocore.session.get_session().get_service_model("dynamodb")


class Body:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_: Any) -> Any:
        yield self.data


class ScriptedEndpoint:
    """Answers each request with the next scripted (status, body) or raises the scripted exception."""

    def __init__(self, *script: Any) -> None:
        self.script = list(script)
        self.requests: list[Any] = []

    def __call__(self, request: Any, **_: Any) -> AWSResponse:
        self.requests.append(request)
        step = self.script.pop(0)
        if isinstance(step, Exception):
            raise step
        status, body = step
        return AWSResponse(request.url, status, {"x-amzn-RequestId": "req-1"}, Body(json.dumps(body).encode()))


def transport(endpoint: ScriptedEndpoint, credentials: Any = None, config: Any = None) -> dynamo_wire.Transport:
    events = HierarchicalEmitter()
    events.register("before-send.dynamodb", endpoint)
    client = SimpleNamespace(meta=SimpleNamespace(events=events, endpoint_url="https://dynamodb.ap-east-1.amazonaws.com",
                                                  region_name="ap-east-1", service_model=DYNAMODB_MODEL, config=config))
    return dynamo_wire.Transport(client, credentials or Credentials("AKIDEXAMPLE", "secret"), (1.0, 1.0))


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dynamo_wire.time, "sleep", lambda _: None)


def test_request_is_signed_json_for_the_operation_and_response_parsed() -> None:
    items = [{"Put": {"TableName": "t", "Item": {"pk": {"S": "a"}, "n": {"N": "1"}}}}]
    found = {"Responses": {"t": [{"pk": {"S": "a"}}]}}
    endpoint = ScriptedEndpoint((200, found))
    response = transport(endpoint).call("BatchGetItem", {"RequestItems": items})
    assert response.pop("ResponseMetadata") == {"RequestId": "req-1", "HTTPStatusCode": 200, "RetryAttempts": 0,
                                                "HTTPHeaders": {"x-amzn-requestid": "req-1"}}
    assert response == found
    (request,) = endpoint.requests
    assert request.url == "https://dynamodb.ap-east-1.amazonaws.com/"
    assert request.headers["X-Amz-Target"] == "DynamoDB_20120810.BatchGetItem"
    assert request.headers["Content-Type"] == "application/x-amz-json-1.0"
    authorization = request.headers["Authorization"]
    assert authorization.startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "/ap-east-1/dynamodb/aws4_request" in authorization
    assert json.loads(request.body) == {"RequestItems": items}


def test_cancelled_transaction_is_a_client_error_shaped_like_botocores() -> None:
    reasons = [{"Code": "None"}, {"Code": "ConditionalCheckFailed", "Item": {"pk": {"S": "a"}}}]
    endpoint = ScriptedEndpoint((400, {"__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
                                       "Message": "Transaction cancelled", "CancellationReasons": reasons}))
    with pytest.raises(ClientError) as caught:
        transport(endpoint).call("TransactWriteItems", {"TransactItems": []})
    assert caught.value.response["Error"] == {"Code": "TransactionCanceledException",
                                              "Message": "Transaction cancelled"}
    assert caught.value.response["CancellationReasons"] == reasons
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert caught.value.operation_name == "TransactWriteItems"
    assert len(endpoint.requests) == 1  # a business outcome, never retried


def test_layer_maps_cancellation_reasons_with_old_items(monkeypatch: pytest.MonkeyPatch) -> None:
    reasons = [{"Code": "None"}, {"Code": "ConditionalCheckFailed", "Item": {"pk": {"S": "a"}}}]
    endpoint = ScriptedEndpoint((400, {"__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
                                       "message": "cancelled", "CancellationReasons": reasons}))
    monkeypatch.setattr(ddb, "transport", lambda: transport(endpoint))
    with pytest.raises(ddb.TransactionCancelled) as caught:
        ddb.transact_write([{"Put": {}}, {"Update": {}}])
    assert [(r.code, r.old_item) for r in caught.value.reasons] == [("None", None),
                                                                   ("ConditionalCheckFailed", {"pk": {"S": "a"}})]


def test_throttling_and_5xx_are_retried_then_succeed() -> None:
    endpoint = ScriptedEndpoint((400, {"__type": "com.amazonaws.dynamodb.v20120810#ThrottlingException"}),
                                (503, {}), (200, {}))
    response = transport(endpoint).call("TransactWriteItems", {"TransactItems": []})
    assert response["ResponseMetadata"]["RetryAttempts"] == 2
    assert response.keys() == {"ResponseMetadata"}
    assert len(endpoint.requests) == 3


def test_retries_stop_after_three_attempts() -> None:
    endpoint = ScriptedEndpoint(*[(500, {"__type": "InternalServerError", "message": "boom"})] * 3)
    with pytest.raises(ClientError) as caught:
        transport(endpoint).call("BatchGetItem", {"RequestItems": {}})
    assert caught.value.response["Error"]["Code"] == "InternalServerError"
    assert len(endpoint.requests) == dynamo_wire.MAX_ATTEMPTS


def test_attempts_follow_the_clients_retry_config() -> None:
    # botocore reads Config(retries={"max_attempts": 3}) as 3 retries: total_max_attempts 4, as bank_common.aws has it.
    endpoint = ScriptedEndpoint(*[(500, {"__type": "InternalServerError", "message": "boom"})] * 4)
    with pytest.raises(ClientError) as caught:
        transport(endpoint, config=Config(retries={"total_max_attempts": 4})).call("BatchGetItem", {"RequestItems": {}})
    assert caught.value.response["ResponseMetadata"]["RetryAttempts"] == 3
    assert caught.value.response["ResponseMetadata"]["MaxAttemptsReached"] is True
    assert len(endpoint.requests) == 4


def test_dropped_connection_is_retried() -> None:
    endpoint = ScriptedEndpoint(EndpointConnectionError(endpoint_url="https://x"), (200, {"Responses": {}}))
    response = transport(endpoint).call("BatchGetItem", {"RequestItems": {}})
    assert response["Responses"] == {} and response["ResponseMetadata"]["RetryAttempts"] == 1
    assert len(endpoint.requests) == 2


def test_validation_errors_are_not_retried() -> None:
    endpoint = ScriptedEndpoint((400, {"__type": "com.amazon.coral.validate#ValidationException",
                                       "message": "Item size has exceeded the maximum allowed size"}))
    with pytest.raises(ClientError) as caught:
        transport(endpoint).call("TransactWriteItems", {"TransactItems": []})
    assert caught.value.response["Error"] == {"Code": "ValidationException",
                                              "Message": "Item size has exceeded the maximum allowed size"}
    assert len(endpoint.requests) == 1


def test_missing_credentials_fail_before_sending() -> None:
    endpoint = ScriptedEndpoint()
    wire = transport(endpoint)
    wire._credentials = None
    with pytest.raises(NoCredentialsError):
        wire.call("BatchGetItem", {"RequestItems": {}})
    assert endpoint.requests == []
