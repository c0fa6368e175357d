"""dynamo_wire against botocore's own DynamoDB client: the same requests on the wire, the same answers.

Both sides run on one client built the way bank_common.ddb builds it (its session, its config) and pointed
at a fake endpoint. A `before-send` handler on that client's event emitter, which botocore's endpoint and
dynamo_wire both emit, records every request and answers it with a scripted raw HTTP response (status,
headers, body bytes), so nothing touches the network. Hypothesis generates requests, responses and errors.

What is compared, and the only thing left out:
- requests: method, URL (so its path), the X-Amz-Target and Content-Type headers (as text: botocore's
  endpoint encodes header values to bytes, dynamo_wire leaves them str; the wire is the same) and the
  parsed JSON body. The TransactWriteItems `ClientRequestToken` botocore fills in is a fresh uuid4 per
  call, so its value is left out of the body comparison: both sides must carry one, a uuid4, a different
  one per call, the same one on every retry of a call, and the caller's own token untouched. Signature,
  date, user agent and the SDK invocation headers are not compared (they are meant to differ per request).
- answers: the whole returned dict, or the exception's class and, for ClientError, its whole `response`
  (Error, modelled fields, ResponseMetadata with RequestId, HTTPStatusCode, HTTPHeaders, RetryAttempts,
  MaxAttemptsReached, RetryQuotaReached) and `operation_name`, plus the number of attempts. Nothing in
  ResponseMetadata is excluded.
Responses are generated within the service model: members botocore does not model are dropped by it and
kept by dynamo_wire, so they are not generated.
"""

from __future__ import annotations

import base64
import copy
import json
import time
import uuid
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from botocore import xform_name
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bank_common import ddb, dynamo_wire

ENDPOINT = "https://dynamodb.differential.invalid"
EXAMPLES = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class RawBody:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.data


Step = tuple[int, dict[str, str], bytes] | Exception


@dataclass
class Endpoint:
    """Records requests; answers each with the next scripted step, the last one as often as asked."""

    script: list[Step] = field(default_factory=list)
    requests: list[Any] = field(default_factory=list)

    def __call__(self, request: Any, **_: Any) -> AWSResponse:
        self.requests.append(request)
        step = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if isinstance(step, Exception):
            raise step
        status, headers, body = step
        return AWSResponse(request.url, status, headers, RawBody(body))


@dataclass
class Pair:
    client: Any
    wire: dynamo_wire.Transport
    endpoint: Endpoint

    def run(self, operation: str, params: dict[str, Any], *script: Step) -> tuple[Side, Side]:
        """The same call through botocore's client and through dynamo_wire, on the same script."""
        theirs = self._side(lambda given: getattr(self.client, xform_name(operation))(**given), params, script)
        ours = self._side(lambda given: self.wire.call(operation, given), params, script)
        return theirs, ours

    def _side(self, call: Callable[[dict[str, Any]], Any], params: dict[str, Any], script: tuple[Step, ...]) -> Side:
        self.endpoint.script, self.endpoint.requests = list(script), []
        given = copy.deepcopy(params)
        try:
            outcome: tuple[Any, ...] = ("returned", call(given))
        except ClientError as exc:
            outcome = ("raised", type(exc), exc.response, exc.operation_name)
        except Exception as exc:  # noqa: BLE001 - any other exception must be the same on both sides
            outcome = ("raised", type(exc), str(exc))
        assert given == params, "the caller's request was modified"
        return Side(outcome, self.endpoint.requests)


@dataclass
class Side:
    outcome: tuple[Any, ...]
    requests: list[Any]


