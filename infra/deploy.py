"""Deploy one Lambda function from template.yaml without a full `sam deploy`.

Why: a one-function fix should not wait for (or risk) a whole-stack update. The
code is zipped locally, published as a new version and shifted onto the alias in
weighted steps; the function's canary alarm is checked between steps and any
failure puts the alias back on the old version.

The function may live in the root template or in any nested stack it references
with a local template (infra/stacks/<center>.yaml); --stack-name is the root stack.

    python -m infra.deploy deploy   <LogicalId> [--stack-name S | --function-name F --alarm-name A] ...
    python -m infra.deploy rollback <LogicalId> [--to-version N] ...
    python -m infra.deploy status   <LogicalId> ...

See docs/deploy.md. Logic lives in plain functions taking boto3 clients so tests
can hand in moto clients and a no-op sleep.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import os
import sys
import time
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from botocore.exceptions import ClientError

SKIP_DIRS = frozenset({"__pycache__", "tests", ".pytest_cache", ".mypy_cache", ".ruff_cache"})
SKIP_SUFFIXES = (".pyc", ".pyo")
# 1980-01-01 is the earliest timestamp zip can store; a fixed one makes the bytes reproducible.
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
UPDATE_POLL_SECONDS = 2.0
UPDATE_TIMEOUT_SECONDS = 300.0
NESTED_STACK_TYPES = ("AWS::Serverless::Application", "AWS::CloudFormation::Stack")
ALARM_SUFFIX = "CanaryAlarm"  # <LogicalId>CanaryAlarm guards <LogicalId>, in the same stack

Emit = Callable[[dict[str, Any]], None]
Sleep = Callable[[float], None]


class DeployError(Exception):
    """A refusal or failure the operator must see; the CLI exits 1 with the message."""


def emit_json(event: dict[str, Any]) -> None:
    """One JSON line per step so a CI log can be grepped or parsed."""
    print(json.dumps(event, sort_keys=True), flush=True)


# --------------------------------------------------------------------------- template


class CfnLoader(yaml.SafeLoader):
    """SafeLoader that accepts CloudFormation short-form tags (!Ref, !Sub, !GetAtt, ...).

    Plain yaml.safe_load rejects them; we only need the data, so each tag becomes the
    long form ({"Ref": x} / {"Fn::Tag": x}) instead of being evaluated.
    """


def _construct_cfn_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    elif isinstance(node, yaml.MappingNode):
        value = loader.construct_mapping(node, deep=True)
    else:
        raise yaml.constructor.ConstructorError(None, None, f"unexpected node for !{suffix}", node.start_mark)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)  # !GetAtt A.Arn is the long form ["A", "Arn"]
    return {f"Fn::{suffix}": value}


CfnLoader.add_multi_constructor("!", _construct_cfn_tag)


def load_template(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as fh:
        data = yaml.load(fh, Loader=CfnLoader)  # noqa: S506 - CfnLoader is a SafeLoader subclass
    if not isinstance(data, dict):
        raise DeployError(f"{path} is not a CloudFormation template")
    return data


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    code_dir: Path
    handler: str | None
    nested_stack: str | None = None  # logical id of the nested stack (in the root) holding it; None: the root


def nested_templates(template: dict[str, Any], template_dir: Path) -> list[tuple[str, Path]]:
    """(nested stack logical id, template file) for each nested stack whose template is a local file.

    A `Location`/`TemplateURL` that is a URL, an S3 location or a Serverless Application Repository
    application (a mapping) is not ours to search: its functions have no local CodeUri.
    """
    found: list[tuple[str, Path]] = []
    for stack_id, resource in (template.get("Resources") or {}).items():
        if not isinstance(resource, dict) or resource.get("Type") not in NESTED_STACK_TYPES:
            continue
        props = resource.get("Properties") or {}
        location = props.get("Location") or props.get("TemplateURL")
        if not isinstance(location, str) or "://" in location:
            continue
        path = template_dir / location
        if not path.is_file():
            raise DeployError(f"nested stack {stack_id}: template {path} does not exist")
        found.append((stack_id, path))
    return found


def find_function(template: dict[str, Any], logical_id: str, template_dir: Path) -> FunctionSpec:
    """Find logical_id in the root template or in a nested stack's local template.

    CodeUri/Handler are resolved the way SAM does: resource Properties, else the Globals.Function of
    the template that declares the function, CodeUri relative to that template's folder. A logical id
    declared in more than one template is refused: which stack would be meant?
    """
    templates: list[tuple[str | None, dict[str, Any], Path, str]] = [
        (None, template, template_dir, "root template")
    ]
    for stack_id, path in nested_templates(template, template_dir):
        templates.append((stack_id, load_template(path), path.parent, f"nested stack {stack_id} ({path})"))
    hits = [t for t in templates if logical_id in (t[1].get("Resources") or {})]
    if not hits:
        raise DeployError(f"resource {logical_id} not found in template or its nested stacks")
    if len(hits) > 1:
        raise DeployError(
            f"{logical_id} is declared in more than one template ({'; '.join(h[3] for h in hits)}); "
            "logical ids must be unique across the root and nested stacks"
        )
    nested_stack, tpl, tpl_dir, _ = hits[0]
    resource = tpl["Resources"][logical_id]
    if resource.get("Type") != "AWS::Serverless::Function":
        raise DeployError(f"{logical_id} is {resource.get('Type')}, not AWS::Serverless::Function")
    props = resource.get("Properties") or {}
    globals_fn = (tpl.get("Globals") or {}).get("Function") or {}
    code_uri = props.get("CodeUri", globals_fn.get("CodeUri"))
    handler = props.get("Handler", globals_fn.get("Handler"))
    if not isinstance(code_uri, str):
        raise DeployError(f"{logical_id}: CodeUri must be a local folder, got {code_uri!r}")
    code_dir = (tpl_dir / code_uri).resolve()
    if not code_dir.is_dir():
        raise DeployError(f"{logical_id}: CodeUri folder {code_dir} does not exist")
    if handler is not None and not isinstance(handler, str):
        raise DeployError(f"{logical_id}: Handler must be a literal string, got {handler!r}")
    return FunctionSpec(logical_id, code_dir, handler, nested_stack)


# --------------------------------------------------------------------------- packaging


def _package_files(code_dir: Path, include_bytecode: bool = False) -> list[tuple[str, Path]]:
    skip_dirs = SKIP_DIRS - {"__pycache__"} if include_bytecode else SKIP_DIRS
    files: list[tuple[str, Path]] = []
    for root, dirs, names in os.walk(code_dir):
        dirs[:] = sorted(d for d in dirs if d not in skip_dirs)  # prunes the walk too
        for name in sorted(names):
            if name.endswith(SKIP_SUFFIXES) and not include_bytecode:
                continue
            path = Path(root) / name
            files.append((path.relative_to(code_dir).as_posix(), path))
    return sorted(files)


def package(code_dir: Path, *, include_bytecode: bool = False) -> bytes:
    """Zip the CodeUri folder in memory with fixed order, timestamps and modes (bytecode only when asked:
    a built artifact's pycs are hash-based, so they stay valid under the fixed timestamps).

    Same sources -> same bytes -> same CodeSha256, so Lambda does not publish a new
    version for an unchanged function and a rebuilt artefact can be compared.
    """
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for arcname, path in _package_files(code_dir, include_bytecode):
            info = zipfile.ZipInfo(arcname, date_time=ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o100644 << 16  # regular file, rw-r--r--
            zf.writestr(info, path.read_bytes())
    if not zf.namelist():
        raise DeployError(f"{code_dir} has nothing to package")
    return buf.getvalue()


def code_sha256(zip_bytes: bytes) -> str:
    """Lambda's CodeSha256: base64 of the zip's SHA-256."""
    return base64.b64encode(hashlib.sha256(zip_bytes).digest()).decode()


def check_handler_packaged(handler: str | None, zip_bytes: bytes) -> None:
    """Fail before uploading if the handler's module is not in the zip (typo'd CodeUri)."""
    if not handler or "." not in handler:
        return
    module = handler.rsplit(".", 1)[0].replace(".", "/")
    names = set(zipfile.ZipFile(io.BytesIO(zip_bytes)).namelist())
    if f"{module}.py" not in names and f"{module}/__init__.py" not in names:
        raise DeployError(f"handler {handler}: {module}.py is not in the package")


# --------------------------------------------------------------------------- AWS lookups


def stack_resource_id(cfn: Any, stack: str, logical_id: str, *, hint: str = "") -> str:
    """PhysicalResourceId of logical_id in stack (a name or a stack id)."""
    try:
        detail = cfn.describe_stack_resource(StackName=stack, LogicalResourceId=logical_id)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ValidationError":
            raise
        raise DeployError(f"stack {stack} has no resource {logical_id}{hint}: {exc}") from exc
    return str(detail["StackResourceDetail"]["PhysicalResourceId"])


def stack_holding(cfn: Any, stack_name: str, nested_stack: str | None) -> str:
    """The stack that holds the function: the root itself, or the id of its nested stack `nested_stack`."""
    if nested_stack is None:
        return stack_name
    return stack_resource_id(cfn, stack_name, nested_stack, hint=" (--stack-name must be the root stack)")


def resolve_function_name(cfn: Any, logical_id: str, *, function_name: str | None, stack: str | None) -> str:
    """--function-name, else the physical name of logical_id in `stack` (the stack holding it)."""
    if function_name:
        return function_name
    if not stack:
        raise DeployError("pass --function-name, or --stack-name to look the function up in CloudFormation")
    return stack_resource_id(cfn, stack, logical_id)


def resolve_alarm_name(cfn: Any, logical_id: str, *, alarm_name: str | None, stack: str | None) -> str:
    """--alarm-name, else the physical name of <LogicalId>CanaryAlarm in `stack` (the function's stack).

    CloudFormation generates those names, so without a stack there is nothing to derive one from.
    """
    if alarm_name:
        return alarm_name
    if not stack:
        raise DeployError(
            f"which alarm guards {logical_id}? With --function-name alone there is no stack to find "
            f"{logical_id}{ALARM_SUFFIX} in: pass --alarm-name (or --stack-name), "
            "or --no-alarm to deploy unguarded"
        )
    hint = " (pass --alarm-name, or --no-alarm to deploy unguarded)"
    return stack_resource_id(cfn, stack, f"{logical_id}{ALARM_SUFFIX}", hint=hint)


def describe_alarm(cw: Any, name: str) -> dict[str, Any]:
    resp = cw.describe_alarms(AlarmNames=[name], AlarmTypes=["MetricAlarm", "CompositeAlarm"])
    alarms = resp.get("MetricAlarms", []) + resp.get("CompositeAlarms", [])
    if not alarms:
        raise DeployError(
            f"alarm {name} not found; refusing to deploy without a safety net "
            "(pass --alarm-name, or --no-alarm to deploy unguarded)"
        )
    return dict(alarms[0])


def alarm_period(alarm: dict[str, Any]) -> int:
    """The alarm's period in seconds: its own, or (a metric-math alarm) the longest of its metrics'."""
    periods = [int(q["MetricStat"]["Period"]) for q in alarm.get("Metrics") or [] if q.get("MetricStat")]
    periods += [int(q["Period"]) for q in alarm.get("Metrics") or [] if q.get("Period")]
    return int(alarm.get("Period") or max(periods, default=0))


def wait_for_update(lam: Any, function_name: str, sleep: Sleep) -> dict[str, Any]:
    """Lambda rejects publish/update while an update is InProgress; wait it out."""
    for _ in range(int(UPDATE_TIMEOUT_SECONDS / UPDATE_POLL_SECONDS)):
        cfg = lam.get_function_configuration(FunctionName=function_name)
        status = cfg.get("LastUpdateStatus", "Successful")
        if status == "Successful":
            return dict(cfg)
        if status == "Failed":
            raise DeployError(f"code update failed: {cfg.get('LastUpdateStatusReason', 'no reason given')}")
        sleep(UPDATE_POLL_SECONDS)
    raise DeployError(f"code update still {status} after {UPDATE_TIMEOUT_SECONDS:.0f}s")


def published_versions(lam: Any, function_name: str) -> list[int]:
    versions: list[int] = []
    for page in lam.get_paginator("list_versions_by_function").paginate(FunctionName=function_name):
        versions += [int(v["Version"]) for v in page["Versions"] if v["Version"].isdigit()]
    return sorted(versions)


def set_alias(lam: Any, function_name: str, alias: str, version: str, weights: dict[str, float]) -> None:
    # RoutingConfig is always sent: omitting it leaves any previous weights in place.
    lam.update_alias(
        FunctionName=function_name,
        Name=alias,
        FunctionVersion=version,
        RoutingConfig={"AdditionalVersionWeights": weights},
    )


# --------------------------------------------------------------------------- commands


def parse_steps(text: str) -> list[int]:
    try:
        steps = [int(s) for s in text.split(",") if s.strip()]
    except ValueError as exc:
        raise DeployError(f"--steps must be comma-separated integers, got {text!r}") from exc
    if not steps or any(not 0 < s <= 100 for s in steps) or steps != sorted(set(steps)):
        raise DeployError(f"--steps must be increasing percentages in 1..100, got {text!r}")
    return steps if steps[-1] == 100 else [*steps, 100]


def deploy(
    lam: Any,
    cw: Any,
    *,
    function_name: str,
    zip_bytes: bytes,
    alias: str = "live",
    steps: Iterable[int] = (10, 100),
    wait: float = 60,
    alarm_name: str | None = None,
    handler: str | None = None,
    sleep: Sleep = time.sleep,
    emit: Emit = emit_json,
) -> str:
    """Upload, publish and shift `alias` onto the new version; return the new version.

    alarm_name=None means unguarded (--no-alarm); handler, if given, must match the
    deployed one because only the code is updated. On an ALARM, an API error or Ctrl-C
    during the shift the alias is put back on the old version with no weights.
    """
    steps = list(steps)
    if alarm_name is not None:
        alarm = describe_alarm(cw, alarm_name)  # before touching anything: no alarm, no deploy
        if alarm["StateValue"] == "ALARM":
            raise DeployError(f"alarm {alarm_name} is already in ALARM; fix that or deploy with --no-alarm")
        window = alarm_period(alarm) * alarm.get("EvaluationPeriods", 1)
        if window > wait and len(steps) > 1:
            emit(
                {
                    "event": "warning",
                    "message": f"--wait {wait:g}s is shorter than the alarm window {window}s",
                }
            )
    else:
        emit({"event": "warning", "message": "no alarm: traffic will shift without a health check"})

    try:
        old = str(lam.get_alias(FunctionName=function_name, Name=alias)["FunctionVersion"])
    except lam.exceptions.ResourceNotFoundException as exc:
        raise DeployError(f"alias {alias} does not exist on {function_name}; create it first") from exc

    sha = code_sha256(zip_bytes)
    if lam.get_function_configuration(FunctionName=function_name, Qualifier=old).get("CodeSha256") == sha:
        emit({"event": "unchanged", "alias": alias, "version": old, "code_sha256": sha})
        return old  # the zip is reproducible, so equal hashes mean equal code: nothing to ship

    deployed = wait_for_update(lam, function_name, sleep)
    if handler is not None and deployed.get("Handler") != handler:
        raise DeployError(
            f"template Handler {handler} != deployed {deployed.get('Handler')}; "
            "a code-only deploy cannot change it, use sam deploy"
        )
    lam.update_function_code(FunctionName=function_name, ZipFile=zip_bytes)
    cfg = wait_for_update(lam, function_name, sleep)
    if cfg.get("CodeSha256") != sha:
        raise DeployError(
            f"{function_name} now has code {cfg.get('CodeSha256')}, not ours ({sha}): concurrent deploy?"
        )
    emit({"event": "uploaded", "function": function_name, "code_sha256": sha})
    # CodeSha256 makes Lambda refuse to publish if someone else's code landed in between.
    new = str(lam.publish_version(FunctionName=function_name, CodeSha256=sha)["Version"])
    emit({"event": "published", "version": new, "previous": old})
    if new == old:
        emit({"event": "unchanged", "alias": alias, "version": old})
        return new

    try:
        for step in steps[:-1]:
            set_alias(lam, function_name, alias, old, {new: step / 100})
            emit({"event": "shift", "alias": alias, "version": new, "percent": step})
            sleep(wait)
            if alarm_name is not None:
                state = describe_alarm(cw, alarm_name)["StateValue"]
                emit({"event": "alarm", "alarm": alarm_name, "state": state, "percent": step})
                if state == "ALARM":
                    raise DeployError(f"alarm {alarm_name} went into ALARM at {step}% on version {new}")
        set_alias(lam, function_name, alias, new, {})
    except BaseException as exc:
        set_alias(lam, function_name, alias, old, {})
        emit(
            {"event": "rolled_back", "alias": alias, "version": old, "reason": str(exc) or type(exc).__name__}
        )
        if isinstance(exc, DeployError):
            raise DeployError(f"{exc}; rolled back {alias} to version {old}") from exc
        raise
    emit({"event": "shift", "alias": alias, "version": new, "percent": 100})
    return new


def rollback(
    lam: Any,
    *,
    function_name: str,
    alias: str = "live",
    to_version: str | None = None,
    emit: Emit = emit_json,
) -> str:
    """Point `alias` at to_version, else at the previous published version, with no weights.

    Mid-canary (weights present) the "previous" version is the alias's own base version:
    rolling back then only drops the canary, it does not also undo the last good deploy.
    """
    current = lam.get_alias(FunctionName=function_name, Name=alias)
    base = str(current["FunctionVersion"])
    weights = (current.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
    if to_version is None:
        if weights:
            to_version = base
        else:
            if not base.isdigit():
                raise DeployError(f"alias {alias} points at {base}; pass --to-version")
            older = [v for v in published_versions(lam, function_name) if v < int(base)]
            if not older:
                raise DeployError(f"no published version older than {base}")
            to_version = str(older[-1])
    set_alias(lam, function_name, alias, to_version, {})
    emit({"event": "rolled_back", "alias": alias, "from": base, "weights": weights, "to": to_version})
    return to_version


def status(lam: Any, *, function_name: str, alias: str = "live", latest: int = 5) -> dict[str, Any]:
    current = lam.get_alias(FunctionName=function_name, Name=alias)
    versions = published_versions(lam, function_name)[-latest:]
    info = {
        "function": function_name,
        "alias": alias,
        "version": current["FunctionVersion"],
        "weights": (current.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {},
        "latest_versions": [],
    }
    for v in reversed(versions):
        cfg = lam.get_function_configuration(FunctionName=function_name, Qualifier=str(v))
        info["latest_versions"].append(
            {
                "version": str(v),
                "last_modified": cfg.get("LastModified"),
                "code_sha256": cfg.get("CodeSha256"),
            }
        )
    return info


# --------------------------------------------------------------------------- CLI


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m infra.deploy", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "logical_id", help="logical id in template.yaml or a nested stack, e.g. CreateTransferFunction"
    )
    common.add_argument("--function-name", help="deployed function name (skips the CloudFormation lookup)")
    common.add_argument(
        "--stack-name", help="root stack: resolves LogicalId -> function and alarm names, nested stacks too"
    )
    common.add_argument(
        "--template",
        type=Path,
        default=Path("template.yaml"),
        help="root template: which nested stack holds the function; to deploy, its CodeUri and Handler",
    )
    common.add_argument("--alias", default="live")
    common.add_argument("--region", help="AWS region (default: the usual boto3 chain)")

    d = sub.add_parser("deploy", parents=[common], help="upload, publish and shift traffic in steps")
    d.add_argument("--steps", default="10,100", help="percentages, comma-separated; 100 is implied last")
    d.add_argument(
        "--wait", type=float, default=60.0, help="seconds to wait at each step before the alarm check"
    )
    d.add_argument(
        "--alarm-name",
        help="default: <LogicalId>CanaryAlarm in the function's stack (needs --stack-name)",
    )
    d.add_argument("--no-alarm", action="store_true", help="deploy without an alarm check (unguarded)")

    r = sub.add_parser("rollback", parents=[common], help="point the alias at an older version")
    r.add_argument("--to-version", help="default: the highest version below the alias's current one")

    sub.add_parser("status", parents=[common], help="alias version, weights and latest versions")
    return parser


def main(
    argv: list[str] | None = None,
    *,
    clients: Callable[[str, str | None], Any] | None = None,
    sleep: Sleep = time.sleep,
) -> int:
    args = build_parser().parse_args(argv)
    if clients is None:
        import boto3

        def clients(service: str, region: str | None) -> Any:
            return boto3.client(service, region_name=region)

    try:
        guarded = args.command == "deploy" and not args.no_alarm
        # CloudFormation is asked only for what the flags leave open: the function name, the alarm name.
        use_stack = bool(args.stack_name) and (not args.function_name or (guarded and not args.alarm_name))
        if args.command == "deploy":
            steps = parse_steps(args.steps)
        spec = FunctionSpec(args.logical_id, Path(), None)  # rollback/status by --function-name: no template
        if args.command == "deploy" or use_stack:
            template_path: Path = args.template
            spec = find_function(load_template(template_path), args.logical_id, template_path.parent)
        zip_bytes = b""
        if args.command == "deploy":
            zip_bytes = package(spec.code_dir)
            check_handler_packaged(spec.handler, zip_bytes)
        cfn = clients("cloudformation", args.region)
        stack = stack_holding(cfn, args.stack_name, spec.nested_stack) if use_stack else None
        name = resolve_function_name(cfn, args.logical_id, function_name=args.function_name, stack=stack)
        alarm = None
        if guarded:
            alarm = resolve_alarm_name(cfn, args.logical_id, alarm_name=args.alarm_name, stack=stack)
        lam = clients("lambda", args.region)
        if args.command == "deploy":
            deploy(
                lam,
                clients("cloudwatch", args.region),
                function_name=name,
                zip_bytes=zip_bytes,
                alias=args.alias,
                steps=steps,
                wait=args.wait,
                alarm_name=alarm,
                handler=spec.handler,
                sleep=sleep,
            )
        elif args.command == "rollback":
            rollback(lam, function_name=name, alias=args.alias, to_version=args.to_version)
        else:
            print(json.dumps(status(lam, function_name=name, alias=args.alias), indent=2))
    except (DeployError, ClientError) as exc:
        print(f"deploy: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
