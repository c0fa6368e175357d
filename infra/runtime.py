"""Running the template's functions on this machine the way Lambda runs them.

Each function gets its own environment, built from its stack's Globals and its own `Environment` with
every `!Ref` followed to a local table, queue or alias, and its handler (`app.app`, `app.notify`, ...) is
called with the event and a context object, nothing else. Two runtimes share that:

- `InProcessRuntime` (functional tests, benchmarks): every center's app in this process, one invocation at
  a time (an RLock; cross-center calls nest), the function's environment swapped in around the call so a
  function sees exactly what Lambda would give it.
- `WorkerPoolRuntime` (the local run): each function in its own worker processes, a pool per function
  that grows up to a concurrency cap, one invocation at a time per worker — as Lambda does with execution
  environments. That is also what makes concurrent requests safe: Chalice keeps the current request on
  the app object, which is right for Lambda and wrong for threads sharing one app.

Both raise `FunctionError` with Lambda's error payload when a handler raises or times out.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from infra import template
from infra.template import FunctionDef

ROOT = Path(__file__).resolve().parent.parent
LAYER = ROOT / "layers" / "common" / "python"
TABLE, QUEUE, BUCKET = "AWS::DynamoDB::Table", "AWS::SQS::Queue", "AWS::S3::Bucket"
DEFAULT_TIMEOUT_S = 10
MAX_CONCURRENCY = 12


INVOKED: set[str] = set()  # the functions this process has run (what the IAM evaluation calls "exercised")


def note_invoked(logical_id: str) -> None:
    """Remember that a function ran; with $BANK_IAM_RECORD set, also in `<that file>.invoked` for the tests."""
    if logical_id in INVOKED:
        return
    INVOKED.add(logical_id)
    sink = os.environ.get("BANK_IAM_RECORD")
    if sink:
        with open(sink + ".invoked", "a", encoding="utf-8") as out:
            out.write(logical_id + "\n")


class FunctionError(Exception):
    """What Lambda reports as `FunctionError: Unhandled`: the handler raised or timed out."""

    def __init__(self, payload: dict[str, Any]) -> None:
        self.payload = payload
        super().__init__(f"{payload.get('errorType')}: {payload.get('errorMessage')}")


@dataclass(frozen=True)
class Naming:
    """Physical names of a local deployment: `<prefix>-<LogicalId>` in one region and account."""

    prefix: str
    region: str
    account: str = "123456789012"  # moto's default account

    def name(self, logical_id: str) -> str:
        if logical_id in template.resources(BUCKET):
            return f"{self.prefix}-{logical_id}".lower()  # bucket names are lower case
        resource = template.resources(QUEUE).get(logical_id)
        fifo = bool(resource and (resource.get("Properties") or {}).get("FifoQueue"))
        return f"{self.prefix}-{logical_id}" + (".fifo" if fifo else "")

    def function_arn(self, logical_id: str, qualifier: str | None = None) -> str:
        arn = f"arn:aws:lambda:{self.region}:{self.account}:function:{self.name(logical_id)}"
        return f"{arn}:{qualifier}" if qualifier else arn

    def function_logical_id(self, name_or_arn: str) -> str:
        """`local-XFunction`, its ARN, or its alias ARN → `XFunction`."""
        name = name_or_arn.split(":function:", 1)[-1].split(":", 1)[0]
        if not name.startswith(self.prefix + "-"):
            raise KeyError(f"{name_or_arn} is not a function of this deployment")
        return name[len(self.prefix) + 1:]


def function_environment(fn: FunctionDef, naming: Naming, queue_urls: dict[str, str],
                         overrides: dict[str, str] | None = None) -> dict[str, str]:
    """The function's environment variables with every reference made local."""
    out = {"AWS_LAMBDA_FUNCTION_NAME": naming.name(fn.logical_id), "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST"}
    tables, queues, buckets = template.resources(TABLE), template.resources(QUEUE), template.resources(BUCKET)
    for name, value in fn.env.items():
        target = template.resolve(fn.stack, value, overrides)
        if isinstance(target, str):
            out[name] = target
        elif target.logical_id in tables or target.logical_id in buckets:
            out[name] = naming.name(target.logical_id)
        elif target.logical_id in queues:
            out[name] = queue_urls[target.logical_id]
        elif target.attribute == "Alias":  # another function's live alias
            out[name] = naming.function_arn(target.logical_id, "live")
        elif target.logical_id in template.resources("AWS::Scheduler::ScheduleGroup"):
            out[name] = naming.name(target.logical_id)
        elif target.logical_id in template.resources("AWS::Events::EventBus") and target.attribute is None:
            out[name] = naming.name(target.logical_id)  # the bus's name (PutEvents' EventBusName)
        elif target.logical_id in template.resources("AWS::IAM::Role") and target.attribute == "Arn":
            out[name] = f"arn:aws:iam::{naming.account}:role/{naming.name(target.logical_id)}"
        else:
            raise template.Unresolvable(f"{fn.logical_id}.{name}: no local value for {target}")
    return out