@pytest.fixture
def pair() -> Iterator[Callable[[], Pair]]:
    """Builds client + transport exactly as bank_common.ddb does, on a fake endpoint, with no backoff sleeps.

    Each call gives a fresh pair (its own retry quotas), so a test can start from full quotas."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_ENDPOINT_URL_DYNAMODB", ENDPOINT)
        patch.setattr(time, "sleep", lambda _: None)  # botocore's endpoint and dynamo_wire both sleep via time

        def build() -> Pair:
            ddb.reset()
            try:
                client, wire = ddb.client(), ddb.transport()
            finally:
                ddb.reset()
            endpoint = Endpoint()
            client.meta.events.register("before-send.dynamodb", endpoint)
            return Pair(client, wire, endpoint)

        yield build
    ddb.reset()


# ---- generated values ---------------------------------------------------------------------------------

SPECIAL_TEXT = ["", " ", "שלום עולם", "مرحبا بالعالم", "\u202bRTL embedding\u202c", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝟙𝟚𝟛", "🏦💸👩‍👩‍👧",
                "e\u0301", "\u200b", "\x00", '"quoted" \\ back', "B", "BS", '{"B":"AA=="}', "\U0010fffd", "\n\t"]
texts = st.one_of(st.text(max_size=12), st.sampled_from(SPECIAL_TEXT))
names = st.one_of(st.text(min_size=1, max_size=10),
                  st.sampled_from([t for t in SPECIAL_TEXT if t] + ["B", "BS", "M", "L", "N", "S", "NULL"]))
NUMBERS = ["0", "-0", "1E+125", "-1E+125", "9.9999999999999999999999999999999999999E+125", "1E-130", "-1E-130",
           "-0.000001", "0.000001", "12345678901234567890123456789012345678", "-99999999999999999999999999999999999999",
           "1.5e3", "100.00", "0.1"]
numbers = st.one_of(st.sampled_from(NUMBERS), st.integers(-(10**38) + 1, 10**38 - 1).map(str),
                    st.decimals(min_value=-(10**9), max_value=10**9, places=6).map(str))
tables = st.from_regex(r"[A-Za-z0-9_.\-]{3,16}", fullmatch=True)
# Requests take B/BS as botocore does (bytes-likes, or str sent as UTF-8); responses carry base64 text.
request_blobs = st.one_of(st.binary(max_size=24), st.binary(max_size=24).map(bytearray), texts)
wire_blobs = st.binary(max_size=24).map(lambda b: base64.b64encode(b).decode())


def wrap(value: dict[str, Any], levels: list[str], name: str) -> dict[str, Any]:
    for level in levels:
        value = {"M": {name: value}} if level == "M" else {"L": [value]}
    return value


def attribute_values(blobs: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    scalars = st.one_of(
        texts.map(lambda v: {"S": v}),
        numbers.map(lambda v: {"N": v}),
        blobs.map(lambda v: {"B": v}),
        st.booleans().map(lambda v: {"BOOL": v}),
        st.builds(dict, NULL=st.just(True)),
        st.lists(texts.filter(bool), min_size=1, max_size=3).map(lambda v: {"SS": v}),
        st.lists(numbers, min_size=1, max_size=3).map(lambda v: {"NS": v}),
        st.lists(blobs, min_size=1, max_size=3).map(lambda v: {"BS": v}),
    )
    nested = st.recursive(scalars, lambda inner: st.one_of(
        st.lists(inner, max_size=3).map(lambda v: {"L": v}),
        st.dictionaries(names, inner, max_size=3).map(lambda v: {"M": v})), max_leaves=8)
    deep = st.builds(wrap, nested, st.lists(st.sampled_from("ML"), min_size=3, max_size=8), names)
    return st.one_of(nested, deep)


def items(blobs: st.SearchStrategy[Any], max_size: int = 4) -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(names, attribute_values(blobs), min_size=1, max_size=max_size)


def expression_parts(blobs: st.SearchStrategy[Any]) -> dict[str, st.SearchStrategy[Any]]:
    return {
        "ConditionExpression": texts,
        "ExpressionAttributeNames": st.dictionaries(names.map(lambda n: "#" + n), names, max_size=3),
        "ExpressionAttributeValues": st.dictionaries(names.map(lambda n: ":" + n), attribute_values(blobs),
                                                     max_size=3),
        "ReturnValuesOnConditionCheckFailure": st.sampled_from(["ALL_OLD", "NONE"]),
    }


def keys_and_attributes(blobs: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({"Keys": st.lists(items(blobs, 2), min_size=1, max_size=3)}, optional={
        "ConsistentRead": st.booleans(), "ProjectionExpression": texts,
        "ExpressionAttributeNames": st.dictionaries(names.map(lambda n: "#" + n), names, max_size=2),
        "AttributesToGet": st.lists(names, min_size=1, max_size=3)})


CAPACITY_MODES = st.sampled_from(["INDEXES", "TOTAL", "NONE"])
batch_get_params = st.fixed_dictionaries(
    {"RequestItems": st.dictionaries(tables, keys_and_attributes(request_blobs), min_size=1, max_size=3)},
    optional={"ReturnConsumedCapacity": CAPACITY_MODES})
_parts = expression_parts(request_blobs)
_keys = items(request_blobs, 2)
transact_items = st.one_of(
    st.fixed_dictionaries({"TableName": tables, "Item": items(request_blobs)}, optional=_parts)
    .map(lambda v: {"Put": v}),
    st.fixed_dictionaries({"TableName": tables, "Key": _keys, "UpdateExpression": texts}, optional=_parts)
    .map(lambda v: {"Update": v}),
    st.fixed_dictionaries({"TableName": tables, "Key": _keys}, optional=_parts).map(lambda v: {"Delete": v}),
    st.fixed_dictionaries({"TableName": tables, "Key": _keys, "ConditionExpression": texts},
                          optional={k: v for k, v in _parts.items() if k != "ConditionExpression"})
    .map(lambda v: {"ConditionCheck": v}),
)
transact_params = st.fixed_dictionaries(
    {"TransactItems": st.lists(transact_items, min_size=1, max_size=4)},
    optional={"ReturnConsumedCapacity": CAPACITY_MODES, "ClientRequestToken": st.uuids().map(str),
              "ReturnItemCollectionMetrics": st.sampled_from(["SIZE", "NONE"])})

capacity = st.one_of(st.floats(min_value=0, max_value=1e6, allow_nan=False), st.integers(0, 10**6))
capacity_shape = st.fixed_dictionaries(
    {}, optional={"CapacityUnits": capacity, "ReadCapacityUnits": capacity, "WriteCapacityUnits": capacity})
index_capacity = st.dictionaries(tables, capacity_shape, max_size=2)
consumed = st.lists(st.fixed_dictionaries({"TableName": tables}, optional={
    "CapacityUnits": capacity, "ReadCapacityUnits": capacity, "WriteCapacityUnits": capacity, "Table": capacity_shape,
    "LocalSecondaryIndexes": index_capacity, "GlobalSecondaryIndexes": index_capacity}), max_size=3)
wire_items = items(wire_blobs)
batch_get_output = st.fixed_dictionaries({}, optional={
    "Responses": st.dictionaries(tables, st.lists(wire_items, max_size=3), max_size=3),
    "UnprocessedKeys": st.dictionaries(tables, keys_and_attributes(wire_blobs), max_size=2),
    "ConsumedCapacity": consumed})
transact_output = st.fixed_dictionaries({}, optional={
    "ConsumedCapacity": consumed,
    "ItemCollectionMetrics": st.dictionaries(tables, st.lists(st.fixed_dictionaries({
        "ItemCollectionKey": items(wire_blobs, 2), "SizeEstimateRangeGB": st.lists(capacity, min_size=2, max_size=2)}),
        max_size=2), max_size=2)})

request_ids = st.one_of(st.none(), st.from_regex(r"[A-Z0-9]{52}", fullmatch=True))
id_headers = st.sampled_from(["x-amzn-RequestId", "X-Amzn-Requestid", "x-amzn-requestid"])


@st.composite
def raw_response(draw: st.DrawFn, status: int, payload: Any, crc: str = "drawn") -> tuple[int, dict[str, str], bytes]:
    """A payload as DynamoDB (or an emulator) may frame it: ASCII-escaped or raw UTF-8, spaced or compact."""
    if isinstance(payload, bytes):
        body = payload
    else:
        body = json.dumps(payload, ensure_ascii=draw(st.booleans()),
                          separators=draw(st.sampled_from([(",", ":"), (", ", ": ")]))).encode()
    headers = {"Content-Type": "application/x-amz-json-1.0", "Content-Length": str(len(body))}
    request_id = draw(request_ids)
    if request_id is not None:
        headers[draw(id_headers)] = request_id
    if crc == "drawn":
        crc = draw(st.sampled_from(["match", "absent"]))
    if crc == "match":
        headers["x-amz-crc32"] = str(zlib.crc32(body))
    return status, headers, body


DDB = "com.amazonaws.dynamodb.v20120810#"
type_prefixes = st.sampled_from([DDB, "com.amazon.coral.service#", ""])
message_keys = st.sampled_from(["message", "Message"])
reasons = st.lists(st.fixed_dictionaries(
    {"Code": st.sampled_from(["None", "ConditionalCheckFailed", "TransactionConflict", "ThrottlingError",
                              "ItemCollectionSizeLimitExceeded", "ValidationError"])},
    optional={"Message": st.one_of(st.none(), texts), "Item": wire_items}), min_size=1, max_size=4)


@st.composite
def error_response(draw: st.DrawFn) -> tuple[int, dict[str, str], bytes]:
    kind = draw(st.sampled_from(["cancelled", "condition", "validation", "throughput", "internal", "other",
                                 "not-json"]))
    message = draw(texts)
    if kind == "not-json":
        status = draw(st.sampled_from([500, 502, 503, 504, 400]))
        body = draw(st.sampled_from([b"", b"\n", b"<html><body><b>Service Unavailable</b></body></html>",
                                     b"  <html>busy</html>", b"Service Unavailable", b"upstream connect error",
                                     "d\u00e9j\u00e0 vu".encode(), b"\xff\xfe not UTF-8"]))
        return draw(raw_response(status, body))
    payload: dict[str, Any] = {draw(message_keys): message}
    if kind == "cancelled":
        payload.update({"__type": draw(type_prefixes) + "TransactionCanceledException",
                        "CancellationReasons": draw(reasons)})
    elif kind == "condition":
        payload["__type"] = draw(type_prefixes) + "ConditionalCheckFailedException"
        if draw(st.booleans()):
            payload["Item"] = draw(wire_items)
    elif kind == "validation":
        payload["__type"] = "com.amazon.coral.validate#ValidationException"
    elif kind == "throughput":
        payload["__type"] = draw(type_prefixes) + "ProvisionedThroughputExceededException"
        if draw(st.booleans()):
            payload["ThrottlingReasons"] = [{"reason": "TableReadProvisionedThroughputExceeded",
                                             "resource": "arn:aws:dynamodb:ap-east-1:123456789012:table/t"}]
    elif kind == "internal":
        payload["__type"] = draw(type_prefixes) + "InternalServerError"
        return draw(raw_response(500, payload))
    else:
        payload["__type"] = draw(type_prefixes) + draw(st.sampled_from([
            "ResourceNotFoundException", "TransactionConflictException", "IdempotentParameterMismatchException",
            "TransactionInProgressException", "RequestLimitExceeded", "ThrottlingException", "SomethingNew"]))
    return draw(raw_response(400, payload))


OK_BODY: Step = (200, {"x-amzn-RequestId": "R1"}, b"{}")
MINIMAL: dict[str, dict[str, Any]] = {
    "BatchGetItem": {"RequestItems": {"tab": {"Keys": [{"k": {"S": "a"}}]}}},
    "TransactWriteItems": {"TransactItems": [{"Delete": {"TableName": "tab", "Key": {"k": {"S": "a"}}}}]},
}


# ---- requests -----------------------------------------------------------------------------------------

def wire_view(request: Any) -> tuple[Any, ...]:
    def text(value: str | bytes) -> str:
        return value.decode() if isinstance(value, bytes) else value

    headers = {name: text(request.headers[name]) for name in ("X-Amz-Target", "Content-Type")}
    return request.method, request.url, headers, json.loads(request.body)


def assert_tokens(theirs: dict[str, Any], ours: dict[str, Any], params: dict[str, Any]) -> None:
    """ClientRequestToken: the caller's one kept, else a fresh uuid4 on each side; then left out."""
    their_token, our_token = theirs.pop("ClientRequestToken"), ours.pop("ClientRequestToken")
    if "ClientRequestToken" in params:
        assert their_token == our_token == params["ClientRequestToken"]
    else:
        for token in (their_token, our_token):
            assert str(uuid.UUID(token)) == token and uuid.UUID(token).version == 4
        assert their_token != our_token


