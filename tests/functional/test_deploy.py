"""infra.deploy against moto: canary shift, alarm rollback, rollback/status, packaging, templates (root and
nested stacks), names resolved through CloudFormation."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import zipfile
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from infra import deploy as dp

REGION = "us-east-1"
FN = "bank-user"
ALARM = "bank-UserFunctionCanaryAlarm-1X2Y3Z4W5V6U"  # CloudFormation generates the canary alarms' names
REPO = Path(__file__).resolve().parents[2]

TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.13
    Handler: app.handler
    CodeUri: functions/shared/
Resources:
  UserFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/user/
      FunctionName: !Sub "${AWS::StackName}-user"
      Role: !GetAtt UserRole.Arn
      Environment:
        Variables:
          TABLE: !Ref Table
          URL: !Join ["", ["https://", !Ref Domain, "/x"]]
  SharedFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: worker.run
  UserFunctionCanaryAlarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      Dimensions:
        - Name: FunctionName
          Value: !Ref UserFunction
      Threshold: !If [IsProd, 1, 5]
      Tags: !GetAtt [UserRole, Tags]
  Table:
    Type: AWS::DynamoDB::Table
  AccountCenter:
    Type: AWS::Serverless::Application
    Properties:
      Location: stacks/account.yaml
      Parameters:
        Table: !Ref Table
  OpsCenter:
    Type: AWS::CloudFormation::Stack
    Properties:
      TemplateURL: stacks/ops.yaml
  RotatorApp:
    Type: AWS::Serverless::Application
    Properties:
      Location:
        ApplicationId: arn:aws:serverlessrepo:us-east-1:123456789012:applications/rotator
        SemanticVersion: 1.0.0
  RemoteStack:
    Type: AWS::CloudFormation::Stack
    Properties:
      TemplateURL: https://templates.s3.amazonaws.com/remote.yaml
"""

# A nested stack's template: its own Globals, CodeUri relative to this file (stacks/), not to the root.
ACCOUNT_TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  Table:
    Type: String
Globals:
  Function:
    Runtime: python3.13
    Handler: app.app
    CodeUri: ../functions/ledger/
Resources:
  TransferFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: ../functions/account/
      Environment:
        Variables:
          TABLE: !Ref Table
  TransferFunctionCanaryAlarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      Dimensions:
        - {Name: FunctionName, Value: !Ref TransferFunction}
  ReconcileFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.reconcile
"""

OPS_TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  OpsFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: ../functions/shared/
      Handler: worker.run
"""


