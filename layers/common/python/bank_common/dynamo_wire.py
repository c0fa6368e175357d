"""The money path's DynamoDB transport: the JSON protocol sent as is, on botocore's signer and HTTP session.

botocore's client spends ~2 ms of CPU per call on this kind of machine before and after the network
(a serializer walking every AttributeValue against the service model, user-agent assembly, endpoint rules
with JMESPath context parameters, response shape parsing). The money path already builds wire-format
items, so its two calls (BatchGetItem, TransactWriteItems) go out as they are: a JSON body, SigV4 from
botocore, the cached client's endpoint and region, the session's credentials, botocore's URLLib3Session,
and the client's `before-send` hook first, so moto and botocore stubs still answer in tests.

It answers as botocore's client does; tests/unit/test_dynamo_wire_differential.py holds it to that:

- Requests: `before-parameter-build.<service>.<Operation>` is emitted once per call (not per retry) on
  the client's event emitter with a copy of the body, as the client does with its kwargs, so botocore's
  handlers apply (TransactWriteItems gets its idempotency `ClientRequestToken`, kept across retries) and
  test recorders see the call. B/BS take what botocore takes (and pynamodb's serialize() gives): bytes-like
  values, or str sent as its UTF-8 bytes, base64-encoded on the wire. Items are only walked (and copied)
  when json cannot encode them as they are or the JSON has a "B"/"BS" key.
- Responses: the parsed JSON plus botocore's ResponseMetadata (RequestId, HTTPStatusCode, HTTPHeaders,
  RetryAttempts, MaxAttemptsReached / RetryQuotaReached when set). B/BS come back as bytes; items are only
  walked when the body has a "B" or "BS" key. Unmodelled members are kept (botocore would drop them).
- Errors: parsed by botocore's own JSON parser (Error.Code/Message, the modelled fields of the error
  shape such as CancellationReasons with decoded items) and raised as the client's modelled exception
  class (e.g. `client.exceptions.TransactionCanceledException`, a ClientError).
- Retries: botocore's standard mode with the client's configured total attempts (4 for
  `retries={"max_attempts": 3}`: botocore counts that as retries), its StandardRetryConditions
  (throttling, transient codes, 5xx, modelled retryable errors, dropped connections, and a response whose
  `x-amz-crc32` header does not match its body), and its retry quota (this transport's own bucket).
  Like botocore in standard mode, a CRC mismatch is only a reason to retry: after the last attempt the
  response is parsed and returned (or raised) as it came. Backoff is full jitter, shorter than botocore's.

Not mirrored: botocore's before-call handlers (in Lambda, the X-Amzn-Trace-Id recursion-detection header),
account-ID endpoints (credentials that carry an account ID send the client to <account>.ddb.<region>; this
transport keeps the client's endpoint_url), and botocore's opt-in AWS_NEW_RETRIES_2026 behaviour.
See decision 0009.
"""

from __future__ import annotations

import base64
import json
import random
import socket
import time
from binascii import crc32
from functools import cache
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest, AWSResponse
from botocore.exceptions import ClientError, HTTPClientError, NoCredentialsError
from botocore.exceptions import ConnectionError as BotocoreConnectionError
from botocore.hooks import first_non_none_response
from botocore.httpsession import URLLib3Session
from botocore.parsers import create_parser
from botocore.retries.quota import RetryQuota
from botocore.retries.standard import RetryContext, RetryQuotaChecker, StandardRetryConditions
from botocore.utils import lowercase_dict

MAX_ATTEMPTS = 3  # botocore's standard-mode default, for a client whose config names no total
BACKOFF_BASE_S = 0.05
BACKOFF_CAP_S = 2.0
_TARGET_PREFIX = "DynamoDB_20120810."
_JSON = json.JSONEncoder(separators=(",", ":"))
_BLOB_TYPES = (str, bytes, bytearray, memoryview)