def test_requests_are_the_same_on_the_wire(pair: Callable[[], Pair]) -> None:
    wired = pair()

    @EXAMPLES
    @given(st.one_of(st.tuples(st.just("BatchGetItem"), batch_get_params),
                     st.tuples(st.just("TransactWriteItems"), transact_params)))
    def check(case: tuple[str, dict[str, Any]]) -> None:
        operation, params = case
        theirs, ours = wired.run(operation, params, OK_BODY)
        assert theirs.outcome[0] == ours.outcome[0] == "returned"
        (their_request,), (our_request,) = theirs.requests, ours.requests
        their_view, our_view = wire_view(their_request), wire_view(our_request)
        assert their_view[:3] == our_view[:3] == (
            "POST", ENDPOINT + "/", {"X-Amz-Target": "DynamoDB_20120810." + operation,
                                     "Content-Type": "application/x-amz-json-1.0"})
        if operation == "TransactWriteItems":
            assert_tokens(their_view[3], our_view[3], params)
        assert our_view[3] == their_view[3]

    check()


def test_binary_request_values_are_sent_as_botocore_sends_them(pair: Callable[[], Pair]) -> None:
    params = {"RequestItems": {"tab": {"Keys": [
        {"raw": {"B": b"\x00\xff"}, "buf": {"B": bytearray(b"ab")}, "text": {"B": "h\u00e9"}, "empty": {"B": b""},
         "set": {"BS": [b"\x01", bytearray(b"\x02"), "3"]}, "name": {"S": "B"}, "B": {"S": "BS"}}]}}}
    theirs, ours = pair().run("BatchGetItem", params, OK_BODY)
    assert wire_view(theirs.requests[0]) == wire_view(ours.requests[0])
    assert json.loads(ours.requests[0].body)["RequestItems"]["tab"]["Keys"][0] == {
        "raw": {"B": "AP8="}, "buf": {"B": "YWI="}, "text": {"B": "aMOp"}, "empty": {"B": ""},
        "set": {"BS": ["AQ==", "Ag==", "Mw=="]}, "name": {"S": "B"}, "B": {"S": "BS"}}