@dataclass
class LambdaContext:
    """The parts of Lambda's context object handlers use."""

    function_name: str
    invoked_function_arn: str
    timeout_s: float
    memory_limit_in_mb: int = 512
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    started: float = field(default_factory=time.monotonic)

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.started + self.timeout_s - time.monotonic()) * 1000))


def timeout_of(fn: FunctionDef) -> float:
    globals_fn = (template.stack(fn.stack).body.get("Globals") or {}).get("Function") or {}
    return float(fn.properties.get("Timeout", globals_fn.get("Timeout", DEFAULT_TIMEOUT_S)))


def error_payload(exc: BaseException) -> dict[str, Any]:
    return {"errorType": type(exc).__name__, "errorMessage": str(exc),
            "stackTrace": traceback.format_exception(exc)[-5:]}


def json_round_trip(value: Any) -> Any:
    """What crosses Lambda's boundary is JSON: the same here, so nothing else leaks across."""
    return json.loads(json.dumps(value))


# --- in one process (functional tests, benchmarks) -----------------------------------------------------

def environments(base_env: dict[str, str], naming: Naming, queue_urls: dict[str, str],
                 overrides: dict[str, str] | None, pinned: dict[str, str] | None) -> dict[str, dict[str, str]]:
    """Every function's environment: `base_env` (what Lambda's sandbox gives), its own variables, then
    `pinned` (what this machine insists on, e.g. LOG_LEVEL for a quiet test run)."""
    return {fn.logical_id: {**base_env, **function_environment(fn, naming, queue_urls, overrides), **(pinned or {})}
            for fn in template.functions()}


class InProcessRuntime:
    def __init__(self, base_env: dict[str, str], naming: Naming, queue_urls: dict[str, str],
                 overrides: dict[str, str] | None = None, pinned: dict[str, str] | None = None) -> None:
        from infra import centers

        self.naming = naming
        self.functions = {fn.logical_id: fn for fn in template.functions()}
        self.envs = environments(base_env, naming, queue_urls, overrides, pinned)
        self.managed_keys = {key for env in self.envs.values() for key in env}
        self.lock = threading.RLock()
        self.handlers = {lid: centers.handler(fn.center, fn.handler) for lid, fn in self.functions.items()}
        self._outer_env: dict[str, str | None] | None = None

        from bank_common import client

        client.set_local_invoker(self.invoke_arn)

    def invoke_arn(self, function_arn: str, event: Any) -> Any:
        """Another function's direct invoke (bank_common.client), recorded as the AWS call it would be."""
        from infra import iam

        iam.record("lambda", "Invoke", {"FunctionName": function_arn})
        return self.invoke(self.naming.function_logical_id(function_arn), event)

    def invoke(self, logical_id: str, event: Any) -> Any:
        from infra import iam

        fn = self.functions[logical_id]
        context = LambdaContext(self.naming.name(logical_id), self.naming.function_arn(logical_id, "live"),
                                timeout_of(fn))
        note_invoked(logical_id)
        with self.lock, self._environment(logical_id), iam.running(logical_id):
            try:
                return json_round_trip(self.handlers[logical_id](json_round_trip(event), context))
            except Exception as exc:
                raise FunctionError(error_payload(exc)) from exc

    @contextlib.contextmanager
    def _environment(self, logical_id: str) -> Iterator[None]:
        from bank_common import config

        saved = {key: os.environ.get(key) for key in self.managed_keys}
        for key in self.managed_keys:
            os.environ.pop(key, None)
        os.environ.update(self.envs[logical_id])
        config.reset_settings()
        try:
            yield
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            config.reset_settings()

    def close(self) -> None:
        from bank_common import client

        client.set_local_invoker(None)


# --- one process per execution environment (the local run) ---------------------------------------------

def _worker_main(conn: Connection, code_dir: str, handler: str, env: dict[str, str], logical_id: str) -> None:
    """A worker process: Lambda's `/var/task` (the function's code) and `/opt/python` (the layer) on the
    path, the function's environment, its handler called once per event received."""
    os.environ.clear()
    os.environ.update(env)
    recording = bool(env.get("BANK_IAM_RECORD"))
    if recording:
        from infra import iam  # before the path is narrowed to what Lambda would have
    sys.path[:] = [code_dir, str(LAYER)] + [p for p in sys.path if "site-packages" in p or "/lib/python" in p]
    if recording:  # every AWS call this function's code makes, into $BANK_IAM_RECORD (infra.iam)
        from bank_common import aws

        iam.install(aws.session())
        iam.current_function.set(logical_id)
    import importlib

    module_name, _, attr = handler.partition(".")
    target = getattr(importlib.import_module(module_name), attr)
    conn.send(("ready", None))
    while True:
        try:
            message = conn.recv()
        except EOFError:
            return
        event, context = message
        try:
            conn.send(("ok", json.dumps(target(event, context))))
        except Exception as exc:  # noqa: BLE001 - reported as Lambda's FunctionError payload
            conn.send(("error", error_payload(exc)))