class Transport:
    """Calls one DynamoDB endpoint with already-serialized requests (one per process, like the client)."""

    def __init__(self, client: Any, credentials: Any, timeouts: tuple[float, float]) -> None:
        # The client only lends what botocore resolved once: endpoint, region, service model, event hooks,
        # retry config, and (on the error path) its modelled exception classes.
        self._client = client
        self._events = client.meta.events
        self._service_model = client.meta.service_model
        self._service_id = self._service_model.service_id.hyphenize()
        retries = getattr(getattr(client.meta, "config", None), "retries", None) or {}
        self._max_attempts = int(retries.get("total_max_attempts", MAX_ATTEMPTS))
        self._retry_conditions = StandardRetryConditions(max_attempts=self._max_attempts)
        self._retry_quota = RetryQuotaChecker(RetryQuota())
        self._parser = create_parser(self._service_model.resolved_protocol)
        self._url = client.meta.endpoint_url.rstrip("/") + "/"  # the JSON protocol posts to the root path
        self._region = client.meta.region_name
        self._credentials = credentials
        self._http = URLLib3Session(timeout=timeouts, max_pool_connections=32,
                                    socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)])

    def call(self, operation: str, body: dict[str, Any]) -> dict[str, Any]:
        """One DynamoDB operation; its parsed response, or the ClientError botocore's client would raise."""
        operation_model = self._service_model.operation_model(operation)
        params = dict(body)  # what the client's **kwargs are: handlers fill in this copy, not the caller's
        self._events.emit(f"before-parameter-build.{self._service_id}.{operation}",
                          params=params, model=operation_model, context={})
        data = _serialize(params)
        request_context: dict[str, Any] = {}  # the retry quota's bookkeeping, as botocore's request context
        attempt = 1
        while True:
            http: AWSResponse | None = None
            parsed: dict[str, Any] | None = None
            caught: Exception | None = None
            try:
                http = self._send(operation, data)
            except (BotocoreConnectionError, HTTPClientError) as exc:
                caught = exc
            else:
                parsed = self._parse(operation_model, http)
                if http.status_code < 300 and attempt < self._max_attempts and _crc32_matches(http):
                    break  # what StandardRetryConditions says of an intact 2xx, without building its context
            context = RetryContext(attempt, operation_model, parsed_response=parsed, http_response=http,
                                   caught_exception=caught, request_context=request_context)
            retry = self._retry_conditions.is_retryable(context) and self._retry_quota.acquire_retry_quota(context)
            if parsed is not None:
                parsed["ResponseMetadata"].update(context.get_retry_metadata())
            if not retry:
                break
            time.sleep(random.uniform(0, min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2**attempt)))
            attempt += 1
        if caught is not None:
            raise caught
        assert http is not None and parsed is not None  # one of the two is set
        parsed["ResponseMetadata"]["RetryAttempts"] = attempt - 1
        self._retry_quota.release_retry_quota(request_context, http)
        if http.status_code >= 300:
            code = parsed.get("Error", {}).get("Code")
            exceptions = getattr(self._client, "exceptions", None)
            raise (exceptions.from_code(code) if exceptions is not None else ClientError)(parsed, operation)
        return parsed

    def _send(self, operation: str, data: bytes) -> AWSResponse:
        request = AWSRequest("POST", self._url, data=data, headers={
            "Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": _TARGET_PREFIX + operation})
        if self._credentials is None:
            raise NoCredentialsError()
        SigV4Auth(self._credentials.get_frozen_credentials(), "dynamodb", self._region).add_auth(request)
        prepared = request.prepare()
        # Every handler sees the request and the first answer wins, as in botocore's endpoint.
        responses = self._events.emit(f"before-send.{self._service_id}.{operation}", request=prepared)
        stubbed = first_non_none_response(responses)
        return stubbed if stubbed is not None else self._http.send(prepared)

    def _parse(self, operation_model: Any, http: AWSResponse) -> dict[str, Any]:
        if http.status_code >= 301:  # botocore's parser's threshold (the client raises from 300)
            return _parse_error(self._parser, self._service_model, operation_model, http)
        content = http.content
        parsed: dict[str, Any] = {}
        if content:
            text = content.decode("utf-8")  # as botocore's parser: a body that is not UTF-8 raises here
            try:
                parsed = json.loads(text)
            except ValueError:
                parsed = {}  # botocore reads it as {"message": <text>} and keeps none of it for the output shape
            if '"B"' in text or '"BS"' in text:
                _decode_binary(parsed)
        headers = http.headers
        metadata = {"HTTPStatusCode": http.status_code, "HTTPHeaders": lowercase_dict(headers)}
        if "x-amzn-requestid" in headers:
            metadata["RequestId"] = headers["x-amzn-requestid"]
        parsed["ResponseMetadata"] = metadata
        return parsed