def test_text_binary_values_alone_are_encoded_too(pair: Callable[[], Pair]) -> None:
    """No bytes in the request, so json encodes it at once; the str under B must still be base64'd."""
    params = {"TransactItems": [{"Put": {"TableName": "tab", "Item": {"k": {"S": "a"}, "t": {"B": "\u05e9"}},
                                         "ExpressionAttributeValues": {":s": {"BS": ["x", ""]}}}}]}
    theirs, ours = pair().run("TransactWriteItems", params, OK_BODY)
    their_body, our_body = json.loads(theirs.requests[0].body), json.loads(ours.requests[0].body)
    assert_tokens(their_body, our_body, params)
    assert our_body == their_body
    assert our_body["TransactItems"][0]["Put"]["Item"]["t"] == {"B": "16k="}


def test_bytes_outside_binary_attributes_fail_as_in_botocore(pair: Callable[[], Pair]) -> None:
    params = {"RequestItems": {"tab": {"Keys": [{"k": {"S": b"not text"}}]}}}
    theirs, ours = pair().run("BatchGetItem", params, OK_BODY)
    assert theirs.outcome == ours.outcome
    assert theirs.outcome[1] is TypeError and theirs.requests == ours.requests == []


def test_parameter_build_event_fires_once_per_call_and_the_token_survives_retries(pair: Callable[[], Pair]) -> None:
    wired = pair()
    seen: list[tuple[str, dict[str, Any]]] = []
    wired.client.meta.events.register("before-parameter-build.dynamodb",
                                      lambda params, model, **_: seen.append((model.name, dict(params))))
    params = {"TransactItems": [{"Delete": {"TableName": "tab", "Key": {"k": {"S": "a"}}}}]}
    busy: Step = (503, {}, b"")
    theirs, ours = wired.run("TransactWriteItems", params, busy, busy, OK_BODY)
    assert theirs.outcome == ours.outcome
    assert len(theirs.requests) == len(ours.requests) == 3
    assert [name for name, _ in seen] == ["TransactWriteItems", "TransactWriteItems"]  # once per call, each side
    assert all("ClientRequestToken" not in params for _, params in seen)  # the event comes before the token
    for side in (theirs, ours):
        tokens = {json.loads(request.body)["ClientRequestToken"] for request in side.requests}
        assert len(tokens) == 1  # one token per call, the same on every retry

    seen.clear()
    wired.run("BatchGetItem", {"RequestItems": {"tab": {"Keys": [{"k": {"S": "a"}}]}}}, OK_BODY)
    assert [name for name, _ in seen] == ["BatchGetItem", "BatchGetItem"]


