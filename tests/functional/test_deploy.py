"""infra.deploy against moto: canary shift, alarm rollback, rollback/status, packaging, template."""

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
from moto import mock_aws

from infra import deploy as dp

REGION = "us-east-1"
FN = "bank-user"
ALARM = f"{FN}-errors"  # the no-stack default convention

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
  UserErrorsAlarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      AlarmName: !Sub "${AWS::StackName}-UserFunction-errors"
      Dimensions:
        - Name: FunctionName
          Value: !Ref UserFunction
      Threshold: !If [IsProd, 1, 5]
      Tags: !GetAtt [UserRole, Tags]
  Table:
    Type: AWS::DynamoDB::Table
"""


def _zip(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, body in files.items():
            zf.writestr(name, body)
    return buf.getvalue()


def _sha(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A tiny SAM project: template + CodeUri folder with build/test litter to exclude."""
    (tmp_path / "template.yaml").write_text(TEMPLATE)
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
    """Function bank-user with version 1 behind alias live, plus its OK errors alarm."""
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


def _run(aws: dict[str, Any], argv: list[str], sleep: Any = lambda s: None) -> int:
    return dp.main(argv, clients=lambda service, region: aws[service], sleep=sleep)


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

    argv = ["deploy", "UserFunction", "--template", str(project / "template.yaml"), "--function-name", FN]
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
    argv = ["deploy", "UserFunction", "--template", str(project / "template.yaml"), "--function-name", FN]
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

    argv = ["deploy", "UserFunction", "--template", str(project / "template.yaml"), "--function-name", FN]
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
    argv = ["deploy", "UserFunction", "--template", str(project / "template.yaml"), "--function-name", FN]

    assert _run(live, argv) == 1
    assert "alarm bank-user-errors not found" in capsys.readouterr().err
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
    argv = ["deploy", "UserFunction", "--template", str(project / "template.yaml"), "--function-name", FN]
    assert _run(live, argv) == 1
    assert _alias(live["lambda"]) == ("1", {})


def test_handler_mismatch_refuses(live: dict[str, Any], project: Path) -> None:
    (project / "template.yaml").write_text(TEMPLATE.replace("Handler: app.handler", "Handler: pkg.util.main"))
    argv = ["deploy", "UserFunction", "--template", str(project / "template.yaml"), "--function-name", FN]
    assert _run(live, argv) == 1
    assert _alias(live["lambda"]) == ("1", {})


def test_handler_module_must_be_packaged(project: Path) -> None:
    code = dp.package(project / "functions" / "user")
    dp.check_handler_packaged("app.handler", code)
    dp.check_handler_packaged("pkg.util.main", code)
    with pytest.raises(dp.DeployError, match="missing.py is not in the package"):
        dp.check_handler_packaged("missing.handler", code)


def test_stack_name_resolves_function_and_template_alarm_name(live: dict[str, Any], project: Path) -> None:
    """--stack-name: physical name from CloudFormation, alarm `<stack>-<LogicalId>-errors`."""
    cfn_template = {
        "Resources": {
            "UserFunction": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "FunctionName": "bank-stack-user",
                    "Runtime": "python3.13",
                    "Handler": "app.handler",
                    "Role": live["role"],
                    "Code": {"ZipFile": "def handler(e, c):\n    return 1\n"},
                },
            }
        }
    }
    live["cloudformation"].create_stack(StackName="bank", TemplateBody=json.dumps(cfn_template))
    assert dp.resolve_function_name(
        live["cloudformation"], "UserFunction", function_name=None, stack_name="bank"
    ) == ("bank-stack-user")
    lam = live["lambda"]
    lam.publish_version(FunctionName="bank-stack-user")
    lam.create_alias(FunctionName="bank-stack-user", Name="live", FunctionVersion="1")
    argv = ["deploy", "UserFunction", "--template", str(project / "template.yaml"), "--stack-name", "bank"]
    assert _run(live, argv) == 1  # bank-UserFunction-errors does not exist yet
    live["cloudwatch"].put_metric_alarm(
        AlarmName="bank-UserFunction-errors",
        Namespace="AWS/Lambda",
        MetricName="Errors",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    assert _run(live, argv) == 0
    assert lam.get_alias(FunctionName="bank-stack-user", Name="live")["FunctionVersion"] == "2"


def test_function_name_or_stack_required(live: dict[str, Any], project: Path) -> None:
    argv = ["deploy", "UserFunction", "--template", str(project / "template.yaml")]
    assert _run(live, argv) == 1


# --------------------------------------------------------------------------- rollback / status


def test_rollback_returns_alias_to_previous_version(
    live: dict[str, Any], project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lam = live["lambda"]
    argv = ["deploy", "UserFunction", "--template", str(project / "template.yaml"), "--function-name", FN]
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
    alarm = tpl["Resources"]["UserErrorsAlarm"]["Properties"]
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
