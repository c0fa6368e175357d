"""Recording the AWS calls each Lambda function's code makes, attributed to the function by a ContextVar.

`install(session)` hooks botocore's `before-parameter-build` event (every service, every operation) on
a session *before its clients are created* (a client copies the session's handlers when it is built;
for a client that already exists, pass the client). The layer's lean DynamoDB transport emits the same
event on its client's emitter with the wire-format request, so its calls are seen too. Calls served in
process instead of by AWS (a cross-center Lambda invoke routed to a local handler) are added with
`record(...)`. Whoever runs a function's code sets the function first: `with running("LogicalId"): ...`.

Calls made while no function is current (test setup, the local run's provisioning) are not recorded but
counted by "service.Operation" in `Recorder.unattributed`, so a test can assert there were none where
there should be none. A thread started inside a function does not inherit the ContextVar: run its work
with `contextvars.copy_context().run(...)`, or its calls count as unattributed.

With the environment variable `BANK_IAM_RECORD` (or an explicit sink path) every record, attributed or
not, is also appended as one JSON line to that file, so a separate process (the local run) can record and
the test process can `load()` the lines back.
"""

from __future__ import annotations

import base64
import datetime
import decimal
import json
import os
import threading
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RECORD_ENV = "BANK_IAM_RECORD"
_EVENT = "before-parameter-build"


@dataclass(frozen=True)
class AwsCall:
    """One API call as the function's code made it: botocore's service id (`dynamodb`, `sqs`, `sns`,
    `ssm`, `lambda`, `cloudwatch`, `scheduler`, `s3`), the operation name and a JSON-safe copy of its
    parameters (API shape from a botocore client, wire shape from the DynamoDB transport)."""

    function: str
    service: str
    operation: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"function": self.function, "service": self.service, "operation": self.operation,
                "params": self.params}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AwsCall:
        return cls(str(data["function"]), str(data["service"]), str(data["operation"]), dict(data.get("params") or {}))


current_function: ContextVar[str | None] = ContextVar("infra_iam_current_function", default=None)


@contextmanager
def running(function: str) -> Iterator[None]:
    """Attribute the AWS calls made inside the block to `function` (its logical id in the template)."""
    token = current_function.set(function)
    try:
        yield
    finally:
        current_function.reset(token)


def snapshot(value: Any) -> Any:
    """A deep, JSON-safe copy of call parameters: bytes and streams become short markers (the checks only
    need names, keys and ARNs), datetimes ISO text, Decimals text."""
    if isinstance(value, Mapping):
        return {str(k): snapshot(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [snapshot(v) for v in value]
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        data = bytes(value)
        return {"__bytes__": base64.b64encode(data[:64]).decode(), "length": len(data)}
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, set | frozenset):
        return sorted((snapshot(v) for v in value), key=repr)
    return f"<{type(value).__name__}>"


@dataclass
class Recording:
    """What was recorded: attributed calls in order, unattributed calls counted by "service.Operation"."""

    calls: list[AwsCall] = field(default_factory=list)
    unattributed: Counter[str] = field(default_factory=Counter)

    def extend(self, other: Recording) -> None:
        self.calls.extend(other.calls)
        self.unattributed.update(other.unattributed)

    def functions(self) -> set[str]:
        return {c.function for c in self.calls}


class Recorder(Recording):
    """Collects calls in memory and, when a sink is set, appends each one to a JSON-lines file."""

    def __init__(self, sink: str | Path | None = None, *, sink_env: str | None = RECORD_ENV) -> None:
        super().__init__()
        self._sink = Path(sink) if sink is not None else None
        self._sink_env = sink_env
        self._lock = threading.Lock()

    def sink(self) -> Path | None:
        if self._sink is not None:
            return self._sink
        named = os.environ.get(self._sink_env) if self._sink_env else None
        return Path(named) if named else None

    def record(self, service: str, operation: str, params: Mapping[str, Any] | None = None, *,
               function: str | None = None) -> AwsCall | None:
        """Record one call for `function` (default: the current function); None if unattributed."""
        function = function if function is not None else current_function.get()
        copied = snapshot(params or {})
        call = AwsCall(function, service, operation, copied) if function is not None else None
        with self._lock:
            if call is None:
                self.unattributed[f"{service}.{operation}"] += 1
            else:
                self.calls.append(call)
            sink = self.sink()
            if sink is not None:
                line = {"function": function, "service": service, "operation": operation, "params": copied}
                with sink.open("a", encoding="utf-8") as out:
                    out.write(json.dumps(line, separators=(",", ":"), default=str) + "\n")
        return call

    def clear(self) -> None:
        with self._lock:
            self.calls.clear()
            self.unattributed.clear()

    def on_parameter_build(self, event_name: str = "", params: Any = None, **_: Any) -> None:
        """botocore handler: `before-parameter-build.<service id>.<Operation>`; never changes the call."""
        parts = event_name.split(".")
        if len(parts) < 3:
            return
        self.record(parts[1], parts[2], params if isinstance(params, Mapping) else {})

    def install(self, target: Any) -> None:
        """Hook a botocore session (before it creates clients) or an existing client. Idempotent."""
        self._emitter(target).register(_EVENT, self.on_parameter_build, unique_id=self._unique_id())

    def uninstall(self, target: Any) -> None:
        self._emitter(target).unregister(_EVENT, self.on_parameter_build, unique_id=self._unique_id())

    def _unique_id(self) -> str:
        return f"infra.iam.record:{id(self)}"

    @staticmethod
    def _emitter(target: Any) -> Any:
        meta = getattr(target, "meta", None)
        if meta is not None and hasattr(meta, "events"):
            return meta.events  # a client
        return target  # a session: Session.register / unregister


RECORDER = Recorder()
"""The process-wide recorder that `install`, `record` and `recorded` use by default."""


def install(target: Any, recorder: Recorder = RECORDER) -> Recorder:
    """Record every call made through `target` (a botocore session, or a client) into `recorder`."""
    recorder.install(target)
    return recorder


def record(service: str, operation: str, params: Mapping[str, Any] | None = None, *,
           function: str | None = None, recorder: Recorder = RECORDER) -> AwsCall | None:
    """Record a call that was simulated in process (e.g. a Lambda invoke served by a local handler)."""
    return recorder.record(service, operation, params, function=function)


def load(paths: str | Path | Iterable[str | Path]) -> Recording:
    """Read JSON-lines files written through a sink (missing files are empty recordings)."""
    recording = Recording()
    for path in [paths] if isinstance(paths, str | Path) else paths:
        path = Path(path)
        if not path.exists():
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except ValueError as exc:
                raise ValueError(f"{path}:{number}: not a JSON record ({exc})") from exc
            if data.get("function") is None:
                recording.unattributed[f"{data['service']}.{data['operation']}"] += 1
            else:
                recording.calls.append(AwsCall.from_json(data))
    return recording