# ---- answers ------------------------------------------------------------------------------------------

def assert_same(theirs: Side, ours: Side) -> None:
    assert ours.outcome == theirs.outcome
    assert len(ours.requests) == len(theirs.requests)


def test_successful_responses_parse_alike(pair: Callable[[], Pair]) -> None:
    wired = pair()

    @EXAMPLES
    @given(st.one_of(st.tuples(st.just("BatchGetItem"), batch_get_output),
                     st.tuples(st.just("TransactWriteItems"), transact_output)), st.data())
    def check(case: tuple[str, dict[str, Any]], data: st.DataObject) -> None:
        operation, output = case
        theirs, ours = wired.run(operation, MINIMAL[operation], data.draw(raw_response(200, output)))
        assert theirs.outcome[0] == "returned"
        assert_same(theirs, ours)

    check()


def test_binary_response_values_come_back_as_bytes(pair: Callable[[], Pair]) -> None:
    output = {"Responses": {"tab": [{"b": {"B": "AAE="}, "bs": {"BS": ["AA==", ""]}, "B": {"S": "AAE="},
                                     "m": {"M": {"BS": {"L": [{"B": "/w=="}, {"SS": ["B"]}]}}}}]}}
    body = json.dumps(output).encode()
    theirs, ours = pair().run("BatchGetItem", {"RequestItems": {}}, (200, {}, body))
    assert_same(theirs, ours)
    assert ours.outcome[1]["Responses"]["tab"] == [{"b": {"B": b"\x00\x01"}, "bs": {"BS": [b"\x00", b""]},
                                                   "B": {"S": "AAE="},
                                                   "m": {"M": {"BS": {"L": [{"B": b"\xff"}, {"SS": ["B"]}]}}}}]