def client_error(operation: str, response: AWSResponse, service_model: Any = None) -> ClientError:
    """The ClientError botocore would raise for a DynamoDB JSON error response (one attempt, no retries)."""
    model = service_model if service_model is not None else _dynamodb_model()
    parsed = _parse_error(create_parser(model.resolved_protocol), model, model.operation_model(operation), response)
    return ClientError(parsed, operation)


@cache
def _dynamodb_model() -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model("dynamodb")


def _parse_error(parser: Any, service_model: Any, operation_model: Any, http: AWSResponse) -> dict[str, Any]:
    """What botocore's endpoint makes of an error response: its parser's Error and ResponseMetadata, then
    the members of the error code's modelled shape (Message, CancellationReasons, Item...)."""
    response = {"headers": http.headers, "status_code": http.status_code, "body": http.content,
                "context": {"operation_name": operation_model.name}}
    parsed: dict[str, Any] = parser.parse(response, operation_model.output_shape)
    code = parsed.get("Error", {}).get("Code")
    if code is not None:
        shape = service_model.shape_for_error_code(code)
        if shape is not None:
            parsed.update(parser.parse(response, shape))
    return parsed


def _crc32_matches(http: AWSResponse) -> bool:
    """botocore's DynamoDB checksum check (botocore.retries.special.RetryDDBChecksumError): no header passes."""
    expected = http.headers.get("x-amz-crc32")
    return expected is None or crc32(http.content) & 0xFFFFFFFF == int(expected)


def _serialize(params: dict[str, Any]) -> bytes:
    # The JSON as is, unless a B/BS value needs base64: bytes make json raise, a str value shows as "B"/"BS"
    # in the output (a false positive such as {"S": "B"} only costs the walk).
    try:
        text = _JSON.encode(params)
    except TypeError:
        text = _JSON.encode(_encode_binary(params))  # still raises for bytes outside B/BS, as botocore's json
    else:
        if '"B"' in text or '"BS"' in text:
            text = _JSON.encode(_encode_binary(params))
    return text.encode()


def _b64(value: Any) -> str:
    """botocore's blob serializer: str is sent as its UTF-8 bytes, every value base64-encoded."""
    if isinstance(value, str):
        value = value.encode("utf-8")
    return base64.b64encode(value).decode("utf-8")


def _encode_binary(node: Any) -> Any:
    """A copy of a request with B/BS values base64-encoded (the caller's items are left as they are).

    In these requests a "B" key with a blob value, or a "BS" key with a list, can only be an
    AttributeValue: table names are 3+ characters, expression attribute names start with '#', values ':'."""
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key == "B" and isinstance(value, _BLOB_TYPES):
                out[key] = _b64(value)
            elif key == "BS" and isinstance(value, list):
                out[key] = [_b64(member) for member in value]
            else:
                out[key] = _encode_binary(value)
        return out
    if isinstance(node, list):
        return [_encode_binary(member) for member in node]
    return node


def _decode_binary(node: Any) -> None:
    """Decode B/BS values in place, as botocore's parser does (base64.b64decode, not validating).

    Same reasoning as `_encode_binary`: in these responses only an AttributeValue has a "B" key with a
    str value or a "BS" key with a list (table and index names are 3+ characters)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "B" and isinstance(value, str):
                node[key] = base64.b64decode(value)
            elif key == "BS" and isinstance(value, list):
                node[key] = [base64.b64decode(member) for member in value]
            elif isinstance(value, (dict, list)):
                _decode_binary(value)
    elif isinstance(node, list):
        for member in node:
            if isinstance(member, (dict, list)):
                _decode_binary(member)
