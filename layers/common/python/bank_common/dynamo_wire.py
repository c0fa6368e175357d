"""The money path's DynamoDB transport: the JSON protocol sent as is, on botocore's signer and HTTP session.

botocore's client spends ~2 ms of CPU per call on this kind of machine before and after the network
(a serializer walking every AttributeValue against the service model, user-agent assembly, endpoint rules
with JMESPath context parameters, response shape parsing). The money path already builds wire-format
items, so its two calls (BatchGetItem, TransactWriteItems) go out as they are: a JSON body, SigV4 from
botocore, the cached client's endpoint and region, the session's credentials, botocore's URLLib3Session,
and the client's `before-send` hook first, so moto and botocore stubs still answer in tests.

Errors come back as botocore's ClientError with the response shape botocore gives (Error.Code,
Error.Message and the modelled fields such as CancellationReasons at the top level). Whether to retry is
botocore's own standard-mode decision (StandardRetryConditions: throttling, transient codes, 5xx,
modelled retryable errors, dropped connections), 3 attempts with full-jitter exponential backoff.
Items come back in wire format, exactly as botocore parses them except binary (B/BS stay base64 text):
the money tables have no binary attributes. See decision 0009.
"""

from __future__ import annotations

import json
import random
import socket
import time
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest, AWSResponse
from botocore.exceptions import ClientError, HTTPClientError, NoCredentialsError
from botocore.exceptions import ConnectionError as BotocoreConnectionError
from botocore.httpsession import URLLib3Session
from botocore.retries.standard import RetryContext, StandardRetryConditions

MAX_ATTEMPTS = 3
BACKOFF_BASE_S = 0.05
BACKOFF_CAP_S = 2.0
_TARGET_PREFIX = "DynamoDB_20120810."


class Transport:
    """Calls one DynamoDB endpoint with already-serialized requests (one per process, like the client)."""

    def __init__(self, client: Any, credentials: Any, timeouts: tuple[float, float]) -> None:
        # The client only lends what botocore resolved once: endpoint, region, service model, event hooks.
        self._events = client.meta.events
        self._service_model = client.meta.service_model
        self._retry_conditions = StandardRetryConditions(max_attempts=MAX_ATTEMPTS)
        self._url = client.meta.endpoint_url.rstrip("/") + "/"  # the JSON protocol posts to the root path
        self._region = client.meta.region_name
        self._credentials = credentials
        self._http = URLLib3Session(timeout=timeouts, max_pool_connections=32,
                                    socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)])

    def call(self, operation: str, body: dict[str, Any]) -> dict[str, Any]:
        """One DynamoDB operation; its parsed JSON response, or ClientError as botocore would raise it."""
        data = json.dumps(body, separators=(",", ":")).encode()
        operation_model = self._service_model.operation_model(operation)
        attempt = 1
        while True:
            response: AWSResponse | None = None
            failure: Exception
            try:
                response = self._send(operation, data)
            except (BotocoreConnectionError, HTTPClientError) as exc:
                failure = exc
            else:
                if response.status_code == 200:
                    parsed: dict[str, Any] = json.loads(response.content) if response.content else {}
                    return parsed
                failure = client_error(operation, response)
            context = RetryContext(attempt, operation_model, http_response=response,
                                   parsed_response=failure.response if isinstance(failure, ClientError) else None,
                                   caught_exception=None if isinstance(failure, ClientError) else failure)
            if not self._retry_conditions.is_retryable(context):
                raise failure
            time.sleep(random.uniform(0, min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2**attempt)))
            attempt += 1

    def _send(self, operation: str, data: bytes) -> AWSResponse:
        request = AWSRequest("POST", self._url, data=data, headers={
            "Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": _TARGET_PREFIX + operation})
        if self._credentials is None:
            raise NoCredentialsError()
        SigV4Auth(self._credentials.get_frozen_credentials(), "dynamodb", self._region).add_auth(request)
        prepared = request.prepare()
        _, stubbed = self._events.emit_until_response(f"before-send.dynamodb.{operation}", request=prepared)
        return stubbed if stubbed is not None else self._http.send(prepared)


def client_error(operation: str, response: AWSResponse) -> ClientError:
    """The ClientError botocore would raise for a DynamoDB JSON error response."""
    try:
        body = json.loads(response.content or b"{}")
    except ValueError:
        body = {}
    code = str(body.pop("__type", "") or response.status_code).rsplit("#", 1)[-1]
    message = body.pop("message", None) or body.pop("Message", None) or ""
    error_response: dict[str, Any] = {
        **body,
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": response.status_code,
                             "RequestId": response.headers.get("x-amzn-RequestId", "")},
    }
    return ClientError(error_response, operation)

