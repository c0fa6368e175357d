"""Baseline child of the cold-start bench: boto3 only, the same AWS calls the handler made.

argv: <calls file> (JSON list of [service, operation, params]). Errors such as a failed condition on
a replayed write are caught: the round trip has happened either way.
"""
import time

T0 = time.perf_counter()
import json  # noqa: E402
import sys  # noqa: E402

import boto3  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402

with open(sys.argv[1]) as fh:
    calls = json.load(fh)
clients = {"dynamodb": boto3.client("dynamodb")}
for service, operation, params in calls:
    client = clients.get(service) or clients.setdefault(service, boto3.client(service))
    try:
        client._make_api_call(operation, params)
    except ClientError:
        pass
T1 = time.perf_counter()
print("BENCH-RESULT " + json.dumps({"total_ms": (T1 - T0) * 1000, "calls": len(calls)}), flush=True)
