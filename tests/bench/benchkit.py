"""Helpers shared by the benchmarks: counting AWS calls, writing figures, statistics."""

from __future__ import annotations

import contextlib
import json
import platform
import statistics
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.support.figures import report

ROOT = Path(__file__).resolve().parents[2]
OUT_DIR = ROOT / ".local" / "bench"
LAYER = ROOT / "layers" / "common" / "python"


def write_json(name: str, figures: dict[str, Any]) -> Path:
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    import os

    doc = {"bench": name, "at": datetime.now(UTC).isoformat(timespec="seconds"),
           "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
           **figures}
    path = OUT_DIR / f"{name}.json"
    path.write_text(json.dumps(doc, indent=2, default=str) + "\n")
    report(f"\n  figures written to {path.relative_to(ROOT)}")
    return path


def summary(values: list[float]) -> dict[str, float]:
    return {"n": len(values), "min": min(values), "max": max(values), "mean": statistics.fmean(values),
            "median": statistics.median(values)}


class CallCounter:
    """Counts every DynamoDB/AWS API call (any botocore client: the layer's, pynamodb's, boto3's, and the
    layer's lean money-path transport) and every HTTP request actually sent (so a retried call shows up
    as more than one round trip).

    Patches `BaseClient._make_api_call` and `dynamo_wire.Transport.call` (one per API operation) and
    botocore's `URLLib3Session.send` (one per HTTP request, including retries; both paths send through
    it) for the duration of the block.
    """

    def __init__(self, function: str | None = None) -> None:
        # With `function` (a logical id), only what that function's code sends counts: the API's authorizer
        # runs in the same process (its revocation read, once per cache period, is not the transfer's).
        self.function = function
        self.calls: list[tuple[str, str]] = []
        self.sends = 0
        self._lock = threading.Lock()

    def _counts(self) -> bool:
        from infra import iam

        return self.function is None or iam.current_function.get() == self.function

    @contextlib.contextmanager
    def active(self) -> Iterator[CallCounter]:
        from botocore.client import BaseClient
        from botocore.httpsession import URLLib3Session

        from bank_common.dynamo_wire import Transport

        orig_call, orig_wire, orig_send = BaseClient._make_api_call, Transport.call, URLLib3Session.send
        counter = self

        def make_api_call(client: Any, operation_name: str, api_params: Any) -> Any:
            with counter._lock:
                if counter._counts():
                    counter.calls.append((client.meta.service_model.service_name, operation_name))
            return orig_call(client, operation_name, api_params)

        def wire_call(transport: Any, operation: str, body: Any) -> Any:
            with counter._lock:
                if counter._counts():
                    counter.calls.append(("dynamodb", operation))
            return orig_wire(transport, operation, body)

        def send(session: Any, request: Any) -> Any:
            with counter._lock:
                if counter._counts():
                    counter.sends += 1
            return orig_send(session, request)

        BaseClient._make_api_call, Transport.call, URLLib3Session.send = make_api_call, wire_call, send  # type: ignore[method-assign]
        try:
            yield self
        finally:
            BaseClient._make_api_call, Transport.call, URLLib3Session.send = orig_call, orig_wire, orig_send  # type: ignore[method-assign]

    def take(self) -> tuple[list[str], int]:
        """The operations and HTTP sends since the last take, then reset."""
        with self._lock:
            ops, sends = [op for _, op in self.calls], self.sends
            self.calls, self.sends = [], 0
        return ops, sends


class Stopwatch:
    def __init__(self) -> None:
        self.started = time.perf_counter()

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.started
