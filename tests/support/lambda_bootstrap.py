"""Run one handler the way Lambda's Python runtime does, from built artifacts only.

    python -I -S lambda_bootstrap.py <task dir> <opt/python dir> <module.attr> <event file> [<timeout s>]

`-I -S`: no site-packages, no PYTHONPATH, no user site. The path is what Lambda's is: the function's code
(/var/task), the merged layers (/opt/python), the standard library. Only the standard library and what is
on that path can be imported. Prints one line `RESULT <json>`: the handler's return value (or its error),
the import and invoke times, and the top-level modules loaded.
"""

import importlib
import json
import sys
import time
import uuid

T0 = time.perf_counter()
task, opt, handler_name, event_file = sys.argv[1:5]
timeout = float(sys.argv[5]) if len(sys.argv) > 5 else 10.0
sys.path[:] = [task, opt] + [p for p in sys.path[1:] if "site-packages" not in p]


class Context:
    def __init__(self, name: str) -> None:
        self.function_name = name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:ap-east-1:123456789012:function:{name}:live"
        self.memory_limit_in_mb = 512
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = self.log_stream_name = name
        self._deadline = time.monotonic() + timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


with open(event_file, encoding="utf-8") as fh:
    event = json.load(fh)
T1 = time.perf_counter()
module_name, _, attr = handler_name.partition(".")
handler = getattr(importlib.import_module(module_name), attr)
T2 = time.perf_counter()
import os  # noqa: E402

result, error = None, None
try:
    result = json.loads(json.dumps(handler(event, Context(os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "fn")))))
except Exception as exc:  # noqa: BLE001 - reported as Lambda reports an unhandled error
    error = {"errorType": type(exc).__name__, "errorMessage": str(exc)}
T3 = time.perf_counter()
modules = sorted({name.split(".")[0] for name in sys.modules})
print("RESULT " + json.dumps({"result": result, "error": error, "import_ms": (T2 - T1) * 1000,
                              "invoke_ms": (T3 - T2) * 1000, "total_ms": (T3 - T0) * 1000,
                              "modules": modules, "path": sys.path}), flush=True)