def _zip(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, body in files.items():
            zf.writestr(name, body)
    return buf.getvalue()


def _sha(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


class FakeCloudFormation:
    """describe_stack_resource answered from a table first, then by moto's client if given.

    Moto's CloudFormation has no AWS::CloudWatch::Alarm (so no canary alarm resources) and cannot
    deploy a SAM application from a local Location; the table stands in for those lookups.
    """

    def __init__(self, answers: dict[tuple[str, str], str], moto: Any = None) -> None:
        self.answers = answers
        self.moto = moto
        self.calls: list[tuple[str, str]] = []

    def describe_stack_resource(self, **kwargs: str) -> dict[str, Any]:
        stack, logical_id = kwargs["StackName"], kwargs["LogicalResourceId"]
        self.calls.append((stack, logical_id))
        if (stack, logical_id) in self.answers:
            physical = self.answers[stack, logical_id]
            detail = {"StackName": stack, "LogicalResourceId": logical_id, "PhysicalResourceId": physical}
            return {"StackResourceDetail": detail}
        if self.moto is not None:
            return dict(self.moto.describe_stack_resource(**kwargs))
        message = f"Resource {logical_id} does not exist for stack {stack}"
        raise ClientError({"Error": {"Code": "ValidationError", "Message": message}}, "DescribeStackResource")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A tiny SAM project: root template + nested stack templates + CodeUri folders with build/test litter."""
    (tmp_path / "template.yaml").write_text(TEMPLATE)
    (tmp_path / "stacks").mkdir()
    (tmp_path / "stacks" / "account.yaml").write_text(ACCOUNT_TEMPLATE)
    (tmp_path / "stacks" / "ops.yaml").write_text(OPS_TEMPLATE)
    user = tmp_path / "functions" / "user"
    (user / "pkg").mkdir(parents=True)
    (user / "__pycache__").mkdir()
    (user / "tests").mkdir()
    (user / "app.py").write_text("def handler(event, context):\n    return {'v': 2}\n")
    (user / "pkg" / "__init__.py").write_text("")
    (user / "pkg" / "util.py").write_text("X = 1\n")
    (user / "pkg" / "util.pyc").write_bytes(b"\0stale")
    (user / "__pycache__" / "app.cpython-313.pyc").write_bytes(b"\0stale")
    (user / "tests" / "test_app.py").write_text("def test_x():\n    pass\n")
    shared = tmp_path / "functions" / "shared"
    shared.mkdir()
    (shared / "worker.py").write_text("def run(event, context):\n    return None\n")
    account = tmp_path / "functions" / "account"
    (account / "account_center").mkdir(parents=True)
    (account / "app.py").write_text("def app(event, context):\n    return {'v': 2}\n")
    (account / "account_center" / "__init__.py").write_text("")
    ledger = tmp_path / "functions" / "ledger"
    ledger.mkdir()
    (ledger / "app.py").write_text("def reconcile(event, context):\n    return None\n")
    return tmp_path


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Any:
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        yield {s: boto3.client(s, region_name=REGION) for s in ("lambda", "cloudwatch", "cloudformation")}


@pytest.fixture
def live(aws: dict[str, Any]) -> dict[str, Any]:
    """Function bank-user with version 1 behind alias live, plus its canary alarm (named ALARM) in OK."""
    role = boto3.client("iam", region_name=REGION).create_role(
        RoleName="fn-role",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )["Role"]["Arn"]
    lam = aws["lambda"]
    lam.create_function(
        FunctionName=FN,
        Runtime="python3.13",
        Role=role,
        Handler="app.handler",
        Code={"ZipFile": _zip({"app.py": "def handler(e, c):\n    return {'v': 1}\n"})},
    )
    assert lam.publish_version(FunctionName=FN)["Version"] == "1"
    lam.create_alias(FunctionName=FN, Name="live", FunctionVersion="1")
    aws["cloudwatch"].put_metric_alarm(
        AlarmName=ALARM,
        Namespace="AWS/Lambda",
        MetricName="Errors",
        Dimensions=[{"Name": "FunctionName", "Value": FN}],
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    aws["cloudwatch"].set_alarm_state(AlarmName=ALARM, StateValue="OK", StateReason="healthy")
    aws["role"] = role
    return aws


def _run(aws: dict[str, Any], argv: list[str], sleep: Any = lambda s: None, cfn: Any = None) -> int:
    """main() on the moto clients; `cfn` replaces the CloudFormation client when given."""
    return dp.main(
        argv,
        clients=lambda service, region: cfn if service == "cloudformation" and cfn else aws[service],
        sleep=sleep,
    )


def _deploy_argv(project: Path) -> list[str]:
    """deploy UserFunction by its physical name, guarded by an explicitly named alarm."""
    template = str(project / "template.yaml")
    return ["deploy", "UserFunction", "--template", template, "--function-name", FN, "--alarm-name", ALARM]


def _record_update_alias(lam: Any, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []
    real = lam.update_alias

    def spy(**kwargs: Any) -> Any:
        calls.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(lam, "update_alias", spy)
    return calls


def _alias(lam: Any) -> tuple[str, dict[str, float]]:
    a = lam.get_alias(FunctionName=FN, Name="live")
    return a["FunctionVersion"], (a.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}


def _events(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


# --------------------------------------------------------------------------- deploy


def test_deploy_shifts_live_through_ten_percent_to_new_version(
    live: dict[str, Any], project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    lam = live["lambda"]
    calls = _record_update_alias(lam, monkeypatch)
    seen_during_wait: list[tuple[str, dict[str, float]]] = []
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        seen_during_wait.append(_alias(lam))

    argv = _deploy_argv(project)
    assert _run(live, [*argv, "--wait", "45"], sleep) == 0

    assert [(c["FunctionVersion"], c["RoutingConfig"]) for c in calls] == [
        ("1", {"AdditionalVersionWeights": {"2": 0.1}}),
        ("2", {"AdditionalVersionWeights": {}}),
    ]
    assert waits == [45]
    assert seen_during_wait == [("1", {"2": 0.1})]  # moto really held the weighted alias while we waited
    assert _alias(lam) == ("2", {})
    # version 2 carries exactly the packaged bytes
    code = dp.package(project / "functions" / "user")
    assert lam.get_function_configuration(FunctionName=FN, Qualifier="2")["CodeSha256"] == _sha(code)
    events = _events(capsys.readouterr().out)
    assert [e["percent"] for e in events if e["event"] == "shift"] == [10, 100]
    assert {"event": "alarm", "alarm": ALARM, "state": "OK", "percent": 10} in events


def test_deploy_multiple_steps_and_unchanged_code_is_a_noop(
    live: dict[str, Any], project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lam = live["lambda"]
    calls = _record_update_alias(lam, monkeypatch)
    argv = _deploy_argv(project)
    assert _run(live, [*argv, "--steps", "5,25,50"]) == 0
    weights = [c["RoutingConfig"]["AdditionalVersionWeights"] for c in calls]
    assert weights == [{"2": 0.05}, {"2": 0.25}, {"2": 0.5}, {}]
    assert _alias(lam) == ("2", {})

    calls.clear()
    assert _run(live, argv) == 0  # same bytes: Lambda returns version 2 again, nothing to shift
    assert calls == []
    assert _alias(lam) == ("2", {})
    assert [v["Version"] for v in lam.list_versions_by_function(FunctionName=FN)["Versions"]] == [
        "$LATEST",
        "1",
        "2",
    ]


def test_alarm_after_first_step_rolls_back_to_old_version(
    live: dict[str, Any], project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    lam, cw = live["lambda"], live["cloudwatch"]
    calls = _record_update_alias(lam, monkeypatch)

    def sleep(seconds: float) -> None:  # the canary breaks while it has 10%
        cw.set_alarm_state(AlarmName=ALARM, StateValue="ALARM", StateReason="errors >= 1")

    argv = _deploy_argv(project)
    assert _run(live, argv, sleep) == 1

    assert _alias(lam) == ("1", {})
    assert calls[-1] == {
        "FunctionName": FN,
        "Name": "live",
        "FunctionVersion": "1",
        "RoutingConfig": {"AdditionalVersionWeights": {}},
    }
    assert not any(c["FunctionVersion"] == "2" for c in calls)  # never promoted
    captured = capsys.readouterr()
    assert "went into ALARM at 10%" in captured.err
    assert "rolled back live to version 1" in captured.err
    assert {"event": "rolled_back", "alias": "live", "version": "1"}.items() <= _events(captured.out)[
        -1
    ].items()


def test_alarm_check_via_function_api_raises(live: dict[str, Any], project: Path) -> None:
    cw = live["cloudwatch"]
    with pytest.raises(dp.DeployError, match="rolled back live to version 1"):
        dp.deploy(
            live["lambda"],
            cw,
            function_name=FN,
            zip_bytes=dp.package(project / "functions" / "user"),
            alarm_name=ALARM,
            sleep=lambda s: cw.set_alarm_state(AlarmName=ALARM, StateValue="ALARM", StateReason="x"),
            emit=lambda e: None,
        )
    assert _alias(live["lambda"]) == ("1", {})


def test_interrupt_during_canary_rolls_back(live: dict[str, Any], project: Path) -> None:
    def sleep(seconds: float) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        dp.deploy(
            live["lambda"],
            live["cloudwatch"],
            function_name=FN,
            zip_bytes=dp.package(project / "functions" / "user"),
            alarm_name=ALARM,
            sleep=sleep,
            emit=lambda e: None,
        )
    assert _alias(live["lambda"]) == ("1", {})


def test_missing_alarm_refuses_unless_no_alarm(
    live: dict[str, Any], project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lam = live["lambda"]
    live["cloudwatch"].delete_alarms(AlarmNames=[ALARM])
    argv = _deploy_argv(project)

    assert _run(live, argv) == 1
    assert f"alarm {ALARM} not found" in capsys.readouterr().err
    # refused before touching anything: no new version, live untouched
    assert [v["Version"] for v in lam.list_versions_by_function(FunctionName=FN)["Versions"]] == [
        "$LATEST",
        "1",
    ]
    assert _alias(lam) == ("1", {})

    assert _run(live, [*argv, "--alarm-name", "nope"]) == 1
    assert _run(live, [*argv, "--no-alarm"]) == 0
    assert _alias(lam) == ("2", {})


def test_alarm_already_firing_refuses(live: dict[str, Any], project: Path) -> None:
    live["cloudwatch"].set_alarm_state(AlarmName=ALARM, StateValue="ALARM", StateReason="x")
    argv = _deploy_argv(project)
    assert _run(live, argv) == 1
    assert _alias(live["lambda"]) == ("1", {})


def test_handler_mismatch_refuses(live: dict[str, Any], project: Path) -> None:
    (project / "template.yaml").write_text(TEMPLATE.replace("Handler: app.handler", "Handler: pkg.util.main"))
    argv = _deploy_argv(project)
    assert _run(live, argv) == 1
    assert _alias(live["lambda"]) == ("1", {})


def test_handler_module_must_be_packaged(project: Path) -> None:
    code = dp.package(project / "functions" / "user")
    dp.check_handler_packaged("app.handler", code)
    dp.check_handler_packaged("pkg.util.main", code)
    with pytest.raises(dp.DeployError, match="missing.py is not in the package"):
        dp.check_handler_packaged("missing.handler", code)


def _lambda_resource(name: str | None, role: str, handler: str = "app.app") -> dict[str, Any]:
    """A plain AWS::Lambda::Function moto's CloudFormation can create (as SAM's transform would)."""
    props: dict[str, Any] = {
        "Runtime": "python3.13",
        "Handler": handler,
        "Role": role,
        "Code": {"ZipFile": "def app(e, c):\n    return 1\n"},
    }
    if name:
        props["FunctionName"] = name
    return {"Type": "AWS::Lambda::Function", "Properties": props}


def _canary_alarm(cw: Any, name: str, function_name: str) -> None:
    """A metric-math alarm shaped like the templates' <LogicalId>CanaryAlarm."""
    cw.put_metric_alarm(
        AlarmName=name,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        Threshold=1,
        EvaluationPeriods=1,
        TreatMissingData="notBreaching",
        Metrics=[
            {
                "Id": "errors",
                "ReturnData": False,
                "MetricStat": {
                    "Metric": {
                        "Namespace": "AWS/Lambda",
                        "MetricName": "Errors",
                        "Dimensions": [{"Name": "FunctionName", "Value": function_name}],
                    },
                    "Period": 60,
                    "Stat": "Sum",
                },
            },
            {"Id": "unhealthy", "Expression": "FILL(errors, 0)", "ReturnData": True},
        ],
    )
    cw.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="healthy")


