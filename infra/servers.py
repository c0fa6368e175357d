"""The local run's two HTTP servers (stdlib, one thread per connection):

- the API: every request, whatever its method, goes to the gateway emulation (infra.gateway), which
  answers exactly what API Gateway would, JSON errors included (an unknown method is no route) - except
  GET /_local/sms/{mobile}, the local-only SMS sink where a developer reads the codes the fake gateway kept,
  and GET /_local/api-keys, the channels' API keys this run made (API Gateway makes them in AWS);
- the Lambda Invoke API (`POST /2015-03-31/functions/<name>/invocations`), which botocore's Lambda client
  reaches through AWS_ENDPOINT_URL_LAMBDA, so cross-center calls go over the same client code as in AWS.
"""

from __future__ import annotations

import contextlib
import json
import threading
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from infra.gateway import Gateway
from infra.runtime import FunctionError

MAX_HEADER_BYTES = 64 * 1024


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    quiet = True
    serve: Callable[[_Handler, bytes], tuple[int, list[tuple[str, str]], bytes]]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("do_"):  # every method, known or not, is answered by `serve`
            return self._dispatch
        raise AttributeError(name)

    def _dispatch(self) -> None:
        length = self.headers.get("Content-Length")
        try:
            size = int(length) if length else 0
        except ValueError:
            size = -1
        if size < 0:
            self._reply(400, [("Content-Type", "application/json")],
                        _error_body("BAD_REQUEST", "Content-Length is not a number."))
            return
        body = self.rfile.read(size) if size else b""
        status, headers, payload = type(self).serve(self, body)
        self._reply(status, headers, payload)

    def _reply(self, status: int, headers: list[tuple[str, str]], payload: bytes) -> None:
        self.send_response(status)
        for key, value in headers:
            if key.lower() not in {"content-length", "connection", "transfer-encoding"}:
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Malformed HTTP (bad request line, huge headers): still the platform's JSON error shape, with a
        status line and headers even when the request line was too broken to say its HTTP version."""
        self.close_connection = True
        if self.request_version == "HTTP/0.9":
            self.request_version = "HTTP/1.1"
        with contextlib.suppress(Exception):
            self._reply(code, [("Content-Type", "application/json"), ("Connection", "close")],
                        _error_body("BAD_REQUEST", message or "Malformed HTTP request."))

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        if not self.quiet:
            super().log_message(format, *args)


def _error_body(code: str, message: str) -> bytes:
    return json.dumps({"error": {"code": code, "message": message, "request_id": uuid.uuid4().hex}}).encode()


SMS_SINK_PATH = "/_local/sms/"


def sms_sink_answer(sink: Path | None, path: str) -> tuple[int, list[tuple[str, str]], bytes]:
    """GET /_local/sms/{mobile}: what the fake SMS gateway "sent" to that number, newest first (local run
    only: this path is answered by the local server before the gateway and is in no template)."""
    mobile = unquote(urlsplit(path).path[len(SMS_SINK_PATH):])
    messages = []
    if sink is not None and sink.is_file():
        for line in sink.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if record.get("mobile") == mobile:
                messages.append({"text": record.get("text"), "template": record.get("template"),
                                 "at": record.get("at")})
    body = json.dumps({"mobile": mobile, "messages": messages[::-1]}, ensure_ascii=False).encode()
    return 200, [("Content-Type", "application/json; charset=utf-8")], body


API_KEYS_PATH = "/_local/api-keys"


def api_handler(gateway: Gateway, lock: Any, quiet: bool, sms_sink: Path | None = None) -> type[_Handler]:
    def serve(handler: _Handler, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        if handler.command == "GET" and handler.path.startswith(SMS_SINK_PATH):
            return sms_sink_answer(sms_sink, handler.path)
        if handler.command == "GET" and handler.path == API_KEYS_PATH:  # local only: the channels' API keys
            return 200, [("Content-Type", "application/json")], json.dumps(gateway.api_keys).encode()
        with lock:  # a no-op on DynamoDB Local; one request at a time on the moto fallback
            response = gateway.handle(handler.command, handler.path, list(handler.headers.items()), body,
                                      handler.client_address[0])
        return response.status, response.headers, response.body

    return type("ApiHandler", (_Handler,), {"serve": staticmethod(serve), "quiet": quiet})


def lambda_handler(invoke: Callable[[str, Any], Any]) -> type[_Handler]:
    # No lock here: an invoke comes from a function whose own request already holds it (moto fallback).
    def serve(handler: _Handler, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        url = urlsplit(handler.path)
        parts = url.path.split("/")
        if handler.command != "POST" or len(parts) != 5 or parts[1:3] != ["2015-03-31", "functions"] \
                or parts[4] != "invocations":
            return 404, [("Content-Type", "application/json")], json.dumps(
                {"Type": "User", "message": f"unsupported: {handler.command} {url.path}"}).encode()
        name = unquote(parts[3])
        qualifier = (parse_qs(url.query).get("Qualifier") or [""])[0]
        if qualifier and name.count(":") < 7:
            name = f"{name}:{qualifier}"
        try:
            event = json.loads(body or b"{}")
        except ValueError:
            headers = [("Content-Type", "application/json"), ("x-amzn-ErrorType", "InvalidRequestContentException")]
            message = {"Type": "User", "message": "Could not parse request body into json"}
            return 400, headers, json.dumps(message).encode()
        try:
            result = invoke(name, event)
        except KeyError as exc:
            return 404, [("Content-Type", "application/json"), ("x-amzn-ErrorType", "ResourceNotFoundException")], \
                json.dumps({"Type": "User", "message": str(exc)}).encode()
        except FunctionError as exc:
            return 200, [("Content-Type", "application/json"), ("X-Amz-Function-Error", "Unhandled"),
                         ("X-Amz-Executed-Version", "1")], json.dumps(exc.payload).encode()
        return 200, [("Content-Type", "application/json"), ("X-Amz-Executed-Version", "1")], \
            json.dumps(result).encode()

    return type("LambdaApiHandler", (_Handler,), {"serve": staticmethod(serve)})


class _Server(HTTPServer):
    request_queue_size = 256  # a crowd connects at once (the stdlib's default backlog is 5)


class _ThreadingServer(ThreadingHTTPServer):
    request_queue_size = 256
    daemon_threads = True


@contextlib.contextmanager
def serving(handler: type[_Handler], port: int, *, threaded: bool = True) -> Iterator[HTTPServer]:
    server = (_ThreadingServer if threaded else _Server)(("127.0.0.1", port), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True,
                              name=f"http:{port}")
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