@dataclass
class _Worker:
    process: Any
    conn: Connection


class WorkerPoolRuntime:
    def __init__(self, base_env: dict[str, str], naming: Naming, queue_urls: dict[str, str],
                 overrides: dict[str, str] | None = None, pinned: dict[str, str] | None = None,
                 max_concurrency: int = MAX_CONCURRENCY) -> None:
        self.naming = naming
        self.functions = {fn.logical_id: fn for fn in template.functions()}
        self.envs = environments(base_env, naming, queue_urls, overrides, pinned)
        self.max_concurrency = max_concurrency
        self._idle: dict[str, list[_Worker]] = {lid: [] for lid in self.functions}
        self._count: dict[str, int] = dict.fromkeys(self.functions, 0)
        self._cond = threading.Condition()
        self._all: list[_Worker] = []
        self._mp = multiprocessing.get_context("spawn")
        self._closed = False

    def invoke_arn(self, function_arn: str, event: Any) -> Any:
        return self.invoke(self.naming.function_logical_id(function_arn), event)

    def invoke(self, logical_id: str, event: Any) -> Any:
        fn = self.functions[logical_id]
        note_invoked(logical_id)
        worker = self._acquire(logical_id)
        timeout = timeout_of(fn)
        context = LambdaContext(self.naming.name(logical_id), self.naming.function_arn(logical_id, "live"), timeout)
        healthy = False
        try:
            worker.conn.send((json_round_trip(event), context))
            if not worker.conn.poll(timeout):
                raise FunctionError({"errorType": "Sandbox.Timedout",
                                     "errorMessage": f"Task timed out after {timeout:.2f} seconds"})
            kind, value = worker.conn.recv()
            healthy = True
        except (EOFError, OSError, BrokenPipeError) as exc:
            raise FunctionError({"errorType": "Runtime.ExitError", "errorMessage": str(exc)}) from exc
        finally:
            self._release(logical_id, worker, healthy)
        if kind == "error":
            raise FunctionError(value)
        return json.loads(value)

    def _acquire(self, logical_id: str) -> _Worker:
        with self._cond:
            while True:
                if self._closed:
                    raise FunctionError({"errorType": "Runtime.Stopped", "errorMessage": "the runtime stopped"})
                if self._idle[logical_id]:
                    return self._idle[logical_id].pop()
                if self._count[logical_id] < self.max_concurrency:
                    self._count[logical_id] += 1
                    break
                self._cond.wait()
        try:
            return self._spawn(logical_id)
        except BaseException:
            with self._cond:
                self._count[logical_id] -= 1
                self._cond.notify_all()
            raise

    def _spawn(self, logical_id: str) -> _Worker:
        fn = self.functions[logical_id]
        parent, child = self._mp.Pipe()
        process = self._mp.Process(target=_worker_main, name=f"lambda {logical_id}", daemon=True,
                                   args=(child, str(fn.code_dir), fn.handler, self.envs[logical_id], logical_id))
        process.start()
        child.close()
        if not parent.poll(60):
            process.kill()
            raise FunctionError({"errorType": "Runtime.InitTimeout", "errorMessage": f"{logical_id} did not start"})
        kind, value = parent.recv()
        worker = _Worker(process, parent)
        with self._cond:
            self._all.append(worker)
        return worker

    def _release(self, logical_id: str, worker: _Worker, healthy: bool) -> None:
        with self._cond:
            if healthy and not self._closed:
                self._idle[logical_id].append(worker)
            else:  # a timed-out or crashed environment is thrown away, as Lambda does
                worker.process.kill()
                self._count[logical_id] -= 1
            self._cond.notify_all()

    def warm(self, logical_ids: list[str]) -> None:
        """Start one environment of each function ahead of the first request (in parallel)."""
        def one(logical_id: str) -> None:
            worker = self._acquire(logical_id)
            self._release(logical_id, worker, True)

        threads = [threading.Thread(target=one, args=(lid,)) for lid in logical_ids]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            workers = list(self._all)
            self._cond.notify_all()
        for worker in workers:
            with contextlib.suppress(Exception):
                worker.conn.close()
            worker.process.kill()
        for worker in workers:
            worker.process.join(5)


Invoker = Callable[[str, Any], Any]
