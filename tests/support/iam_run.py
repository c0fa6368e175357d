"""The IAM evaluation's side of a test run: what the functions did, and what their roles allow.

Recording: every AWS call a function's code makes is recorded with the function's logical id — in this
process through the recorder tests/conftest.py installs (functional, contract and bench levels run the
functions in-process), and in the local run's worker processes into RECORD_FILE (integration and e2e).
Which functions ran at all goes to RECORD_FILE + ".invoked" and infra.runtime.INVOKED.

Policies: each stack translated as SAM would (infra.translate), its intrinsics resolved for a target
partition/region/account, with every resource named by its logical id (FIFO queues keep ".fifo") and the
test runs' physical names (`test-X`, `local-X`, `bench-X`) renamed to the same, so calls and policies
speak of the same ARNs.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from infra import iam, runtime, template
from infra.translate import translated

ROOT = Path(__file__).resolve().parents[2]
RECORD_DIR = ROOT / ".local" / "iam"
RECORD_FILE = RECORD_DIR / "calls.jsonl"
PREFIXES = ("test", "local", "bench")
LAYER_ARN = "arn:{partition}:lambda:{region}:{account}:layer:bank-layer:1"


def start_recording() -> None:
    RECORD_DIR.mkdir(parents=True, exist_ok=True)
    for path in (RECORD_FILE, Path(str(RECORD_FILE) + ".invoked")):
        path.unlink(missing_ok=True)


def calls() -> list[iam.AwsCall]:
    found = list(iam.RECORDER.calls)
    if RECORD_FILE.exists():
        found += iam.load(RECORD_FILE).calls
    return found


def invoked() -> set[str]:
    names = set(runtime.INVOKED)
    marker = Path(str(RECORD_FILE) + ".invoked")
    if marker.exists():
        names |= {line.strip() for line in marker.read_text().splitlines() if line.strip()}
    return names


_TEST_NAME = re.compile(rf"^(?:{'|'.join(PREFIXES)})-(.+)$")


def canonical(physical: str) -> str:
    """A test run's physical name → the name the resolved policies use (the logical id, FIFO suffix kept)."""
    found = _TEST_NAME.match(physical)
    return found.group(1) if found else physical


def physical_name(logical_id: str) -> str:
    if logical_id in template.resources("AWS::S3::Bucket"):
        return logical_id.lower()  # as the test runs name buckets (lower case)
    resource = template.resources("AWS::SQS::Queue").get(logical_id)
    fifo = bool(resource and (resource.get("Properties") or {}).get("FifoQueue"))
    return logical_id + (".fifo" if fifo else "")


def target(partition: str, region: str, account: str = "111122223333") -> iam.Target:
    hash_keys = {}
    for logical_id, table in template.resources("AWS::DynamoDB::Table").items():
        keys = table["Properties"]["KeySchema"]
        hash_keys[physical_name(logical_id)] = next(k["AttributeName"] for k in keys if k["KeyType"] == "HASH")
    return iam.Target(partition=partition, region=region, account_id=account, rename=canonical,
                      hash_keys=hash_keys)


def _passed_value(value: Any, t: iam.Target) -> Any:
    """What the root stack passes a nested stack, as it would be deployed in `t`."""
    resolved = template.resolve(template.ROOT_STACK, value)
    if isinstance(resolved, str):
        return resolved
    resource = template.stack_of(resolved.logical_id).resources[resolved.logical_id]
    if resolved.attribute == "Alias":
        return iam.function_arn(physical_name(resolved.logical_id), "live", t)
    if resource.get("Type") == "AWS::Serverless::LayerVersion":
        return LAYER_ARN.format(partition=t.partition, region=t.region, account=t.account_id)
    if resolved.attribute == "Arn" and resource.get("Type") == "AWS::SQS::Queue":  # another center's queue
        return t.arn("sqs", physical_name(resolved.logical_id))
    if resolved.attribute == "Arn" and resource.get("Type") == "AWS::Events::EventBus":  # the bank's bus
        return t.arn("events", f"event-bus/{physical_name(resolved.logical_id)}")
    return physical_name(resolved.logical_id)


def policies(t: iam.Target) -> dict[str, iam.FunctionPolicies]:
    """Every function's policies in every stack, resolved for `t`."""
    out: dict[str, iam.FunctionPolicies] = {}
    for stack in template.stacks():
        body = translated(stack.path)
        parameters = {name: _passed_value(value, t) for name, value in stack.passed.items()}
        resolver = iam.Resolver.for_template(body, t, "bank", parameters=parameters, physical_names=physical_name)
        out.update(iam.all_function_policies(body, resolver))
    return out
