"""X-Ray as in Lambda: the money path's DynamoDB calls bypass botocore's patched client, so the layer
opens their subsegments itself (obs.aws_call). Run in a child process with a UDP socket as the daemon,
because patching botocore for X-Ray in the test process would trace every other test's calls."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHILD = """
from bank_common import obs
assert obs.init_tracing()
with obs.aws_call("DynamoDB", "TransactWriteItems"):
    pass
"""


def test_money_path_calls_send_aws_subsegments() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as daemon:
        daemon.bind(("127.0.0.1", 0))
        daemon.settimeout(10)
        env = {**os.environ, "TRACING_ENABLED": "true", "LAMBDA_TASK_ROOT": str(ROOT),
               "AWS_XRAY_DAEMON_ADDRESS": f"127.0.0.1:{daemon.getsockname()[1]}",
               "_X_AMZN_TRACE_ID": "Root=1-67891233-abcdef012345678912345678;Parent=53995c3f42cd8ad8;Sampled=1",
               "PYTHONPATH": str(ROOT / "layers" / "common" / "python")}
        child = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, timeout=60)
        assert child.returncode == 0, child.stderr
        header, document = daemon.recvfrom(65536)[0].decode().split("\n", 1)
    assert json.loads(header) == {"format": "json", "version": 1}
    subsegment = json.loads(document)
    assert (subsegment["name"], subsegment["namespace"], subsegment["type"]) == ("DynamoDB", "aws", "subsegment")
    assert subsegment["aws"] == {"operation": "TransactWriteItems"}
    assert subsegment["trace_id"] == "1-67891233-abcdef012345678912345678"
    assert subsegment["parent_id"] == "53995c3f42cd8ad8"
