"""Observability: one structured JSON logger with PII masking, EMF metrics, X-Ray when it can be used.

The unified log (ELK-style) is JSON lines with request id, center, operation and a masked customer.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

from bank_common import config, pii


class MaskingFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON formatter with every field passed through the PII scrubber."""

    def serialize(self, log: Any) -> str:
        return super().serialize(pii.scrub(log))


@cache
def logger() -> Logger:
    return Logger(
        service=os.environ.get("CENTER", "bank"),
        level=os.environ.get("LOG_LEVEL", "INFO"),
        logger_formatter=MaskingFormatter(),
    )


def log() -> logging.Logger:
    """The underlying stdlib logger (for code that only needs .info/.warning/.exception)."""
    return logger()  # type: ignore[return-value]


def emit_metric(name: str, value: float = 1, unit: str = "Count", **dimensions: str) -> None:
    """Write one CloudWatch EMF record to stdout (Lambda ships it to CloudWatch Metrics).

    Hand-built rather than Powertools Metrics because importing that costs ~30 ms of every cold start
    for a dozen lines of JSON; the format is AWS's documented EMF specification.
    """
    if config.flag("METRICS_DISABLED"):
        return
    import json
    import time

    dims = dimensions or {"center": os.environ.get("CENTER", "bank")}
    record = {
        "_aws": {
            "Timestamp": int(time.time() * 1000),
            "CloudWatchMetrics": [{
                "Namespace": os.environ.get("METRICS_NAMESPACE", "BankMiddlePlatform"),
                "Dimensions": [sorted(dims)],
                "Metrics": [{"Name": name, "Unit": unit}],
            }],
        },
        name: value,
        **dims,
    }
    print(json.dumps(record, separators=(",", ":")), flush=True)  # noqa: T201 - EMF goes to stdout


def function_name() -> str:
    """This Lambda function's name (what the canary alarms name it by); "local" outside Lambda."""
    return os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "local")


def emit_request(status: int) -> None:
    """Per-function request count by status class; a 5xx is also a Failure, which the canary alarms on."""
    emit_metric("Requests", function=function_name(), status=f"{status // 100}xx")
    if status >= 500:
        emit_failure()


def emit_failure() -> None:
    """Something this function's own code failed at (a 5xx answer, a queue message it could not process):
    `Failures` by function, one of the three signals of its canary alarm (the template's CanaryAlarm)."""
    emit_metric("Failures", function=function_name())


_tracing_ready = False


def init_tracing() -> bool:
    """Patch botocore for X-Ray where a daemon listens (Lambda with active tracing).

    In Lambda (LAMBDA_TASK_ROOT set) the SDK uses its Lambda context and local sampler and costs ~30 ms;
    elsewhere its import builds X-Ray API clients (~110 ms) and there is no daemon to send segments to,
    so the local run, tests and benchmarks skip it entirely.
    """
    global _tracing_ready
    if _tracing_ready or not config.settings().tracing_enabled:
        return _tracing_ready
    from aws_xray_sdk.core import patch

    patch(("botocore",))
    _tracing_ready = True
    return True


def annotate(**values: str) -> None:
    if not _tracing_ready:
        return
    from aws_xray_sdk.core import xray_recorder

    entity = xray_recorder.current_subsegment() or xray_recorder.current_segment()
    for key, value in values.items():
        entity.put_annotation(key, value)


@contextlib.contextmanager
def aws_call(service: str, operation: str) -> Iterator[None]:
    """An X-Ray subsegment for an AWS call made outside botocore's patched client (dynamo_wire)."""
    if not _tracing_ready:
        yield
        return
    from aws_xray_sdk.core import xray_recorder

    with xray_recorder.in_subsegment(service, namespace="aws") as subsegment:
        if subsegment is not None:
            subsegment.set_aws({"operation": operation})
        yield