def test_errors_raise_alike(pair: Callable[[], Pair]) -> None:
    wired = pair()

    @EXAMPLES
    @given(st.sampled_from(["BatchGetItem", "TransactWriteItems"]), error_response())
    def check(operation: str, response: Step) -> None:
        theirs, ours = wired.run(operation, MINIMAL[operation], response)
        assert theirs.outcome[0] == "raised"
        assert_same(theirs, ours)

    check()


def test_a_cancelled_transaction_is_the_clients_modelled_exception(pair: Callable[[], Pair]) -> None:
    wired = pair()
    payload = {"__type": DDB + "TransactionCanceledException", "Message": "Transaction cancelled [None, Cond...]",
               "CancellationReasons": [{"Code": "None", "Message": None},
                                       {"Code": "ConditionalCheckFailed", "Message": "The conditional request failed",
                                        "Item": {"pk": {"S": "a"}, "sig": {"B": "AAE="}}}]}
    response: Step = (400, {"x-amzn-RequestId": "R2"}, json.dumps(payload).encode())
    theirs, ours = wired.run("TransactWriteItems", {"TransactItems": []}, response)
    assert_same(theirs, ours)
    assert ours.outcome[1] is wired.client.exceptions.TransactionCanceledException
    assert ours.outcome[2]["CancellationReasons"] == [
        {"Code": "None"}, {"Code": "ConditionalCheckFailed", "Message": "The conditional request failed",
                           "Item": {"pk": {"S": "a"}, "sig": {"B": b"\x00\x01"}}}]
    assert ours.outcome[2]["ResponseMetadata"] == {"RequestId": "R2", "HTTPStatusCode": 400, "RetryAttempts": 0,
                                                   "HTTPHeaders": {"x-amzn-requestid": "R2"}}


# ---- CRC32, retries, connections ----------------------------------------------------------------------

def crc_response(status: int, body: bytes, crc: int | None) -> Step:
    return status, ({} if crc is None else {"x-amz-crc32": str(crc)}), body


GOOD = json.dumps({"Responses": {"tab": [{"k": {"S": "a"}, "n": {"N": "100"}}]}}).encode()
CORRUPT = GOOD.replace(b"100", b"900")  # still valid JSON, wrong data
TRUNCATED = GOOD[:-7]
VALIDATION = b'{"__type":"com.amazon.coral.validate#ValidationException","message":"bad request"}'


