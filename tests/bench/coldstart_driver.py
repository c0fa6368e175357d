"""Child process of the cold-start bench: import a function's handler and serve one event.

argv: <handler attr> <event file> [count]. Prints one line `BENCH-RESULT <json>` with perf_counter
deltas (ms) since this script started: import of `app`, first invoke, total. With `count`, every AWS
call is recorded (service, operation, params; botocore clients and the layer's transport) for the baseline to replay; that run is not timed.
"""
import time

T0 = time.perf_counter()
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

attr, event_file = sys.argv[1], sys.argv[2]
counting = len(sys.argv) > 3 and sys.argv[3] == "count"
calls = []
if counting:
    from botocore.client import BaseClient

    _orig = BaseClient._make_api_call

    def _record(client, operation, params):
        # bytes (a Lambda Payload) are kept as text so the baseline sends the same bytes
        kept = {k: v.decode() if isinstance(v, bytes) else v for k, v in params.items()}
        calls.append([client.meta.service_model.service_name, operation, kept])
        return _orig(client, operation, params)

    BaseClient._make_api_call = _record

    from bank_common.dynamo_wire import Transport  # the layer's money-path transport, bypassing BaseClient

    _orig_wire = Transport.call

    def _record_wire(transport, operation, body):
        calls.append(["dynamodb", operation, body])
        return _orig_wire(transport, operation, body)

    Transport.call = _record_wire

with open(event_file) as fh:
    event = json.load(fh)
T1 = time.perf_counter()
import app  # noqa: E402

handler = getattr(app, attr)
T2 = time.perf_counter()


class Context:
    function_name = os.environ.get("BENCH_FUNCTION", "bench")
    function_version = "$LATEST"
    invoked_function_arn = f"arn:aws:lambda:ap-east-1:123456789012:function:{function_name}"
    memory_limit_in_mb = 512
    aws_request_id = "bench-request"
    log_group_name = log_stream_name = "bench"

    @staticmethod
    def get_remaining_time_in_millis():
        return 10_000


error = None
try:
    response = handler(event, Context())
except Exception as exc:  # noqa: BLE001 - an authorizer denies by raising; report it and keep timing honest
    response, error = None, f"{type(exc).__name__}: {exc}"
T3 = time.perf_counter()
status = response.get("statusCode") if isinstance(response, dict) else None
ms = lambda a, b: (b - a) * 1000  # noqa: E731
print("BENCH-RESULT " + json.dumps({
    "import_ms": ms(T1, T2), "invoke_ms": ms(T2, T3), "total_ms": ms(T0, T3), "status": status, "error": error,
    "response_head": json.dumps(response, default=str)[:300], "calls": calls}, default=str), flush=True)