def _publish_live(lam: Any, function_name: str) -> None:
    lam.publish_version(FunctionName=function_name)
    lam.create_alias(FunctionName=function_name, Name="live", FunctionVersion="1")


def test_stack_name_resolves_root_function_and_its_canary_alarm(
    live: dict[str, Any], project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A function in the root stack: one lookup each for it and <LogicalId>CanaryAlarm in the root."""
    user = _lambda_resource("bank-stack-user", live["role"], handler="app.handler")
    cfn_template = {"Resources": {"UserFunction": user}}
    live["cloudformation"].create_stack(StackName="bank", TemplateBody=json.dumps(cfn_template))
    lam = live["lambda"]
    _publish_live(lam, "bank-stack-user")
    argv = ["deploy", "UserFunction", "--template", str(project / "template.yaml"), "--stack-name", "bank"]

    no_alarm_resource = FakeCloudFormation({}, moto=live["cloudformation"])
    assert _run(live, argv, cfn=no_alarm_resource) == 1
    assert no_alarm_resource.calls == [("bank", "UserFunction"), ("bank", "UserFunctionCanaryAlarm")]
    err = capsys.readouterr().err
    assert "stack bank has no resource UserFunctionCanaryAlarm (pass --alarm-name, or --no-alarm" in err

    alarm = "bank-UserFunctionCanaryAlarm-9Z8Y7X6W5V4U"
    cfn = FakeCloudFormation({("bank", "UserFunctionCanaryAlarm"): alarm}, moto=live["cloudformation"])
    assert _run(live, argv, cfn=cfn) == 1  # the stack names it, but the alarm itself is gone
    assert f"alarm {alarm} not found" in capsys.readouterr().err
    assert lam.get_alias(FunctionName="bank-stack-user", Name="live")["FunctionVersion"] == "1"

    _canary_alarm(live["cloudwatch"], alarm, "bank-stack-user")
    cfn.calls.clear()
    assert _run(live, argv, cfn=cfn) == 0
    assert cfn.calls == [("bank", "UserFunction"), ("bank", "UserFunctionCanaryAlarm")]  # no nested step
    assert lam.get_alias(FunctionName="bank-stack-user", Name="live")["FunctionVersion"] == "2"
    events = _events(capsys.readouterr().out)
    assert {"event": "alarm", "alarm": alarm, "state": "OK", "percent": 10} in events


@pytest.fixture
def nested(live: dict[str, Any]) -> dict[str, Any]:
    """Root stack `bank` whose nested stack AccountCenter holds TransferFunction (moto deploys both), and
    the canary alarm CloudFormation would have named; a fake answers that lookup (moto has no alarms)."""
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="bank-templates")
    body = {"Resources": {"TransferFunction": _lambda_resource(None, live["role"])}}
    s3.put_object(Bucket="bank-templates", Key="account.json", Body=json.dumps(body))
    # what SAM's transform turns the AWS::Serverless::Application into
    url = "https://bank-templates.s3.amazonaws.com/account.json"
    center = {"Type": "AWS::CloudFormation::Stack", "Properties": {"TemplateURL": url}}
    root = {"Resources": {"AccountCenter": center}}
    moto_cfn = live["cloudformation"]
    moto_cfn.create_stack(StackName="bank", TemplateBody=json.dumps(root))
    stack_id = moto_cfn.describe_stack_resource(StackName="bank", LogicalResourceId="AccountCenter")[
        "StackResourceDetail"
    ]["PhysicalResourceId"]
    function = moto_cfn.describe_stack_resource(StackName=stack_id, LogicalResourceId="TransferFunction")[
        "StackResourceDetail"
    ]["PhysicalResourceId"]
    alarm = f"{stack_id}-TransferFunctionCanaryAlarm-5T4R3E2W1Q0P"
    _canary_alarm(live["cloudwatch"], alarm, function)
    _publish_live(live["lambda"], function)
    cfn = FakeCloudFormation({(stack_id, "TransferFunctionCanaryAlarm"): alarm}, moto=moto_cfn)
    return {**live, "cfn": cfn, "stack_id": stack_id, "function": function, "alarm": alarm}


def test_nested_function_and_alarm_resolve_through_root_then_nested_stack(nested: dict[str, Any]) -> None:
    cfn, stack_id = nested["cfn"], nested["stack_id"]
    assert stack_id != "bank"
    assert dp.stack_holding(cfn, "bank", "AccountCenter") == stack_id
    assert dp.stack_holding(cfn, "bank", None) == "bank"  # a root function needs no first step
    name = dp.resolve_function_name(cfn, "TransferFunction", function_name=None, stack=stack_id)
    assert name == nested["function"]
    assert nested["lambda"].get_function(FunctionName=name)["Configuration"]["Handler"] == "app.app"
    assert dp.resolve_alarm_name(cfn, "TransferFunction", alarm_name=None, stack=stack_id) == nested["alarm"]
    assert cfn.calls == [
        ("bank", "AccountCenter"),
        (stack_id, "TransferFunction"),
        (stack_id, "TransferFunctionCanaryAlarm"),
    ]
    # flags win over lookups
    assert dp.resolve_function_name(cfn, "TransferFunction", function_name="given", stack=stack_id) == "given"
    assert dp.resolve_alarm_name(cfn, "TransferFunction", alarm_name="mine", stack=stack_id) == "mine"
    assert len(cfn.calls) == 3
    with pytest.raises(dp.DeployError, match=r"no resource UserCenter \(--stack-name must be the root"):
        dp.stack_holding(cfn, "bank", "UserCenter")


def test_cli_deploys_status_and_rollback_a_nested_function_by_root_stack_name(
    nested: dict[str, Any], project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lam, cfn, stack_id, function = nested["lambda"], nested["cfn"], nested["stack_id"], nested["function"]
    template = ["--template", str(project / "template.yaml"), "--stack-name", "bank"]
    assert _run(nested, ["deploy", "TransferFunction", *template], cfn=cfn) == 0
    assert cfn.calls == [
        ("bank", "AccountCenter"),
        (stack_id, "TransferFunction"),
        (stack_id, "TransferFunctionCanaryAlarm"),
    ]
    assert lam.get_alias(FunctionName=function, Name="live")["FunctionVersion"] == "2"
    code = dp.package(project / "functions" / "account")  # CodeUri resolved from stacks/account.yaml
    assert lam.get_function_configuration(FunctionName=function, Qualifier="2")["CodeSha256"] == _sha(code)
    events = _events(capsys.readouterr().out)
    assert {"event": "alarm", "alarm": nested["alarm"], "state": "OK", "percent": 10} in events

    cfn.calls.clear()
    assert _run(nested, ["status", "TransferFunction", *template], cfn=cfn) == 0
    assert json.loads(capsys.readouterr().out)["function"] == function
    assert _run(nested, ["rollback", "TransferFunction", *template], cfn=cfn) == 0
    assert lam.get_alias(FunctionName=function, Name="live")["FunctionVersion"] == "1"
    # status and rollback need no alarm: root -> nested -> function, twice
    assert cfn.calls == [("bank", "AccountCenter"), (stack_id, "TransferFunction")] * 2

    cfn.calls.clear()  # --function-name with --stack-name: the stack still names the alarm
    argv = ["deploy", "TransferFunction", *template, "--function-name", function, "--steps", "100"]
    (project / "functions" / "account" / "app.py").write_text("def app(e, c):\n    return {'v': 3}\n")
    assert _run(nested, argv, cfn=cfn) == 0
    assert cfn.calls == [("bank", "AccountCenter"), (stack_id, "TransferFunctionCanaryAlarm")]


def test_nested_function_without_canary_alarm_refuses_before_uploading(
    nested: dict[str, Any], project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfn = FakeCloudFormation({}, moto=nested["cloudformation"])  # moto alone: the stack has no alarm
    template = str(project / "template.yaml")
    argv = ["deploy", "TransferFunction", "--template", template, "--stack-name", "bank"]
    assert _run(nested, argv, cfn=cfn) == 1
    assert "has no resource TransferFunctionCanaryAlarm (pass --alarm-name" in capsys.readouterr().err
    versions = nested["lambda"].list_versions_by_function(FunctionName=nested["function"])["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST", "1"]
    assert _run(nested, [*argv, "--no-alarm"], cfn=cfn) == 0


def test_function_name_without_alarm_name_refused(
    live: dict[str, Any], project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Alarm names are generated by CloudFormation: nothing to derive one from without the stack."""
    cfn = FakeCloudFormation({})
    argv = ["deploy", "UserFunction", "--template", str(project / "template.yaml"), "--function-name", FN]
    assert _run(live, argv, cfn=cfn) == 1
    err = capsys.readouterr().err
    assert "which alarm guards UserFunction?" in err
    assert "pass --alarm-name" in err and "--no-alarm" in err
    assert cfn.calls == []
    assert [v["Version"] for v in live["lambda"].list_versions_by_function(FunctionName=FN)["Versions"]] == [
        "$LATEST",
        "1",
    ]
    assert _alias(live["lambda"]) == ("1", {})
    assert _run(live, [*argv, "--alarm-name", ALARM], cfn=cfn) == 0
    assert cfn.calls == []
    assert _alias(live["lambda"]) == ("2", {})


def test_function_name_or_stack_required(live: dict[str, Any], project: Path) -> None:
    argv = ["deploy", "UserFunction", "--template", str(project / "template.yaml")]
    assert _run(live, argv) == 1
    assert _run(live, [*argv, "--alarm-name", ALARM]) == 1
    assert _run(live, ["status", "UserFunction"]) == 1


def test_main_deploys_create_transfer_function_from_the_repository_template(
    live: dict[str, Any], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """End to end on the real template.yaml: CreateTransferFunction is in the AccountCenter nested stack."""
    account = "arn:aws:cloudformation:us-east-1:123456789012:stack"
    nested_stack = f"{account}/bank-prod-AccountCenter-1QW2ER3TY4UI/5a6b7c8d-0000-4000-8000-000000000002"
    function = "bank-prod-AccountCenter-CreateTransferFunction-Zx9Yw8Vu7Ts6"
    alarm = "bank-prod-AccountCenter-1QW2ER3TY4UI-CreateTransferFunctionCanaryAlarm-8H7G6F5E4D3C"
    cfn = FakeCloudFormation(
        {
            ("bank-prod", "AccountCenter"): nested_stack,
            (nested_stack, "CreateTransferFunction"): function,
            (nested_stack, "CreateTransferFunctionCanaryAlarm"): alarm,
        }
    )
    lam = live["lambda"]
    lam.create_function(
        FunctionName=function,
        Runtime="python3.13",
        Role=live["role"],
        Handler="app.app",
        Code={"ZipFile": _zip({"app.py": "app = None\n"})},
    )
    _publish_live(lam, function)
    _canary_alarm(live["cloudwatch"], alarm, function)
    uploads: list[bytes] = []
    real_update = lam.update_function_code

    def spy(**kwargs: Any) -> Any:
        uploads.append(kwargs["ZipFile"])
        return real_update(**kwargs)

    monkeypatch.setattr(lam, "update_function_code", spy)
    waits: list[float] = []
    argv = [
        "deploy",
        "CreateTransferFunction",
        "--template",
        str(REPO / "template.yaml"),
        "--stack-name",
        "bank-prod",
        "--wait",
        "300",
    ]
    assert _run(live, argv, waits.append, cfn=cfn) == 0

    assert cfn.calls == [
        ("bank-prod", "AccountCenter"),
        (nested_stack, "CreateTransferFunction"),
        (nested_stack, "CreateTransferFunctionCanaryAlarm"),
    ]
    [zip_bytes] = uploads
    names = zipfile.ZipFile(io.BytesIO(zip_bytes)).namelist()
    assert "app.py" in names
    assert "account_center/__init__.py" in names
    assert {"account_center/api.py", "account_center/transfers.py", "account_center/store.py"} <= set(names)
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    other_centers = {top for top in (n.split("/")[0] for n in names) if top.endswith("_center")}
    assert other_centers == {"account_center"}
    assert zip_bytes == dp.package(REPO / "functions" / "account")
    assert waits == [300]
    assert lam.get_alias(FunctionName=function, Name="live")["FunctionVersion"] == "2"
    deployed = lam.get_function_configuration(FunctionName=function, Qualifier="2")
    assert deployed["CodeSha256"] == _sha(zip_bytes)
    events = _events(capsys.readouterr().out)
    assert {"event": "alarm", "alarm": alarm, "state": "OK", "percent": 10} in events
    assert [e["percent"] for e in events if e["event"] == "shift"] == [10, 100]


# --------------------------------------------------------------------------- rollback / status


def test_rollback_returns_alias_to_previous_version(
    live: dict[str, Any], project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lam = live["lambda"]
    argv = _deploy_argv(project)
    assert _run(live, argv) == 0
    (project / "functions" / "user" / "app.py").write_text("def handler(e, c):\n    return {'v': 3}\n")
    assert _run(live, argv) == 0
    assert _alias(lam) == ("3", {})
    capsys.readouterr()

    assert _run(live, ["rollback", "UserFunction", "--function-name", FN]) == 0
    assert _alias(lam) == ("2", {})
    assert _events(capsys.readouterr().out)[-1] == {
        "event": "rolled_back",
        "alias": "live",
        "from": "3",
        "to": "2",
        "weights": {},
    }
    assert _run(live, ["rollback", "UserFunction", "--function-name", FN]) == 0
    assert _alias(lam) == ("1", {})
    assert _run(live, ["rollback", "UserFunction", "--function-name", FN]) == 1  # nothing older than 1
    assert _run(live, ["rollback", "UserFunction", "--function-name", FN, "--to-version", "3"]) == 0
    assert _alias(lam) == ("3", {})


def test_rollback_mid_canary_drops_the_canary_only(live: dict[str, Any], project: Path) -> None:
    lam = live["lambda"]
    lam.update_function_code(FunctionName=FN, ZipFile=dp.package(project / "functions" / "user"))
    lam.publish_version(FunctionName=FN)
    lam.update_alias(
        FunctionName=FN,
        Name="live",
        FunctionVersion="1",
        RoutingConfig={"AdditionalVersionWeights": {"2": 0.1}},
    )
    assert dp.rollback(lam, function_name=FN, emit=lambda e: None) == "1"
    assert _alias(lam) == ("1", {})


def test_status_reports_alias_weights_and_versions(
    live: dict[str, Any], project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lam = live["lambda"]
    code = dp.package(project / "functions" / "user")
    lam.update_function_code(FunctionName=FN, ZipFile=code)
    lam.publish_version(FunctionName=FN)
    lam.update_alias(
        FunctionName=FN,
        Name="live",
        FunctionVersion="1",
        RoutingConfig={"AdditionalVersionWeights": {"2": 0.1}},
    )
    capsys.readouterr()
    assert _run(live, ["status", "UserFunction", "--function-name", FN]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["version"] == "1"
    assert out["weights"] == {"2": 0.1}
    assert [v["version"] for v in out["latest_versions"]] == ["2", "1"]
    assert out["latest_versions"][0]["code_sha256"] == _sha(code)


# --------------------------------------------------------------------------- packaging / template


def test_package_excludes_litter_and_is_deterministic(project: Path) -> None:
    code_dir = project / "functions" / "user"
    first = dp.package(code_dir)
    names = zipfile.ZipFile(io.BytesIO(first)).namelist()
    assert names == ["app.py", "pkg/__init__.py", "pkg/util.py"]
    assert dp.package(code_dir) == first
    os.utime(code_dir / "app.py", (1_900_000_000, 1_900_000_000))  # mtimes must not leak into the zip
    (code_dir / "app.py").chmod(0o755)
    assert dp.package(code_dir) == first


def test_package_refuses_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "__pycache__").mkdir()
    with pytest.raises(dp.DeployError, match="nothing to package"):
        dp.package(tmp_path)


def test_yaml_loader_handles_intrinsic_tags(project: Path) -> None:
    tpl = dp.load_template(project / "template.yaml")
    props = tpl["Resources"]["UserFunction"]["Properties"]
    assert props["FunctionName"] == {"Fn::Sub": "${AWS::StackName}-user"}
    assert props["Role"] == {"Fn::GetAtt": ["UserRole", "Arn"]}
    assert props["Environment"]["Variables"]["TABLE"] == {"Ref": "Table"}
    assert props["Environment"]["Variables"]["URL"] == {
        "Fn::Join": ["", ["https://", {"Ref": "Domain"}, "/x"]]
    }
    alarm = tpl["Resources"]["UserFunctionCanaryAlarm"]["Properties"]
    assert alarm["Dimensions"][0]["Value"] == {"Ref": "UserFunction"}
    assert alarm["Threshold"] == {"Fn::If": ["IsProd", 1, 5]}
    assert alarm["Tags"] == {"Fn::GetAtt": ["UserRole", "Tags"]}
    # the plain SafeLoader is untouched by our tag registration
    import yaml

    with pytest.raises(yaml.constructor.ConstructorError):
        yaml.safe_load("a: !Ref B")


def test_find_function_uses_properties_then_globals(project: Path) -> None:
    tpl = dp.load_template(project / "template.yaml")
    user = dp.find_function(tpl, "UserFunction", project)
    assert user.code_dir == (project / "functions" / "user").resolve()
    assert user.handler == "app.handler"  # from Globals
    shared = dp.find_function(tpl, "SharedFunction", project)
    assert shared.code_dir == (project / "functions" / "shared").resolve()  # CodeUri from Globals
    assert shared.handler == "worker.run"
    with pytest.raises(dp.DeployError, match="not AWS::Serverless::Function"):
        dp.find_function(tpl, "Table", project)
    with pytest.raises(dp.DeployError, match="not found"):
        dp.find_function(tpl, "Nope", project)
    assert user.nested_stack is None and shared.nested_stack is None


def test_find_function_in_nested_templates(project: Path) -> None:
    """Location/TemplateURL of a nested stack is relative to the root; CodeUri to the nested file; Globals
    are the nested file's own (the root's Handler app.handler and CodeUri functions/shared/ do not apply)."""
    tpl = dp.load_template(project / "template.yaml")
    transfer = dp.find_function(tpl, "TransferFunction", project)
    assert transfer == dp.FunctionSpec(
        "TransferFunction", (project / "functions" / "account").resolve(), "app.app", "AccountCenter"
    )
    reconcile = dp.find_function(tpl, "ReconcileFunction", project)  # CodeUri from the nested Globals
    assert reconcile.code_dir == (project / "functions" / "ledger").resolve()
    assert (reconcile.handler, reconcile.nested_stack) == ("app.reconcile", "AccountCenter")
    ops = dp.find_function(tpl, "OpsFunction", project)  # AWS::CloudFormation::Stack with a local TemplateURL
    assert (ops.code_dir, ops.handler, ops.nested_stack) == (
        (project / "functions" / "shared").resolve(),
        "worker.run",
        "OpsCenter",
    )
    with pytest.raises(dp.DeployError, match="TransferFunctionCanaryAlarm is AWS::CloudWatch::Alarm"):
        dp.find_function(tpl, "TransferFunctionCanaryAlarm", project)
    with pytest.raises(dp.DeployError, match="not found in template or its nested stacks"):
        dp.find_function(tpl, "Nope", project)
    # a Serverless Application Repository app and a remote TemplateURL have no local template to search
    assert [stack for stack, _ in dp.nested_templates(tpl, project)] == ["AccountCenter", "OpsCenter"]


def test_find_function_refuses_a_logical_id_in_two_templates(project: Path) -> None:
    ops = project / "stacks" / "ops.yaml"
    ops.write_text(OPS_TEMPLATE + "  TransferFunction:\n    Type: AWS::Serverless::Function\n")
    tpl = dp.load_template(project / "template.yaml")
    with pytest.raises(dp.DeployError, match="TransferFunction is declared in more than one template") as exc:
        dp.find_function(tpl, "TransferFunction", project)
    assert "nested stack AccountCenter" in str(exc.value) and "nested stack OpsCenter" in str(exc.value)

    ops.write_text(OPS_TEMPLATE + "  UserFunction:\n    Type: AWS::Serverless::Function\n")
    with pytest.raises(dp.DeployError, match="UserFunction is declared in more than one template") as exc:
        dp.find_function(tpl, "UserFunction", project)
    assert "root template" in str(exc.value) and "nested stack OpsCenter" in str(exc.value)
    assert dp.find_function(tpl, "OpsFunction", project).nested_stack == "OpsCenter"  # others still resolve


def test_find_function_refuses_a_missing_nested_template(project: Path) -> None:
    (project / "stacks" / "ops.yaml").unlink()
    tpl = dp.load_template(project / "template.yaml")
    with pytest.raises(dp.DeployError, match="nested stack OpsCenter: template .*ops.yaml does not exist"):
        dp.find_function(tpl, "UserFunction", project)


def test_find_function_in_the_repository_template() -> None:
    tpl = dp.load_template(REPO / "template.yaml")
    spec = dp.find_function(tpl, "CreateTransferFunction", REPO)
    assert spec == dp.FunctionSpec(
        "CreateTransferFunction", (REPO / "functions" / "account").resolve(), "app.app", "AccountCenter"
    )
    assert dp.find_function(tpl, "AuthorizerFunction", REPO).nested_stack == "AuthCenter"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("10,100", [10, 100]), ("10", [10, 100]), ("100", [100]), ("1, 5,50", [1, 5, 50, 100])],
)
def test_parse_steps(text: str, expected: list[int]) -> None:
    assert dp.parse_steps(text) == expected


@pytest.mark.parametrize("text", ["", "50,10", "0,100", "10,10,100", "101", "ten"])
def test_parse_steps_rejects(text: str) -> None:
    with pytest.raises(dp.DeployError):
        dp.parse_steps(text)


def test_alarm_window_of_a_metric_math_alarm() -> None:
    """The canary alarms are metric math: their window comes from their metrics' periods."""
    alarm = {"EvaluationPeriods": 2, "Metrics": [
        {"Id": "errors", "MetricStat": {"Period": 60, "Stat": "Sum", "Metric": {}}},
        {"Id": "p99", "MetricStat": {"Period": 120, "Stat": "p99", "Metric": {}}},
        {"Id": "unhealthy", "Expression": "errors + p99"}]}
    assert dp.alarm_period(alarm) * alarm["EvaluationPeriods"] == 240
    assert dp.alarm_period({"Period": 300}) == 300