@pytest.mark.parametrize(("script", "attempts"), [
    pytest.param([crc_response(200, GOOD, zlib.crc32(GOOD))], 1, id="match passes"),
    pytest.param([crc_response(200, GOOD, None)], 1, id="absent header passes"),
    pytest.param([crc_response(200, CORRUPT, zlib.crc32(GOOD)), crc_response(200, GOOD, zlib.crc32(GOOD))], 2,
                 id="one mismatch is retried, then the good answer"),
    pytest.param([crc_response(200, CORRUPT, zlib.crc32(GOOD))], 4,
                 id="persistent mismatch: retried to the last attempt, which is parsed as it came"),
    pytest.param([crc_response(200, TRUNCATED, zlib.crc32(GOOD))], 4,
                 id="persistent mismatch on a truncated body: an empty answer after the last attempt"),
    pytest.param([crc_response(200, b"\xff\xfe" + GOOD, zlib.crc32(GOOD))], 1,
                 id="a body that is not UTF-8 raises while parsing, before any retry"),
    pytest.param([crc_response(400, VALIDATION + b" ", zlib.crc32(VALIDATION))], 4,
                 id="a mismatched error is retried, then raised"),
    pytest.param([crc_response(400, VALIDATION, zlib.crc32(VALIDATION))], 1, id="an intact error is not retried"),
])
def test_crc32_is_checked_and_retried_as_botocore_does(pair: Callable[[], Pair], script: list[Step],
                                                        attempts: int) -> None:
    theirs, ours = pair().run("BatchGetItem", {"RequestItems": {"tab": {"Keys": [{"k": {"S": "a"}}]}}}, *script)
    assert_same(theirs, ours)
    assert len(ours.requests) == attempts


def test_crc32_outcomes_are_what_botocore_standard_mode_gives(pair: Callable[[], Pair]) -> None:
    """Pinned, because they surprise: in standard retry mode botocore never raises for a bad checksum."""
    wired = pair()
    params: dict[str, Any] = {"RequestItems": {}}
    _, corrupt = wired.run("BatchGetItem", params, crc_response(200, CORRUPT, zlib.crc32(GOOD)))
    assert corrupt.outcome[1]["Responses"]["tab"][0]["n"] == {"N": "900"}
    assert corrupt.outcome[1]["ResponseMetadata"]["MaxAttemptsReached"] is True
    _, truncated = wired.run("BatchGetItem", params, crc_response(200, TRUNCATED, zlib.crc32(GOOD)))
    assert truncated.outcome[1].keys() == {"ResponseMetadata"}
    _, garbled = wired.run("BatchGetItem", params, crc_response(200, b"\xff" + GOOD, 1))
    assert garbled.outcome[1] is UnicodeDecodeError


@pytest.mark.parametrize("failure", [EndpointConnectionError(endpoint_url=ENDPOINT),
                                     ReadTimeoutError(endpoint_url=ENDPOINT)], ids=["connection", "read timeout"])
def test_dropped_connections_are_retried_then_raised_alike(pair: Callable[[], Pair], failure: Exception) -> None:
    wired = pair()
    theirs, ours = wired.run("TransactWriteItems", {"TransactItems": []}, failure)
    assert_same(theirs, ours)
    assert theirs.outcome[1] is type(failure) and len(ours.requests) == 4
    theirs, ours = wired.run("TransactWriteItems", {"TransactItems": []}, failure, OK_BODY)
    assert_same(theirs, ours)
    assert ours.outcome[1]["ResponseMetadata"]["RetryAttempts"] == 1


def test_the_retry_quota_runs_out_alike(pair: Callable[[], Pair]) -> None:
    wired = pair()
    busy: Step = (503, {"x-amzn-RequestId": "R3"}, b"")
    attempts = []
    for _ in range(40):
        theirs, ours = wired.run("BatchGetItem", {"RequestItems": {}}, busy)
        assert_same(theirs, ours)
        attempts.append(len(ours.requests))
    assert attempts[0] == 4 and attempts[-1] == 1  # 500 of quota at 5 a retry: 33 calls retry in full
    assert ours.outcome[2]["ResponseMetadata"]["RetryQuotaReached"] is True
